// The touch kiosk: take a number, check in an appointment, see where to go and the print status.
// Talks to the server only through /api/v1 and Socket.IO /kiosk, like any remote browser.

import { TEXT } from "./strings.js";

const CONFIG = JSON.parse(document.getElementById("kiosk-config").textContent);
const API = "/api/v1";
const TOKEN_KEY = "queue.device_token";
const SCAN_GAP_MS = 300; // a barcode scanner types a whole code faster than this per key
const PRINT_POLL_MS = 1500;
const PRINT_SLOW_MS = 40000;
const FINAL_PRINT = new Set(["printed", "failed"]);

const $ = (sel) => document.querySelector(sel);
const state = {
  lang: "zh",
  screen: "loading",
  token: null,
  services: new Map(), // service id -> live overview from the server
  printer: null, // {code, ready} of this kiosk's printer, from printer.status
  intent: null, // the tap being served: {key, body}
  choice: null, // service chosen, waiting for the priority answer
  result: null, // {ticket, created, print, printShownAt}
  message: null, // {code, details}
  setup: null, // {kind, args}
  lastTouch: Date.now(),
  online: true,
  offlineTimer: null,
  snapshotTimer: null,
  socket: null,
  scan: { buf: "", last: 0 },
};

// ------------------------------------------------------------------ text and screens

function t(key, ...args) {
  const value = TEXT[state.lang][key];
  return typeof value === "function" ? value(...args) : value;
}

const local = (pair) => (pair && (pair[state.lang] || pair.zh)) || "";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function show(name) {
  state.screen = name;
  document.body.dataset.screen = name;
  for (const section of document.querySelectorAll(".screen")) {
    section.hidden = section.dataset.name !== name;
  }
  if (name === "checkin") $("#checkin-code").focus();
}

function renderAll() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-t]")) {
    const key = node.dataset.t;
    if (key === "site") node.textContent = local(CONFIG.site);
    else if (typeof TEXT[state.lang][key] === "string") node.textContent = t(key);
  }
  $("#btn-info").href = infoUrl();
  renderServices();
  renderPriorities();
  renderKeypad();
  renderBanner();
  if (state.result) renderResult();
  if (state.message) renderMessage();
  if (state.setup) renderSetup();
}

function infoUrl() {
  const params = new URLSearchParams({ kiosk: CONFIG.kiosk.id, lang: state.lang });
  const idle = new URLSearchParams(location.search).get("idle");
  if (idle) params.set("idle", idle);
  return `/info?${params}`;
}

// ------------------------------------------------------------------ services (start screen)

function serviceState(id) {
  const live = state.services.get(id);
  if (!live) return "closed";
  if (live.open_counters.length > 0) return "open";
  return live.paused_counters.length > 0 ? "paused" : "closed";
}

function renderServices() {
  const box = $("#services");
  box.replaceChildren();
  for (const svc of CONFIG.services) {
    const live = state.services.get(svc.id);
    const status = serviceState(svc.id);
    const button = el("button", `service ${status}`);
    button.type = "button";
    button.dataset.service = svc.id;
    button.dataset.state = status;
    button.disabled = status === "closed";
    button.append(el("span", "svc-name", local(svc.name)));
    if (live) {
      const info = el("span", "svc-live");
      info.append(el("span", "svc-waiting", t("waiting", live.waiting)));
      if (status !== "closed") info.append(el("span", "svc-est", t("est", live.estimated_wait_s)));
      button.append(info);
    }
    if (status !== "open") button.append(el("span", "svc-reason", t(status)));
    button.addEventListener("click", () => chooseService(svc.id));
    box.append(button);
  }
}

function applyServices(list) {
  for (const svc of list || []) state.services.set(svc.id, svc);
  if (state.screen === "start" || state.screen === "loading") renderServices();
}

function onQueueChanged(ev) {
  const live = state.services.get(ev.service_id);
  if (live) {
    live.waiting = ev.waiting;
    live.estimated_wait_s = ev.estimated_wait_s;
    if (state.screen === "start") renderServices();
  }
  // Counter openings and closings arrive as queue.changed too: refresh the whole list soon.
  clearTimeout(state.snapshotTimer);
  state.snapshotTimer = setTimeout(() => state.socket && state.socket.emit("snapshot"), 1500);
}

