/* The nurse / triage desk of a clinic zone: doors with their caps, manual release, reorder
 * with a reason, walk-in registration, review of self-declared priorities. Live on /staff. */
"use strict";

(() => {
  const { api, say, explain, el, hhmm, statusLabel } = Console;
  const state = { services: [], all: {}, queues: {}, counters: {}, refreshing: null, again: false, printers: null };

  /* ------------------------------------------------------------ zone */

  async function chooseZone() {
    const params = new URLSearchParams(location.search);
    if (params.get("services")) return params.get("services").split(",").filter((s) => state.all[s]);
    const displays = (await api("GET", "/displays")).displays;
    const wanted = params.get("zone") || localStorage.getItem("console.zone");
    const zone = displays.find((d) => d.id === wanted);
    if (zone) {
      localStorage.setItem("console.zone", zone.id);
      return zone.services;
    }
    const form = document.getElementById("choose");
    const sel = form.querySelector("select");
    sel.replaceChildren(...displays.map((d) => el("option", { value: d.id, text: d.name + " (" + d.services.join(", ") + ")" })));
    form.hidden = false;
    sel.focus();
    return new Promise((resolve) => {
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        sel.blur();
        form.hidden = true;
        localStorage.setItem("console.zone", sel.value);
        resolve(displays.find((d) => d.id === sel.value).services);
      });
    });
  }

  /* ------------------------------------------------------------ load and draw */

  /* One load at a time; a call during a load asks for one more, begun after it, and its
   * promise settles once that one is drawn. The loop's exit and the reset of `refreshing`
   * are one step, so no request is dropped. State is swapped whole, with no await between. */
  function refresh() {
    state.again = true;
    if (!state.refreshing) {
      document.body.dataset.loading = "1"; // "0" once idle: nothing on the way from the server
      state.refreshing = (async () => {
        try {
          while (state.again) {
            state.again = false;
            try {
              const [queues, counters] = await Promise.all([
                Promise.all(state.services.map((sid) => api("GET", "/services/" + encodeURIComponent(sid) + "/queue"))),
                api("GET", "/counters"),
              ]);
              state.queues = {};
              queues.forEach((q) => { state.queues[q.service.id] = q; });
              state.counters = {};
              counters.counters.forEach((c) => { state.counters[c.id] = c; });
              draw();
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

  function ticketById(id) {
    for (const q of Object.values(state.queues)) {
      const hit = q.waiting.find((r) => r.id === id);
      if (hit) return Object.assign({ service_id: q.service.id }, hit);
    }
    return null;
  }

  function draw() {
    drawDoors();
    drawQueues();
  }

  function drawDoors() {
    const root = document.getElementById("doors");
    const seen = new Set();
    const cards = [];
    for (const q of Object.values(state.queues)) {
      for (const d of q.counters) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        const c = state.counters[d.id] || {};
        const slots = [];
        d.at_door_ids.forEach((id, i) => {
          const t = ticketById(id);
          slots.push(el("span", { class: "slot full" + (i >= d.door_cap ? " over" : ""), dataset: { id, version: t ? t.version : "" } },
            d.at_door[i],
            el("button", { type: "button", class: "mini", title: "回队 back to line", onclick: () => doorLeave(t || { id, number: d.at_door[i] }) }, "回队")));
        });
        for (let i = d.at_door_ids.length; i < d.door_cap; i++) slots.push(el("span", { class: "slot", text: "空 free" }));
        const cur = c.current_ticket;
        cards.push(el("div", { class: "door " + d.state, dataset: { counter: d.id, atDoor: d.at_door_ids.length, cap: d.door_cap } },
          el("h3", {}, d.name.zh + " " + d.name.en + " ", el("span", { class: "badge " + d.state, text: d.state })),
          c.doctor ? el("div", { class: "hint", text: c.doctor.name + " " + (c.doctor.title || "") }) : null,
          el("div", { text: "门口上限 door cap " + d.door_cap + " · 门口 at door " + d.at_door_ids.length }),
          el("div", { class: "slots" }, ...slots),
          el("div", { class: "hint", text: "诊室内 inside: " + (cur ? cur.number + " (" + cur.status + ")" : "—") }),
          el("button", { type: "button", dataset: { release: d.id }, onclick: () => release(d.id) }, "放行下一位到门口 Release next to door")));
      }
    }
    Console.sync(root, cards);
  }

  function drawQueues() {
    const root = document.getElementById("queues");
    const tables = [];
    for (const sid of state.services) {
      const q = state.queues[sid];
      if (!q) continue;
      const rows = q.waiting.map((r) => {
        const cls = ["row", "waiting"];
        if (r.sla_breach) cls.push("sla");
        if (r.needs_review) cls.push("review");
        const review = r.needs_review ? [
          el("button", { type: "button", class: "mini", dataset: { confirm: r.id }, onclick: () => reviewPriority(r, true) }, "核实 Confirm"),
          el("button", { type: "button", class: "mini", dataset: { revoke: r.id }, onclick: () => reviewPriority(r, false) }, "撤销 Revoke"),
        ] : [];
        return el("tr", { class: cls.join(" "), dataset: { id: r.id, number: r.number, version: r.version } },
          el("td", { text: r.position !== null ? r.position + 1 : "手动 manual" }),
          el("td", { class: "num", text: r.number }),
          el("td", { text: r.masked_name || "" }),
          el("td", {}, r.priority === "normal" ? "" : r.priority + (r.priority_confirmed ? "" : " (自报 self-declared)"), ...review),
          el("td", { text: r.appointment_at ? hhmm(r.appointment_at) : "" }),
          el("td", { class: "wait", text: r.waited_min + " 分" }),
          el("td", { text: statusLabel(r.status) + (r.at_door ? " @" + r.at_door : "") }),
          el("td", {},
            r.at_door ? null : el("button", { type: "button", class: "mini", dataset: { move: r.id }, onclick: () => openReorder(q, r) }, "移动 Move"),
            r.at_door ? null : el("button", { type: "button", class: "mini", dataset: { todoor: r.id }, onclick: () => toDoor(q, r) }, "到门口 To door")));
      });
      tables.push(el("table", { class: "queue", dataset: { service: sid } },
        el("caption", {}, el("span", { class: "svc", text: q.service.name.zh + " " + q.service.name.en }),
          " 目标 target " + q.service.target_wait_minutes + " 分 · 等候 waiting " + q.waiting.length +
          (q.sla_breaches ? " · 超时 over target " + q.sla_breaches : "") +
          (q.missed.length ? " · 过号 missed " + q.missed.map((m) => m.number).join(" ") : "") +
          (q.on_leave.length ? " · 检查中 on leave " + q.on_leave.map((m) => m.number).join(" ") : "")),
        el("thead", {}, el("tr", {}, ...["#", "号 No.", "姓名 Name", "优先 Priority", "预约 Appt", "已等 Waited", "状态 State", ""].map((h) => el("th", { text: h })))),
        el("tbody", {}, ...rows)));
    }
    Console.sync(root, tables);
  }

  /* ------------------------------------------------------------ actions */

  function askReason(title, required) {
    const dlg = document.getElementById("reason");
    dlg.querySelector(".what").textContent = title;
    const input = dlg.querySelector("[name=reason]");
    input.value = "";
    input.required = !!required;
    dlg.showModal();
    input.focus();
    return new Promise((resolve) => {
      const form = dlg.querySelector("form");
      const done = (ev) => {
        ev.preventDefault();
        form.removeEventListener("submit", done);
        dlg.removeEventListener("cancel", cancel);
        dlg.close();
        resolve(ev.submitter && ev.submitter.value === "no" ? null : input.value.trim());
      };
      const cancel = () => { form.removeEventListener("submit", done); resolve(null); };
      form.addEventListener("submit", done);
      dlg.addEventListener("cancel", cancel, { once: true });
    });
  }

  async function doIt(what, fn) {
    try {
      const res = await fn();
      say(what + " ✓", "ok");
      return res;
    } catch (e) {
      say(explain(e, what), "error");
      return null;
    } finally {
      await refresh();
    }
  }

  async function release(counterId) {
    const reason = await askReason("放行下一位到 " + counterId + " 门口 Release next to the door", false);
    if (reason === null) return;
    await doIt("放行 release " + counterId, () => api("POST", "/counters/" + counterId + "/door-release", { reason: reason || undefined }));
  }

  async function toDoor(q, r) {
    const doors = q.counters.filter((c) => c.state !== "closed");
    const counter = doors.length ? doors[0] : q.counters[0];
    if (!counter) return say("该服务没有诊室 — no room serves this service", "error");
    const reason = await askReason(r.number + " 到 " + counter.name.zh + " 门口 to the door", false);
    if (reason === null) return;
    await doIt(r.number + " → " + counter.id, () => api("POST", "/counters/" + counter.id + "/door-release", { ticket_id: r.id, reason: reason || undefined }));
  }

  async function doorLeave(t) {
    const reason = await askReason((t.number || "") + " 回到队列 back to the line", false);
    if (reason === null) return;
    await doIt((t.number || "") + " 回队 back to line", () => api("POST", "/tickets/" + t.id + "/door-leave", { reason: reason || undefined, expected_version: t.version }));
  }

  async function reviewPriority(r, confirm) {
    const reason = await askReason(r.number + (confirm ? " 核实优先 confirm " : " 撤销优先 revoke ") + r.priority, !confirm);
    if (reason === null) return;
    await doIt(r.number + (confirm ? " 已核实 confirmed" : " 已撤销 revoked"), () => api("POST", "/tickets/" + r.id + "/confirm-priority", {
      confirm, reason: reason || undefined, expected_version: r.version,
    }));
  }

  function openReorder(q, r) {
    const dlg = document.getElementById("reorder");
    dlg.querySelector(".what").textContent = r.number;
    const sel = dlg.querySelector("[name=before]");
    const same = q.waiting.filter((o) => o.id !== r.id && !o.at_door && o.auto_call && o.priority === r.priority);
    sel.replaceChildren(
      el("option", { value: "front", text: "队首 front of its class" }),
      ...same.map((o) => el("option", { value: String(o.id), text: "在 " + o.number + " 之前 before " + o.number })),
      el("option", { value: "end", text: "队尾 end of the line" }));
    dlg.querySelector("[name=reason]").value = "";
    dlg.dataset.ticket = r.id;
    dlg.dataset.version = r.version;
    dlg.dataset.number = r.number;
    dlg.showModal();
    sel.focus();
  }

  function wire() {
    const dlg = document.getElementById("reorder");
    dlg.querySelector("form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (ev.submitter && ev.submitter.value === "no") return dlg.close();
      const reason = dlg.querySelector("[name=reason]").value.trim();
      const choice = dlg.querySelector("[name=before]").value;
      dlg.close();
      const body = { reason, expected_version: Number(dlg.dataset.version) };
      if (choice === "front" || choice === "end") body.to = choice;
      else body.before_ticket_id = Number(choice);
      await doIt(dlg.dataset.number + " 移动 moved", () => api("POST", "/tickets/" + dlg.dataset.ticket + "/reorder", body));
    });
    const walk = document.getElementById("walkin");
    walk.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const out = walk.querySelector(".walkin-result");
      const body = {
        service_id: walk.querySelector("[name=service_id]").value,
        priority: walk.querySelector("[name=priority]").value,
      };
      const name = walk.querySelector("[name=patient_name]").value.trim();
      if (name) body.patient_name = name;
      try {
        const t = await api("POST", "/tickets", body, { "Idempotency-Key": Console.newKey() });
        out.textContent = "已取号 issued " + t.number + " · 前面 ahead " + (t.people_ahead ?? "—");
        out.className = "walkin-result ok";
        walk.querySelector("[name=patient_name]").value = "";
        say("现场登记 walk-in " + t.number + " ✓", "ok");
      } catch (e) {
        out.textContent = explain(e, "登记 walk-in");
        out.className = "walkin-result error";
      }
      await refresh();
    });
  }

  async function start() {
    wire();
    document.getElementById("logout").addEventListener("click", Console.logout);
    document.getElementById("switch").addEventListener("click", () => {
      localStorage.removeItem("console.zone");
      location.href = location.pathname;
    });
    await Console.requireLogin();
    Console.pairingPanel(document.getElementById("pairing"));
    (await api("GET", "/services")).services.forEach((s) => { state.all[s.id] = s; });
    state.services = await chooseZone();
    document.getElementById("zone-name").textContent = state.services.map((s) => state.all[s].name.zh).join(" · ");
    const sel = document.querySelector("#walkin [name=service_id]");
    sel.replaceChildren(...state.services.map((s) => el("option", { value: s, text: state.all[s].name.zh + " " + state.all[s].name.en })));
    document.getElementById("main").hidden = false;
    state.printers = Console.printersPanel(document.getElementById("printers"));
    Console.labReprintForm(document.getElementById("lab-reprint"));
    document.getElementById("tools").addEventListener("toggle", (ev) => { if (ev.target.open) state.printers.load(); });
    await refresh();
    Console.connect(state.services, (name, data) => {
      if (name === "printer.status") return state.printers.onStatus(data);
      refresh();
    });
    document.body.dataset.ready = "1";
    say("就绪 ready", "info");
  }

  start().catch((e) => say(explain(e, "启动 start"), "error"));
})();
