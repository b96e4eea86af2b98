/*
 * Lab-report self-print kiosk page (/kiosk/<id>/lab).
 * scan (a scanner types the receipt token and Enter) → second check on a keypad →
 * not final: expected time; final: slip preview → print once on this kiosk's printer.
 * The device token comes from localStorage "queue.device_token" (device.js, docs/displays.md, pairing).
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("lab-config").textContent);
  var API = "/api/v1";
  var lang = "zh";
  var state = { token: "", check: "", view: null };
  var idleTimer = null;
  var pollTimer = null;
  var BIRTH = cfg.second_check === "birth_date";
  var CHECK_LEN = BIRTH ? 8 : 4;

  var TEXT = {
    check_title: { zh: BIRTH ? "请输入出生日期" : "请输入手机号后4位", en: BIRTH ? "Enter your date of birth" : "Enter the last 4 digits of your phone" },
    check_hint: { zh: BIRTH ? "8位数字，例如 19800512" : "登记时留的手机号", en: BIRTH ? "8 digits, e.g. 19800512" : "The phone number you gave at registration" },
    wait: { zh: "预计 {time} 可取（约 {min} 分钟）", en: "Expected at {time} (about {min} min)" },
    wait_soon: { zh: "报告即将出具，请稍后再扫描", en: "Any minute now; please scan again shortly" },
    wait_unknown: { zh: "报告尚在检验中，请稍后再来", en: "Still in the lab; please come back later" },
    printing: { zh: "正在打印…", en: "Printing…" },
    take: { zh: "请取走您的报告单", en: "Please take your slip" },
    take_hint: { zh: "报告单在本机下方出纸口", en: "The slip comes out below the screen" },
    printed_badge: { zh: "打印完成", en: "Printed" },
    queued_badge: { zh: "已发送打印", en: "Sent to the printer" },
    print_failed: { zh: "打印失败，请到{counter}补打", en: "Printing failed; please go to {counter} for your slip" },
    already: { zh: "报告单已打印过，如需补打请到{counter}", en: "This slip was printed already; for a reprint go to {counter}" },
    cancelled: { zh: "该检验已撤销，请到{counter}咨询", en: "This test was cancelled; please ask at {counter}" },
    no_printer: { zh: "本机不能打印，请到{counter}", en: "This kiosk cannot print; please go to {counter}" },
    token_invalid: { zh: "这不是检验回执单条码，请重新扫描", en: "That is not a lab receipt barcode; please scan again" },
    token_unknown: { zh: "未找到该回执单对应的报告，请核对后重试", en: "No report for this receipt; please check and try again" },
    check_failed: { zh: "验证信息不符，还可尝试 {left} 次", en: "That does not match; {left} attempts left" },
    check_unavailable: { zh: "该报告不能在自助机查询，请到{counter}", en: "This report cannot be looked up here; please go to {counter}" },
    locked: { zh: "尝试次数过多，请 {min} 分钟后再试或到{counter}", en: "Too many attempts; try again in {min} min or go to {counter}" },
    changed: { zh: "报告刚刚更新，请重新扫描", en: "The report was just updated; please scan again" },
    not_final: { zh: "报告尚未出具", en: "The report is not ready yet" },
    unpaired: { zh: "本机尚未配对，请联系工作人员", en: "This kiosk is not paired; please call staff" },
    offline: { zh: "网络连接失败，请稍后重试", en: "No connection; please try again" },
    error: { zh: "系统繁忙，请稍后重试", en: "Something went wrong; please try again" },
    notice: { zh: "提示", en: "Notice" },
    corrected: { zh: "（更正报告）", en: " (corrected)" }
  };

  function t(key, vars) {
    var s = (TEXT[key] || TEXT.error)[lang];
    Object.keys(vars || {}).forEach(function (k) { s = s.replace("{" + k + "}", vars[k]); });
    return s;
  }
  function counter() { return lang === "zh" ? cfg.counter_zh : cfg.counter_en; }
  function $(id) { return document.getElementById(id); }

  function deviceToken() {
    if (window.Device && typeof window.Device.token === "function") return window.Device.token();
    try { return window.localStorage.getItem("queue.device_token"); } catch (e) { return null; }
  }

  function api(path, body) {
    return fetch(API + path, {
      method: body === undefined ? "GET" : "POST",
      headers: Object.assign(
        { "Content-Type": "application/json" },
        deviceToken() ? { Authorization: "Bearer " + deviceToken() } : {}
      ),
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return { status: r.status, data: data }; });
    });
  }

  // ---------------------------------------------------------------- screens
  function show(name) {
    document.querySelectorAll(".screen").forEach(function (el) { el.hidden = el.id !== "screen-" + name; });
    document.body.dataset.screen = name;
    armIdle(name);
    if (name === "scan") { var input = $("scan-input"); input.value = ""; input.focus(); }
  }

  function armIdle(name) {
    clearTimeout(idleTimer);
    if (name !== "scan" && name !== "pair" && name !== "busy") {
      idleTimer = setTimeout(restart, (cfg.idle_s || 60) * 1000);
    }
  }

  function restart() {
    clearTimeout(pollTimer);
    state = { token: "", check: "", view: null };
    show("scan");
  }

  function message(text, hint, badge) {
    $("message-badge").textContent = badge || t("notice");
    $("message-text").textContent = text;
    $("message-hint").textContent = hint || "";
    show("message");
  }

  function applyLang() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-zh]").forEach(function (el) { el.textContent = el.dataset[lang]; });
    $("lang").textContent = lang === "zh" ? "English" : "中文";
    $("check-title").textContent = t("check_title");
    $("check-hint").textContent = t("check_hint");
    if (state.view && document.body.dataset.screen === "wait") renderWait(state.view);
    if (state.view && document.body.dataset.screen === "preview") renderPreview(state.view);
  }

  // ---------------------------------------------------------------- scan and check
  $("scan-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var value = $("scan-input").value.trim();
    if (!value) return;
    state.token = value;
    state.check = "";
    renderCheck();
    show("check");
  });

  function renderCheck() {
    var v = state.check;
    var shown = v;
    if (BIRTH) {
      var pad = (v + "________").slice(0, 8);
      shown = pad.slice(0, 4) + "-" + pad.slice(4, 6) + "-" + pad.slice(6, 8);
    } else {
      shown = (v + "____").slice(0, 4);
    }
    $("check-display").textContent = shown;
    $("check-ok").disabled = v.length !== CHECK_LEN;
  }

  function press(key) {
    armIdle("check");
    if (key === "back") state.check = state.check.slice(0, -1);
    else if (key === "ok") { if (state.check.length === CHECK_LEN) lookup(); return; }
    else if (/^\d$/.test(key) && state.check.length < CHECK_LEN) state.check += key;
    renderCheck();
  }

  $("keypad").addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-key]");
    if (b) press(b.dataset.key);
  });

  document.addEventListener("keydown", function (ev) {
    if (document.body.dataset.screen !== "check") return;
    if (/^\d$/.test(ev.key)) press(ev.key);
    else if (ev.key === "Backspace") press("back");
    else if (ev.key === "Enter") press("ok");
  });

  function checkValue() {
    if (!BIRTH) return state.check;
    var c = state.check;
    return c.slice(0, 4) + "-" + c.slice(4, 6) + "-" + c.slice(6, 8);
  }

  // ---------------------------------------------------------------- lookup
  function lookup() {
    $("busy-text").textContent = lang === "zh" ? "正在查询…" : "Looking up…";
    show("busy");
    api("/lab/lookup", { token: state.token, check: checkValue() }).then(function (r) {
      if (r.status === 200) { state.view = r.data; route(r.data); return; }
      refusal(r.data.error || {});
    }).catch(function () { message(t("offline")); });
  }

  function route(view) {
    if (view.status === "cancelled") { message(t("cancelled", { counter: counter() })); return; }
    if (view.status !== "final" && view.status !== "corrected") { renderWait(view); show("wait"); return; }
    if (view.printed) { message(t("already", { counter: counter() })); return; }
    renderPreview(view);
    show("preview");
  }

  function refusal(err) {
    var d = err.details || {};
    switch (err.code) {
      case "lab.token_invalid": message(t("token_invalid")); break;
      case "lab.token_unknown": message(t("token_unknown")); break;
      case "lab.check_failed":
        state.check = "";
        message(t("check_failed", { left: d.attempts_left }));
        break;
      case "lab.check_unavailable": message(t("check_unavailable", { counter: counter() })); break;
      case "lab.locked":
        message(t("locked", { min: Math.ceil((d.retry_after_s || 60) / 60), counter: counter() }));
        break;
      case "lab.already_printed": message(t("already", { counter: counter() })); break;
      case "lab.cancelled": message(t("cancelled", { counter: counter() })); break;
      case "lab.no_printer": message(t("no_printer", { counter: counter() })); break;
      case "lab.changed": message(t("changed")); break;
      case "lab.not_final": message(t("not_final")); break;
      case "auth.required": case "auth.forbidden": message(t("unpaired")); break;
      default: message(t("error"), err.code || "");
    }
  }

  function hhmm(iso) { return iso ? iso.slice(11, 16) : ""; }

  function renderWait(view) {
    $("wait-patient").textContent = (view.patient_masked || "") + "  " + (view.panel_name || "");
    var text;
    if (view.minutes_left === null || view.minutes_left === undefined) text = t("wait_unknown");
    else if (view.minutes_left <= 0) text = t("wait_soon");
    else text = t("wait", { time: hhmm(view.expected_ready_at), min: view.minutes_left });
    $("wait-text").textContent = text;
  }

  function renderPreview(view) {
    var p = view.preview;
    $("slip-title").textContent = p.title_zh + (view.status === "corrected" ? t("corrected") : "");
    $("slip-patient").textContent = (lang === "zh" ? "姓名：" : "Name: ") + p.patient_masked;
    $("slip-specimen").textContent = (lang === "zh" ? "标本号：" : "Specimen: ") + p.specimen_id;
    $("slip-time").textContent = (lang === "zh" ? "报告时间：" : "Reported: ") + (p.report_time || "").slice(0, 16).replace("T", " ");
    var body = $("slip-lines");
    body.textContent = "";
    p.lines.forEach(function (line) {
      var tr = document.createElement("tr");
      if (line.flag) tr.className = "abnormal";
      var arrow = { H: "↑", L: "↓", A: "*" }[line.flag] || "";
      [line.name, line.value, line.unit, line.reference_range, arrow].forEach(function (v, i) {
        var td = document.createElement("td");
        td.textContent = v;
        if (i === 1) td.className = "value";
        if (i === 4) td.className = "flag";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    $("slip-note").textContent = p.note_zh;
    $("print-btn").disabled = !cfg.has_printer;
  }

  // ---------------------------------------------------------------- print
  $("print-btn").addEventListener("click", function () {
    $("print-btn").disabled = true;
    $("busy-text").textContent = t("printing");
    show("busy");
    api("/lab/print", { token: state.token, check: checkValue(), expected_version: state.view.version })
      .then(function (r) {
        if (r.status === 201) { printing(r.data.print || {}); return; }
        refusal(r.data.error || {});
      })
      .catch(function () { message(t("offline")); })
      .then(function () { $("print-btn").disabled = false; });
  });

  function printing(job) {
    $("done-badge").textContent = t("queued_badge");
    $("done-text").textContent = t("take");
    $("done-hint").textContent = t("take_hint");
    document.body.dataset.job = job.id || "";
    show("done");
    follow(job, Date.now() + 60000);
  }

  function follow(job, deadline) {
    if (!job.id) return;
    if (job.status === "printed") { $("done-badge").textContent = t("printed_badge"); document.body.dataset.printed = "1"; return; }
    if (job.status === "failed") { message(t("print_failed", { counter: counter() }), job.error_code || ""); return; }
    if (Date.now() > deadline) return;
    pollTimer = setTimeout(function () {
      api("/print-jobs/" + job.id).then(function (r) {
        if (r.status === 200) follow(r.data, deadline);
      }).catch(function () { follow(job, deadline); });
    }, 1000);
  }

  // ---------------------------------------------------------------- start
  document.querySelectorAll("[data-action=restart]").forEach(function (b) { b.addEventListener("click", restart); });
  $("lang").addEventListener("click", function () { lang = lang === "zh" ? "en" : "zh"; applyLang(); });
  document.addEventListener("click", function () {
    if (document.body.dataset.screen === "scan") $("scan-input").focus();
  });
  setInterval(function () {
    var d = new Date();
    $("clock").textContent = ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }, 1000);

  applyLang();
  if (deviceToken()) { restart(); return; }
  if (window.Device && typeof window.Device.pairingScreen === "function") {
    show("pair");
    window.Device.pairingScreen($("screen-pair"), "kiosk").then(restart);
  } else {
    message(t("unpaired"));
  }
})();
