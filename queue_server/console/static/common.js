/* Shared by the staff console pages: REST calls with the session cookie, login, Socket.IO
 * /staff, messages, printers panel, lab-slip reprint form and device pairing. No framework, no CDN. */
"use strict";

const Console = (() => {
  const API = "/api/v1";
  const sockets = [];

  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details || {};
    }
  }

  async function api(method, path, body, headers) {
    const opts = { method, headers: Object.assign({}, headers || {}), credentials: "same-origin" };
    if (body !== undefined && body !== null) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(API + path, opts);
    } catch (e) {
      throw new ApiError(0, "network.error", "服务器无响应 Server not reachable");
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(resp.status, err.code || "http." + resp.status, err.message || resp.statusText, err.details);
    }
    return data;
  }

  /* Messages: one line at the top, kind = info | ok | error. Stays until replaced. */
  function say(text, kind) {
    const el = document.getElementById("msg");
    if (!el) return;
    el.textContent = text;
    el.className = "msg " + (kind || "info");
    el.dataset.kind = kind || "info";
  }

  function explain(err, what) {
    if (!(err instanceof ApiError)) return (what ? what + ": " : "") + String(err);
    const prefix = what ? what + ": " : "";
    if (err.code === "ticket.changed") {
      return prefix + "该号已被他人更改，已刷新 — changed meanwhile by someone else, refreshed (" + err.message + ")";
    }
    if (err.code === "queue.empty") return prefix + "无人等候 — nobody is waiting";
    if (err.code === "counter.not_open") return prefix + "窗口未开放 — the counter is not open (" + err.message + ")";
    if (err.code === "auth.required") return prefix + "请登录 — please log in";
    return prefix + err.message + " [" + err.code + "]";
  }

  async function me() {
    try {
      return await api("GET", "/auth/me");
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return null;
      throw e;
    }
  }

  /* Show the login form until a staff user is logged in; resolves with /auth/me. */
  function requireLogin() {
    return me().then((who) => {
      const form = document.getElementById("login");
      const app = document.getElementById("app");
      if (who && who.kind === "user") {
        // Keys belong to the page now, not to a field of the form being hidden.
        if (form.contains(document.activeElement)) document.activeElement.blur();
        form.hidden = true;
        app.hidden = false;
        const u = document.getElementById("who");
        if (u) u.textContent = who.id + " (" + who.role + ")";
        return who;
      }
      form.hidden = false;
      app.hidden = true;
      return new Promise((resolve) => {
        form.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          const user = form.querySelector("[name=username]").value;
          const pass = form.querySelector("[name=password]").value;
          try {
            await api("POST", "/auth/login", { username: user, password: pass });
            form.querySelector("[name=password]").value = "";
            resolve(requireLogin());
          } catch (e) {
            const out = document.getElementById("login-error");
            out.textContent = e.code === "auth.invalid_credentials"
              ? "用户名或密码错误 — wrong username or password" : explain(e);
          }
        });
        form.querySelector("[name=username]").focus();
      });
    });
  }

  async function logout() {
    try {
      await api("POST", "/auth/logout");
    } finally {
      window.location.reload();
    }
  }

  /* Socket.IO /staff with the session cookie; onEvent(name, payload) for every event. */
  function connect(services, onEvent) {
    const status = document.getElementById("conn");
    const socket = io("/staff", { auth: { services }, transports: ["websocket", "polling"] });
    sockets.push(socket); // kept for the page's lifetime (and for tests to cut the link)
    const names = ["snapshot", "ticket.called", "ticket.changed", "queue.changed", "counter.changed", "printer.status"];
    names.forEach((n) => socket.on(n, (data) => onEvent(n, data || {})));
    socket.on("connect", () => {
      if (status) { status.textContent = "● 在线 live"; status.className = "conn on"; }
      document.body.dataset.live = "1";
    });
    socket.on("disconnect", () => {
      if (status) { status.textContent = "● 离线 offline"; status.className = "conn off"; }
      document.body.dataset.live = "0";
    });
    socket.on("connect_error", (err) => {
      if (status) { status.textContent = "● 连接失败 " + ((err && err.message) || ""); status.className = "conn off"; }
    });
    return socket;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /* Put `nodes` into `root` as its children, keeping each present child that renders exactly
   * the same (outerHTML, which carries ids and versions): a redraw that changed nothing
   * replaces nothing, so a click on a row or button is never lost between press and release. */
  function sync(root, nodes) {
    const old = Array.from(root.children);
    nodes.forEach((node, i) => {
      const was = old[i];
      if (was && was.outerHTML === node.outerHTML) return;
      if (was) was.replaceWith(node);
      else root.append(node);
    });
    old.slice(nodes.length).forEach((was) => was.remove());
  }

  function hhmm(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function mmss(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  const STATUS_ZH = {
    registered: "待签到", waiting: "等候", called: "已呼叫", serving: "就诊中", done: "完成",
    no_show: "过号", on_leave: "检查中", transferred: "已转诊", cancelled: "已取消",
  };

  function statusLabel(s) {
    return (STATUS_ZH[s] || s) + " " + s;
  }

  /* ------------------------------------------------------------ printers panel */

  function printersPanel(root) {
    const list = root.querySelector(".printer-list");
    const note = root.querySelector(".printer-note");
    const rows = new Map();

    function draw() {
      list.replaceChildren();
      for (const p of rows.values()) {
        const ready = p.ready !== undefined ? p.ready : p.state === "online";
        const last = p.last_job || null;
        list.append(el("tr", { class: ready ? "ok" : "bad", dataset: { printer: p.id || p.printer_id } },
          el("td", { text: p.id || p.printer_id }),
          el("td", { text: p.state || "" }),
          el("td", { text: p.code || "" }),
          el("td", { text: p.since ? hhmm(p.since) : "" }),
          el("td", { text: last ? (last.document || "") + " " + (last.status || "") + (last.error_code ? " " + last.error_code : "") : "" })));
      }
    }

    async function load() {
      try {
        const data = await api("GET", "/printers");
        const items = Array.isArray(data) ? data : (data.printers || []);
        rows.clear();
        items.forEach((p) => rows.set(p.id || p.printer_id, p));
        note.textContent = items.length ? "" : "未配置打印机 — no printers configured";
        draw();
      } catch (e) {
        note.textContent = e.status === 404 && e.code === "request.not_found"
          ? "打印服务不可用 — the print pipeline is not installed on this server"
          : explain(e, "打印机 printers");
      }
    }

    function onStatus(data) {
      const id = data.printer_id;
      if (!id) return;
      const p = rows.get(id) || { id };
      Object.assign(p, { state: data.state, code: data.code, ready: data.ready, since: new Date().toISOString() });
      rows.set(id, p);
      draw();
    }

    root.querySelector(".printer-refresh").addEventListener("click", load);
    return { load, onStatus };
  }

  /* ------------------------------------------------------------ lab slip reprint reset */

  function labReprintForm(form) {
    const out = form.querySelector(".lab-result");
    const found = form.querySelector(".lab-found");
    form.querySelector(".lab-find").addEventListener("click", async () => {
      const specimen = form.querySelector("[name=specimen_id]").value.trim();
      found.replaceChildren();
      if (!specimen) return;
      try {
        const data = await api("GET", "/lab/reports?specimen_id=" + encodeURIComponent(specimen));
        const reports = data.reports || [];
        if (!reports.length) found.append(el("li", { text: "未找到 — no report for this specimen" }));
        for (const r of reports) {
          found.append(el("li", {},
            el("button", { type: "button", class: "mini", dataset: { report: r.id }, onclick: () => { form.querySelector("[name=report_id]").value = r.id; } }, "选 Use"),
            " #" + r.id + " " + (r.panel_name || r.panel_code || "") + " " + (r.patient_masked || "") +
            " · 已打印 printed " + r.print_count + "×"));
        }
      } catch (e) {
        found.append(el("li", { class: "error", text: e.status === 404 && e.code === "request.not_found"
          ? "检验报告服务不可用 — lab reports are not available on this server" : explain(e, "查找 find") }));
      }
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const id = form.querySelector("[name=report_id]").value.trim();
      const reason = form.querySelector("[name=reason]").value.trim();
      if (!id || !reason) {
        out.textContent = "请填写报告号和原因 — report id and reason are required";
        out.className = "lab-result error";
        return;
      }
      try {
        const res = await api("POST", "/lab/reports/" + encodeURIComponent(id) + "/reset-print", { reason });
        out.textContent = "已重置，可再次自助打印 — reset: the patient may print it again" +
          (res && res.print_count !== undefined ? " (" + res.print_count + ")" : "");
        out.className = "lab-result ok";
        form.querySelector("[name=reason]").value = "";
      } catch (e) {
        out.textContent = e.status === 404 && e.code === "request.not_found"
          ? "检验报告服务不可用 — lab reports are not available on this server"
          : explain(e, "重置 reset");
        out.className = "lab-result error";
      }
    });
  }

  /* ------------------------------------------------------------ device pairing (approve a code) */

  const KIND_LABEL = { display: ["叫号屏", "screen"], kiosk: ["自助机", "kiosk"] };

  function pairingMessage(err) {
    if (!(err instanceof ApiError)) return explain(err, "配对 pairing");
    const d = err.details || {};
    if (err.code === "pairing.code_invalid") {
      return "配对码无效：没有设备正在显示此码（或已用过），请核对设备屏幕 — invalid code: no device shows it (or it was used already); check the screen";
    }
    if (err.code === "pairing.expired") {
      return "配对码已过期：设备会自动显示新码，请输入新码 — the code has expired: the device shows a new one by itself, enter that one";
    }
    if (err.code === "pairing.rate_limited") {
      const min = Math.max(1, Math.ceil((d.retry_after_s || 60) / 60));
      return "错误次数过多，请 " + min + " 分钟后再试 — too many wrong codes, try again in " + min + " min";
    }
    if (err.code === "pairing.device_unknown") {
      const k = KIND_LABEL[d.kind] || [d.kind || "设备", d.kind || "device"];
      return "此配对码来自" + k[0] + "，但 " + (d.device_id || "") + " 不是站点中的" + k[0] + "，请重新选择 — this code is from a " +
        k[1] + "; " + (d.device_id || "that") + " is not a " + k[1] + " of the site, choose the right device";
    }
    if (err.code === "request.invalid") return "请输入设备上显示的 6 位数字 — enter the 6 digits shown on the device";
    if (err.status === 403) return "无权批准配对 — your account may not approve pairings";
    return explain(err, "配对 pairing");
  }

  /* The "Pair a device" form: screens from GET /displays, kiosks rendered by the server. */
  function pairingPanel(form) {
    const out = form.querySelector(".pair-result");
    const code = form.querySelector("[name=code]");
    const device = form.querySelector("[name=device_id]");
    const button = form.querySelector("button[type=submit]");

    function result(text, kind, errCode) {
      out.textContent = text;
      out.className = "pair-result " + kind;
      out.dataset.state = kind;
      out.dataset.code = errCode || "";
    }

    async function loadDisplays() {
      const group = form.querySelector(".pair-displays");
      try {
        const data = await api("GET", "/displays");
        group.replaceChildren(...(data.displays || []).map((d) =>
          el("option", { value: d.id, dataset: { kind: "display" }, text: d.name + " (" + d.id + ")" })));
      } catch (e) {
        result(explain(e, "叫号屏列表 screens"), "error", e.code);
      }
    }

    function focus() {
      const tools = form.closest("details");
      if (tools) tools.open = true;
      form.scrollIntoView({ block: "nearest" });
      code.focus();
      code.select();
    }

    code.addEventListener("input", () => {
      const digits = code.value.replace(/\D/g, "").slice(0, 6);
      if (digits !== code.value) code.value = digits;
    });
    device.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const value = code.value.trim();
      if (!/^\d{6}$/.test(value)) {
        result("请输入设备上显示的 6 位数字 — enter the 6 digits shown on the device", "error", "request.invalid");
        code.focus();
        return;
      }
      if (!device.value) {
        result("请选择这是哪台设备 — choose which device this is", "error", "request.invalid");
        device.focus();
        return;
      }
      button.disabled = true;
      form.setAttribute("aria-busy", "true");
      try {
        const res = await api("POST", "/pairing/approve", { code: value, device_id: device.value });
        const k = KIND_LABEL[res.kind] || [res.kind, res.kind];
        const label = device.selectedOptions[0] ? device.selectedOptions[0].textContent : res.device_id;
        result("已批准：" + k[0] + " " + label + " 将自动完成配对 — approved: the " + k[1] + " " + res.device_id +
          " pairs by itself within seconds (before " + hhmm(res.claim_before) + ")", "ok");
        code.value = "";
        code.focus();
      } catch (e) {
        result(pairingMessage(e), "error", e.code);
        if (e.code === "pairing.device_unknown") device.focus();
        else { code.focus(); code.select(); }
      } finally {
        button.disabled = false;
        form.removeAttribute("aria-busy");
      }
    });
    loadDisplays();
    return { focus, loadDisplays };
  }

  function isTyping(ev) {
    const t = ev.target;
    if (!t || !t.tagName) return false;
    return ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName) || t.isContentEditable;
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  return { sockets, api, ApiError, say, explain, requireLogin, logout, connect, el, sync, hhmm, mmss, statusLabel, printersPanel, labReprintForm, pairingPanel, isTyping, newKey };
})();