function chooseService(id) {
  if (state.intent) return;
  if (CONFIG.priorities.length === 0) {
    issue({ service_id: id });
    return;
  }
  state.choice = id;
  renderPriorities();
  show("priority");
}

function renderPriorities() {
  const box = $("#priorities");
  box.replaceChildren();
  const svc = CONFIG.services.find((s) => s.id === state.choice);
  $("#priority-service").textContent = svc ? local(svc.name) : "";
  const options = [{ id: "normal", label: t("normal") }].concat(
    CONFIG.priorities.map((p) => ({ id: p.id, label: local(p.name) })),
  );
  for (const option of options) {
    const button = el("button", `choice${option.id === "normal" ? " main" : ""}`, option.label);
    button.type = "button";
    button.dataset.priority = option.id;
    button.addEventListener("click", () => {
      if (!state.choice) return;
      issue({ service_id: state.choice, priority: option.id });
    });
    box.append(button);
  }
}

// ------------------------------------------------------------------ appointment check-in

const KEYS = "1234567890QWERTYUIOPASDFGHJKL-ZXCVBNM".split("");

function renderKeypad() {
  const pad = $("#keypad");
  if (pad.childElementCount) {
    pad.querySelector("[data-key=clear]").textContent = t("clear");
    return;
  }
  const input = $("#checkin-code");
  for (const key of KEYS) {
    const button = el("button", "key", key);
    button.type = "button";
    button.dataset.key = key;
    button.addEventListener("click", () => {
      input.value = (input.value + key).slice(0, 64);
    });
    pad.append(button);
  }
  const back = el("button", "key wide", "⌫");
  back.type = "button";
  back.dataset.key = "backspace";
  back.addEventListener("click", () => {
    input.value = input.value.slice(0, -1);
  });
  const clear = el("button", "key wide", t("clear"));
  clear.type = "button";
  clear.dataset.key = "clear";
  clear.addEventListener("click", () => {
    input.value = "";
  });
  pad.append(back, clear);
}

function checkIn(code) {
  const clean = code.trim();
  if (clean) issue({ appointment_code: clean });
}

function onScannerKey(event) {
  // Scanners type like a keyboard and end with Enter; on the start screen nothing has focus,
  // so the keystrokes are collected here. Slow typing (a person) starts a new code.
  if (state.screen !== "start" || event.ctrlKey || event.altKey || event.metaKey) return;
  const now = performance.now();
  if (now - state.scan.last > SCAN_GAP_MS) state.scan.buf = "";
  state.scan.last = now;
  if (event.key === "Enter") {
    const code = state.scan.buf;
    state.scan.buf = "";
    if (code.trim().length >= 3) {
      event.preventDefault();
      checkIn(code);
    }
  } else if (event.key.length === 1) {
    state.scan.buf = (state.scan.buf + event.key).slice(-64);
  }
}

