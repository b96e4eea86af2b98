/* The counter console: my counter's queues live, my current ticket with a timer, every action
 * by button and by key. Every change goes through the REST API with expected_version, so a
 * ticket someone else changed meanwhile is refused (ticket.changed) and the view refreshes. */
"use strict";

(() => {
  const { api, say, explain, el, hhmm, mmss, statusLabel } = Console;
  const state = {
    who: null,
    counters: {},
    services: {},
    counter: null, // my counter (from GET /counters)
    queues: {}, // service id -> GET /services/{id}/queue
    current: null, // GET /tickets/{id} of my counter's current ticket
    selected: null, // a row picked in the lists (id)
    rows: [], // rows in screen order, for arrow-key selection
    socket: null,
    refreshing: null,
    again: false,
    printers: null,
    pairing: null,
  };

  /* ------------------------------------------------------------ keys and actions */

  const KEYS = {
    n: ["call-next", "叫下一位 Call next"],
    r: ["recall", "重呼 Recall"],
    s: ["start", "开始 Start"],
    f: ["finish", "完成 Finish"],
    m: ["no-show", "过号 No-show"],
    e: ["send-for-tests", "去检查 Send for tests"],
    t: ["transfer", "转诊 Transfer…"],
    b: ["return", "回队 Return (selected)"],
    g: ["call-selected", "呼叫所选 Call selected"],
    c: ["cancel", "取消 Cancel…"],
    o: ["open", "开放 Open counter"],
    p: ["paused", "暂停 Pause counter"],
    l: ["closed", "关闭 Close counter"],
  };
  const ON_CURRENT = new Set(["recall", "start", "finish", "no-show", "send-for-tests"]);

  function target(action) {
    // Counter actions work on my current ticket; return / call-selected on the picked row;
    // transfer and cancel on the picked row when there is one, else on the current ticket.
    const picked = state.selected ? findRow(state.selected) : null;
    if (ON_CURRENT.has(action)) return state.current;
    if (action === "return" || action === "call-selected") return picked;
    return picked || state.current;
  }

  function findRow(id) {
    for (const q of Object.values(state.queues)) {
      for (const list of [q.waiting, q.missed, q.on_leave, q.at_counters, q.registered]) {
        const hit = (list || []).find((r) => r.id === id);
        if (hit) return Object.assign({ service_id: q.service.id }, hit);
      }
    }
    return null;
  }

  /* Everything that changes something runs in one queue, each step with the refresh that
   * follows it: a key or click (or a confirmed dialog) is judged and sent only when the steps
   * before it are done and drawn, so quick presses act on what the previous one left and a
   * version sent is never older than the page's own last change. */
  let chain = Promise.resolve();
  let pending = 0;
  function enqueue(what, step) {
    pending += 1;
    document.body.dataset.busy = "1";
    chain = chain.then(step).catch((e) => say(explain(e, what), "error")).finally(() => {
      pending -= 1;
      if (!pending) document.body.dataset.busy = "0";
    });
    return chain;
  }

  function run(action) {
    return enqueue(action, () => perform(action));
  }

  /* Whether an action makes sense on the state drawn now (the buttons show the same). */
  function possible(action) {
    if (ON_CURRENT.has(action)) {
      return ((state.current && state.current.allowed_actions) || []).includes(action.replace(/-/g, "_"));
    }
    if (action === "open" || action === "paused" || action === "closed") return state.counter.state !== action;
    if (action === "call-next") return state.counter.state === "open";
    return true;
  }

  async function perform(action) {
    if (!state.counter) return;
    const label = (Object.values(KEYS).find(([a]) => a === action) || [action, action])[1];
    if (ON_CURRENT.has(action) && !state.current) return say("当前没有患者 — no current ticket", "error");
    if (!possible(action)) return say(label + "：当前不可用 — not possible now", "error");
    if (["open", "paused", "closed"].includes(action)) return setCounter(action);
    if (action === "call-next") return callNext();
    const t = target(action);
    if (!t) {
      say(action === "return" || action === "call-selected"
        ? "请先用 ↑/↓ 选择一个号 — select a ticket with ↑/↓ first"
        : "当前没有患者 — no current ticket", "error");
      return;
    }
    if (action === "transfer") return openTransfer(t);
    if (action === "cancel") return openCancel(t);
    if (action === "call-selected") return callTicket(t);
    return act(action, t);
  }

  async function act(verb, t, extra) {
    const body = Object.assign({ expected_version: t.version, counter_id: state.counter.id }, extra || {});
    try {
      const res = await api("POST", "/tickets/" + t.id + "/" + verb, body);
      if (state.current && state.current.id === res.id) Object.assign(state.current, res);
      say(res.number + " → " + statusLabel(res.status) + " (" + verb + ")", "ok");
      if (state.selected === t.id) state.selected = null; // a selection is used once
    } catch (e) {
      say(explain(e, t.number + " " + verb), "error");
    }
    await refresh();
  }

  async function callNext() {
    try {
      const res = await api("POST", "/counters/" + state.counter.id + "/call-next");
      const fin = res.finished ? "（已完成 " + res.finished.number + " finished）" : "";
      say("已呼叫 " + res.ticket.number + " called " + fin, "ok");
      state.selected = null;
    } catch (e) {
      const fin = e.details && e.details.finished ? "（已完成 " + e.details.finished.number + " finished）" : "";
      say(explain(e, "叫号 call next") + fin, "error");
    }
    await refresh();
  }

  async function callTicket(t) {
    try {
      const res = await api("POST", "/tickets/" + t.id + "/call", { counter_id: state.counter.id });
      say("已呼叫 " + res.ticket.number + " called", "ok");
      state.selected = null;
    } catch (e) {
      say(explain(e, t.number + " call"), "error");
    }
    await refresh();
  }

  async function setCounter(next) {
    try {
      const res = await api("POST", "/counters/" + state.counter.id + "/state", { state: next });
      say(state.counter.name.zh + " " + res.previous + " → " + res.state, "ok");
    } catch (e) {
      say(explain(e, "窗口 counter"), "error");
    }
    await refresh();
  }

  /* ------------------------------------------------------------ dialogs */

  function openTransfer(t) {
    const dlg = document.getElementById("transfer");
    const svc = dlg.querySelector("[name=service_id]");
    svc.replaceChildren(...Object.values(state.services)
      .filter((s) => s.id !== t.service_id)
      .map((s) => el("option", { value: s.id, text: s.name.zh + " " + s.name.en })));
    dlg.querySelector(".what").textContent = t.number;
    dlg.dataset.ticket = t.id;
    dlg.dataset.version = t.version;
    dlg.showModal();
    svc.focus();
  }

  function openCancel(t) {
    const dlg = document.getElementById("cancel");
    dlg.querySelector(".what").textContent = t.number;
    dlg.dataset.ticket = t.id;
    dlg.dataset.version = t.version;
    dlg.showModal();
    dlg.querySelector("button[value=yes]").focus();
  }

  function wireDialogs() {
    const tr = document.getElementById("transfer");
    tr.querySelector("form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const form = ev.target;
      if (ev.submitter && ev.submitter.value === "no") return tr.close();
      tr.close();
      const id = Number(tr.dataset.ticket);
      if (state.selected === id) state.selected = null;
      const body = {
        service_id: form.querySelector("[name=service_id]").value,
        position: form.querySelector("[name=position]").value,
        expected_version: Number(tr.dataset.version),
      };
      enqueue("转诊 transfer", async () => {
        try {
          const res = await api("POST", "/tickets/" + id + "/transfer", body);
          say(res.ticket.number + " 已转诊 transferred → " + res.ticket.service_id + " (" + body.position + ")", "ok");
        } catch (e) {
          say(explain(e, "转诊 transfer"), "error");
        }
        await refresh();
      });
    });
    // Enter anywhere in the form confirms (a select swallows Enter otherwise).
    tr.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); tr.querySelector("form").requestSubmit(tr.querySelector("button[value=yes]")); }
    });
    const cn = document.getElementById("cancel");
    cn.querySelector("form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      cn.close();
      if (!ev.submitter || ev.submitter.value !== "yes") return;
      const t = { id: Number(cn.dataset.ticket), version: Number(cn.dataset.version), number: cn.querySelector(".what").textContent };
      enqueue("取消 cancel", () => act("cancel", t));
    });
  }

  /* ------------------------------------------------------------ loading and drawing */

  /* One load at a time. A call made while a load runs asks for one more, started after it:
   * the promise returned settles only once a load begun after the call is drawn. The loop's
   * exit and the reset of `refreshing` happen in one step, so no request is ever dropped. */
  function refresh() {
    state.again = true;
    if (!state.refreshing) {
      document.body.dataset.loading = "1"; // "0" once idle: nothing on the way from the server
      state.refreshing = (async () => {
        try {
          while (state.again) {
            state.again = false;
            try {
              apply(await load());
            } catch (e) {
              say(explain(e, "刷新 refresh"), "error");
            }
          }
        } finally {
          state.refreshing = null;
          document.body.dataset.loading = "0";
        }
      })();
    }
    return state.refreshing;
  }

  /* Fetch my counter, its queues and its current ticket into a new snapshot; the page's
   * state is untouched until every part has arrived (see apply). */
  async function load() {
    const sids = state.counter.services;
    const [counters, ...queues] = await Promise.all([
      api("GET", "/counters"),
      ...sids.map((sid) => api("GET", "/services/" + encodeURIComponent(sid) + "/queue")),
    ]);
    const snap = { counters: {}, queues: {}, counter: null, current: null };
    counters.counters.forEach((c) => { snap.counters[c.id] = c; });
    snap.counter = snap.counters[state.counter.id];
    queues.forEach((q) => { snap.queues[q.service.id] = q; });
    const cur = snap.counter.current_ticket;
    if (cur) {
      try {
        snap.current = await api("GET", "/tickets/" + cur.id);
      } catch (e) {
        if (!(e instanceof Console.ApiError && e.status === 404)) throw e;
      }
    }
    return snap;
  }

  /* Swap a whole snapshot in and draw it, with no await in between: an action (which runs
   * between two tasks) always sees one consistent state, never a half-loaded one. */
  function apply(snap) {
    Object.assign(state.counters, snap.counters);
    state.counter = snap.counter;
    state.queues = snap.queues;
    state.current = snap.current;
    draw();
  }

  function draw() {
    const c = state.counter;
    document.body.dataset.counterState = c.state;
    const badge = document.getElementById("counter-state");
    badge.textContent = { open: "开放 open", paused: "暂停 paused", closed: "关闭 closed" }[c.state] || c.state;
    badge.className = "badge " + c.state;
    document.getElementById("counter-name").textContent = c.name.zh + " " + c.name.en;
    drawCurrent();
    drawQueues();
    drawButtons();
  }

  function drawCurrent() {
    const t = state.current;
    const box = document.getElementById("current");
    box.dataset.ticket = t ? t.id : "";
    box.dataset.number = t ? t.number : "";
    box.dataset.status = t ? t.status : "";
    document.getElementById("cur-number").textContent = t ? t.number : "—";
    document.getElementById("cur-name").textContent = t ? (t.masked_name || "") : "无当前患者 no current patient";
    document.getElementById("cur-status").textContent = t ? statusLabel(t.status) : "";
    document.getElementById("cur-priority").textContent = t && t.priority !== "normal"
      ? t.priority + (t.priority_confirmed ? "" : " (未核实 unconfirmed)") : "";
    tick();
  }

  function tick() {
    const t = state.current;
    const timer = document.getElementById("cur-timer");
    timer.textContent = t && t.called_at ? mmss((Date.now() - new Date(t.called_at).getTime()) / 1000) : "";
  }

  function drawButtons() {
    document.querySelectorAll("button[data-action]").forEach((b) => { b.disabled = !possible(b.dataset.action); });
  }

  function row(r, kind) {
    const cls = ["row", kind];
    if (r.sla_breach) cls.push("sla");
    if (state.selected === r.id) cls.push("selected");
    if (r.needs_review) cls.push("review");
    const name = r.masked_name || "";
    const prio = r.priority === "normal" ? "" : r.priority + (r.priority_confirmed ? "" : " ?");
    const tr = el("tr", {
      class: cls.join(" "),
      dataset: { id: r.id, number: r.number, status: r.status, version: r.version, kind },
      onclick: () => { state.selected = state.selected === r.id ? null : r.id; draw(); },
    },
    el("td", { text: r.position !== null && r.position !== undefined ? r.position + 1 : "" }),
    el("td", { class: "num", text: r.number }),
    el("td", { text: name }),
    el("td", { text: prio }),
    el("td", { text: r.appointment_at ? hhmm(r.appointment_at) : "" }),
    el("td", { class: "wait", text: r.waited_min + " 分" }),
    el("td", { text: statusLabel(r.status) + (r.at_door ? " @" + r.at_door : "") + (r.counter_id && kind === "at" ? " @" + r.counter_id : "") }));
    state.rows.push(r.id);
    return tr;
  }

  function section(title, rows, kind) {
    if (!rows.length) return null;
    return el("tbody", { class: "sect " + kind },
      el("tr", { class: "head" }, el("th", { colspan: 7, text: title + " (" + rows.length + ")" })),
      ...rows.map((r) => row(r, kind)));
  }

  function drawQueues() {
    const root = document.getElementById("queues");
    state.rows = [];
    const parts = [];
    for (const sid of state.counter.services) {
      const q = state.queues[sid];
      if (!q) continue;
      const table = el("table", { class: "queue", dataset: { service: sid } },
        el("caption", {},
          el("span", { class: "svc", text: q.service.name.zh + " " + q.service.name.en }),
          " 目标 target " + q.service.target_wait_minutes + " 分 · 等候 waiting " + q.waiting.length +
          (q.sla_breaches ? " · 超时 over target " + q.sla_breaches : "")),
        el("thead", {}, el("tr", {}, ...["#", "号 No.", "姓名 Name", "优先 Priority", "预约 Appt", "已等 Waited", "状态 State"].map((h) => el("th", { text: h })))),
        section("等候 Waiting", q.waiting, "waiting"),
        section("过号 Missed", q.missed, "missed"),
        section("检查中 On leave for tests", q.on_leave, "on_leave"),
        section("窗口中 At counters", q.at_counters, "at"));
      parts.push(table);
    }
    Console.sync(root, parts);
    if (state.selected && !state.rows.includes(state.selected)) state.selected = null;
    document.getElementById("selected").textContent = state.selected
      ? "已选 selected: " + (findRow(state.selected) || {}).number : "";
  }

  function moveSelection(step) {
    if (!state.rows.length) return;
    let i = state.rows.indexOf(state.selected);
    i = i < 0 ? (step > 0 ? 0 : state.rows.length - 1) : Math.min(state.rows.length - 1, Math.max(0, i + step));
    state.selected = state.rows[i];
    draw();
    const tr = document.querySelector("tr.row.selected");
    if (tr) tr.scrollIntoView({ block: "nearest" });
  }

  /* ------------------------------------------------------------ events */

  function onEvent(name, data) {
    if (name === "printer.status") { if (state.printers) state.printers.onStatus(data); return; }
    if (name === "ticket.called" && data.counter && data.ticket) {
      const log = document.getElementById("calls");
      log.prepend(el("li", { text: hhmm(new Date().toISOString()) + " " + data.ticket.number + " → " + data.counter.name + (data.recall ? " (重呼 recall)" : "") }));
      while (log.children.length > 8) log.lastChild.remove();
    }
    refresh();
  }

  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    if (Console.isTyping(ev)) return;
    if (!state.counter) return;
    if (ev.key === "ArrowDown" || ev.key === "j") { ev.preventDefault(); return moveSelection(1); }
    if (ev.key === "ArrowUp" || ev.key === "k") { ev.preventDefault(); return moveSelection(-1); }
    if (ev.key === "Escape") { state.selected = null; return draw(); }
    if (ev.key === "?") { const h = document.getElementById("help"); h.open = !h.open; return; }
    if (ev.key === "d" || ev.key === "D") { ev.preventDefault(); return state.pairing.focus(); }
    const hit = KEYS[ev.key.toLowerCase()];
    if (!hit) return;
    ev.preventDefault();
    run(hit[0]); // judged when its turn comes (perform), on what the steps before it left
  }

  /* ------------------------------------------------------------ start-up */

  function buildButtons() {
    const bar = document.getElementById("actions");
    const help = document.getElementById("keys");
    for (const [key, [action, label]] of Object.entries(KEYS)) {
      const b = el("button", { type: "button", dataset: { action }, title: "快捷键 key " + key.toUpperCase(), onclick: () => run(action) },
        el("kbd", { text: key.toUpperCase() }), " " + label);
      (["open", "paused", "closed"].includes(action) ? document.getElementById("counter-actions") : bar).append(b);
      help.append(el("li", {}, el("kbd", { text: key.toUpperCase() }), " " + label));
    }
    for (const [k, label] of [["↑ ↓ / J K", "选择号 select a ticket"], ["Esc", "取消选择 clear selection"], ["?", "快捷键说明 this help"], ["D", "设备配对 pair a device"]]) {
      help.append(el("li", {}, el("kbd", { text: k }), " " + label));
    }
  }

  async function chooseCounter() {
    const params = new URLSearchParams(location.search);
    const wanted = params.get("counter") || localStorage.getItem("console.counter");
    const all = (await api("GET", "/counters")).counters;
    all.forEach((c) => { state.counters[c.id] = c; });
    if (wanted && state.counters[wanted]) return state.counters[wanted];
    const form = document.getElementById("choose");
    const sel = form.querySelector("select");
    sel.replaceChildren(...all.map((c) => el("option", { value: c.id, text: c.name.zh + " " + c.name.en + " (" + c.services.join(", ") + ")" })));
    form.hidden = false;
    sel.focus();
    return new Promise((resolve) => {
      const pick = (ev) => {
        if (ev) ev.preventDefault();
        sel.blur(); // keys go to the console now, not to the hidden list
        form.hidden = true;
        resolve(state.counters[sel.value]);
      };
      form.addEventListener("submit", pick);
      sel.addEventListener("keydown", (ev) => { if (ev.key === "Enter") pick(ev); });
    });
  }

  async function start() {
    buildButtons();
    wireDialogs();
    document.getElementById("logout").addEventListener("click", Console.logout);
    state.who = await Console.requireLogin();
    state.pairing = Console.pairingPanel(document.getElementById("pairing"));
    (await api("GET", "/services")).services.forEach((s) => { state.services[s.id] = s; });
    state.counter = await chooseCounter();
    localStorage.setItem("console.counter", state.counter.id);
    document.getElementById("switch").addEventListener("click", () => {
      localStorage.removeItem("console.counter");
      location.href = location.pathname;
    });
    document.getElementById("main").hidden = false;
    state.printers = Console.printersPanel(document.getElementById("printers"));
    Console.labReprintForm(document.getElementById("lab-reprint"));
    document.getElementById("tools").addEventListener("toggle", (ev) => { if (ev.target.open) state.printers.load(); });
    await refresh();
    state.socket = Console.connect(state.counter.services, onEvent);
    document.addEventListener("keydown", onKey);
    setInterval(tick, 1000);
    document.body.dataset.ready = "1";
    say("就绪 ready — " + state.counter.name.zh + "。按 N 叫下一位 (press N to call next, ? for keys)", "info");
  }

  start().catch((e) => say(explain(e, "启动 start"), "error"));
})();