// ------------------------------------------------------------------ taking a number

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs https
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${CONFIG.kiosk.id}-${hex}`;
}

function headers(extra) {
  return { Authorization: `Bearer ${state.token}`, ...extra };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function postTicket(intent) {
  // One tap = one key: a retry after a lost response returns the same ticket, never a second.
  let failure = null;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (attempt) await sleep(700 * attempt);
    try {
      const response = await fetch(`${API}/tickets`, {
        method: "POST",
        headers: headers({ "Content-Type": "application/json", "Idempotency-Key": intent.key }),
        body: JSON.stringify(intent.body),
      });
      if (response.status >= 500 && attempt < 2) continue;
      const data = await response.json().catch(() => ({ error: { code: "server.error" } }));
      return { ok: response.ok, status: response.status, data };
    } catch (error) {
      failure = error;
    }
  }
  throw failure || new Error("no answer");
}

async function issue(body) {
  if (state.intent) return; // a second tap while the first is served: ignored
  const intent = { key: newKey(), body: { ...body, language: state.lang } };
  state.intent = intent;
  document.body.classList.add("busy");
  for (const b of document.querySelectorAll(".service, .choice, #checkin-submit")) b.disabled = true;
  show("pending");
  try {
    const answer = await postTicket(intent);
    if (answer.ok) showResult(answer.data, answer.status);
    else showMessage(answer.data.error?.code || "other", answer.data.error?.details);
  } catch (error) {
    showMessage("network");
  } finally {
    state.intent = null;
    state.choice = null;
    document.body.classList.remove("busy");
    for (const b of document.querySelectorAll(".choice, #checkin-submit")) b.disabled = false;
    renderServices();
    $("#checkin-code").value = "";
    touch();
  }
}

function showMessage(code, details) {
  state.message = { code, details };
  renderMessage();
  show("message");
}

function renderMessage() {
  const { code, details } = state.message;
  const errors = TEXT[state.lang].errors;
  const text = (errors[code] || errors.other)(details, code);
  $("#m-title").textContent = t("error_title");
  $("#m-text").textContent = text;
  document.querySelector('.screen[data-name="message"]').dataset.code = code;
}

// ------------------------------------------------------------------ result and printing

function serviceName(id) {
  return CONFIG.names[id] || { name: { zh: id, en: id }, location: { zh: "", en: "" } };
}

function showResult(ticket, status) {
  state.result = {
    ticket,
    created: status === 201,
    print: ticket.print || null,
    printShownAt: Date.now(),
  };
  renderResult();
  show("result");
  watchPrint();
}

function timeOf(iso) {
  return iso.slice(11, 16); // the hall's local time, as the server wrote it (with its offset)
}

function renderResult() {
  const { ticket, created } = state.result;
  const svc = serviceName(ticket.service_id);
  $("#r-service").textContent = local(svc.name);
  $("#r-number").textContent = ticket.number;
  $("#r-ahead").textContent = ticket.people_ahead == null ? "—" : t("people", ticket.people_ahead);
  $("#r-wait").textContent = t("wait_min", ticket.estimated_wait_s);
  const where = local(svc.location);
  $("#r-where").textContent = where ? t("where", where) : "";
  const notes = [];
  if (ticket.appointment_at) notes.push(t("appointment", timeOf(ticket.appointment_at)));
  if (!created && ticket.appointment_at) notes.push(t("already"));
  if (ticket.late) notes.push(t("late"));
  if (ticket.priority !== "normal" && !ticket.priority_confirmed) {
    const klass = CONFIG.priorities.find((p) => p.id === ticket.priority);
    notes.push(t("priority_declared", klass ? local(klass.name) : ticket.priority));
  }
  const notice = $("#r-notice");
  notice.textContent = notes.join("\n");
  notice.hidden = notes.length === 0;
  const token = (ticket.follow_url || "").split("/").filter(Boolean).pop();
  const qr = $("#r-qr");
  if (token && qr.dataset.token !== token) {
    qr.dataset.token = token;
    qr.src = `/follow/${encodeURIComponent(token)}/qr.svg`;
  }
  renderPrint();
}

function printView() {
  const job = state.result && state.result.print;
  if (!job || !job.job_id) return { status: "none" };
  if (FINAL_PRINT.has(job.status)) return job;
  if (Date.now() - state.result.printShownAt > PRINT_SLOW_MS) return { ...job, status: "slow" };
  return job;
}

function renderPrint() {
  const box = $("#r-print");
  const job = printView();
  box.dataset.status = job.status;
  box.dataset.code = job.error_code || "";
  if (job.status === "failed") {
    const texts = TEXT[state.lang].print_failed;
    box.textContent = texts[job.error_code] || texts.other;
  } else if (job.status === "printed") box.textContent = t("print_printed");
  else if (job.status === "none") box.textContent = t("print_none");
  else if (job.status === "slow") box.textContent = t("print_slow");
  else box.textContent = t("print_queued");
}

function updateJob(update) {
  const job = state.result && state.result.print;
  if (!job || update.job_id !== job.job_id) return;
  if (FINAL_PRINT.has(job.status) && !FINAL_PRINT.has(update.status)) return;
  job.status = update.status;
  job.error_code = update.error_code || null;
  if (job.status === "failed" && job.error_code) {
    setPrinter({ ready: false, code: job.error_code, printer_id: CONFIG.kiosk.printer_id });
  } else if (job.status === "printed") {
    setPrinter({ ready: true, code: "printer.online", printer_id: CONFIG.kiosk.printer_id });
  }
  renderPrint();
}

async function watchPrint() {
  // print.status events are the fast path; polling the job covers a missed event.
  const result = state.result;
  while (state.result === result && result.print && result.print.job_id) {
    if (FINAL_PRINT.has(result.print.status)) break;
    if (Date.now() - result.printShownAt > PRINT_SLOW_MS) {
      renderPrint();
      break;
    }
    await sleep(PRINT_POLL_MS);
    if (state.result !== result) break;
    try {
      const r = await fetch(`${API}/print-jobs/${result.print.job_id}`, { headers: headers() });
      if (r.ok) {
        const job = await r.json();
        updateJob({ job_id: result.print.job_id, status: job.status, error_code: job.error_code });
      }
    } catch (error) {
      // offline: the socket's out-of-service screen tells the patient
    }
  }
}

// ------------------------------------------------------------------ printer health banner

function setPrinter(status) {
  const mine = CONFIG.kiosk.printer_id;
  if (!mine || (status.printer_id && status.printer_id !== mine)) return;
  // "unknown" (nothing printed or polled yet) is not a fault worth a banner
  const ready = status.ready !== false || status.state === "unknown";
  state.printer = { ready, code: status.code || null };
  renderBanner();
}

function renderBanner() {
  const banner = $("#printer-banner");
  const p = state.printer;
  const fault = p && !p.ready;
  banner.hidden = !fault;
  document.body.dataset.printer = fault ? p.code || "fault" : "ok";
  if (fault) {
    const texts = TEXT[state.lang].banner;
    banner.textContent = texts[p.code] || texts.other;
  }
}

async function loadPrinter() {
  if (!CONFIG.kiosk.printer_id) return;
  try {
    const r = await fetch(`${API}/printers/${encodeURIComponent(CONFIG.kiosk.printer_id)}`, {
      headers: headers(),
    });
    if (!r.ok) return; // no print pipeline on this server, or not allowed: no banner
    const p = await r.json();
    setPrinter({ printer_id: CONFIG.kiosk.printer_id, ready: p.ready, state: p.state, code: p.code });
  } catch (error) {
    // offline: handled by the connection state
  }
}

// ------------------------------------------------------------------ connection

function setOnline(online) {
  state.online = online;
  clearTimeout(state.offlineTimer);
  if (online) {
    document.body.dataset.online = "1";
    $("#oos").hidden = true;
    return;
  }
  state.offlineTimer = setTimeout(() => {
    document.body.dataset.online = "0";
    $("#oos").hidden = false;
  }, CONFIG.offline_after_s * 1000);
}

function connect() {
  const socket = io("/kiosk", {
    auth: { token: state.token },
    reconnectionDelay: 500,
    reconnectionDelayMax: 2000,
    timeout: 5000,
  });
  state.socket = socket;
  socket.on("connect", () => {
    setOnline(true);
    loadPrinter();
  });
  socket.on("disconnect", () => setOnline(false));
  socket.on("connect_error", (error) => {
    const code = (error && error.data && error.data.code) || "";
    if (code.startsWith("auth.")) {
      socket.disconnect();
      setup("invalid");
      return;
    }
    setOnline(false);
  });
  socket.on("snapshot", (snap) => applyServices(snap.services));
  socket.on("queue.changed", onQueueChanged);
  socket.on("print.status", updateJob);
  socket.on("printer.status", setPrinter);
}

// ------------------------------------------------------------------ device identity

function deviceToken() {
  if (window.Device && typeof window.Device.token === "function") return window.Device.token();
  return localStorage.getItem(TOKEN_KEY);
}

function setup(kind, ...args) {
  // No token or a refused one: the shared pairing screen (device.js) when it is there, else a
  // field for IT to paste a device token. A token of another device: offer to pair again.
  state.setup = { kind, args };
  const pairing = kind !== "wrong" && window.Device && window.Device.pairingScreen;
  state.setup.pairing = Boolean(pairing);
  renderSetup();
  show("setup");
  if (pairing) {
    window.Device.pairingScreen($("#pair-root"), "kiosk").then(() => location.reload());
  }
}

function renderSetup() {
  const { kind, args, pairing } = state.setup;
  const text = { none: "setup_none", invalid: "setup_invalid", wrong: "setup_wrong" }[kind];
  $("#setup-text").textContent = t(text, ...args, CONFIG.kiosk.id);
  $("#pair-root").hidden = !pairing;
  $("#token-form").hidden = pairing || kind === "wrong";
  $("#btn-repair").hidden = kind !== "wrong";
}

// ------------------------------------------------------------------ idle timeout and tools

function touch() {
  state.lastTouch = Date.now();
}

function resetToStart() {
  state.result = null;
  state.message = null;
  state.choice = null;
  state.lang = "zh";
  document.documentElement.classList.remove("large", "contrast");
  $("#btn-large").setAttribute("aria-pressed", "false");
  $("#btn-contrast").setAttribute("aria-pressed", "false");
  $("#checkin-code").value = "";
  renderAll();
  show("start");
}

function idleLimitMs() {
  const base = CONFIG.idle_timeout_s * 1000;
  const failed = state.screen === "result" && printView().status === "failed";
  return failed ? base * 2 : base; // a ticket that did not print stays longer on screen
}

function checkIdle() {
  if (state.intent || ["loading", "setup", "pending"].includes(state.screen)) return;
  const changed =
    state.lang !== "zh" || document.documentElement.classList.contains("large") ||
    document.documentElement.classList.contains("contrast");
  if (state.screen === "start" && !changed) return;
  if (Date.now() - state.lastTouch >= idleLimitMs()) resetToStart();
}

function toggleClass(name, button) {
  const on = document.documentElement.classList.toggle(name);
  button.setAttribute("aria-pressed", String(on));
}

function tickClock() {
  const now = new Date();
  $("#clock").textContent = `${String(now.getHours()).padStart(2, "0")}:${String(now.getMinutes()).padStart(2, "0")}`;
}

function bind() {
  for (const name of ["pointerdown", "keydown", "touchstart"]) {
    document.addEventListener(name, touch, { capture: true, passive: true });
  }
  document.addEventListener("keydown", onScannerKey);
  $("#btn-lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    renderAll();
  });
  $("#btn-large").addEventListener("click", (e) => toggleClass("large", e.currentTarget));
  $("#btn-contrast").addEventListener("click", (e) => toggleClass("contrast", e.currentTarget));
  $("#btn-checkin").addEventListener("click", () => show("checkin"));
  $("#btn-done").addEventListener("click", resetToStart);
  for (const b of document.querySelectorAll("[data-back]")) b.addEventListener("click", resetToStart);
  $("#checkin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    checkIn($("#checkin-code").value);
  });
  $("#btn-repair").addEventListener("click", () => {
    if (window.Device && window.Device.forget) window.Device.forget();
    else localStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("#token-input").value.trim();
    if (value) {
      localStorage.setItem(TOKEN_KEY, value);
      location.reload();
    }
  });
  setInterval(checkIdle, 250);
  setInterval(tickClock, 10000);
}

async function whoAmI() {
  for (;;) {
    try {
      const r = await fetch(`${API}/auth/me`, { headers: headers() });
      if (r.status === 401 || r.status === 403) return null;
      if (r.ok) return await r.json();
    } catch (error) {
      // the server is not answering yet
    }
    setOnline(false);
    await sleep(2000);
  }
}

async function loadServices() {
  try {
    const r = await fetch(`${API}/services`);
    if (r.ok) applyServices((await r.json()).services);
  } catch (error) {
    // the socket snapshot brings them
  }
}

async function main() {
  bind();
  tickClock();
  renderAll();
  state.token = deviceToken();
  if (!state.token) {
    setup("none");
    return;
  }
  const me = await whoAmI();
  setOnline(true);
  if (!me) {
    setup("invalid");
    return;
  }
  if (me.kind !== "device" || me.role !== "kiosk" || me.id !== CONFIG.kiosk.id) {
    setup("wrong", me.id);
    return;
  }
  await loadServices();
  connect();
  show("start");
  document.body.dataset.ready = "1";
}

main();
