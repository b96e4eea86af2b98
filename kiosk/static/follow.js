// The phone follow page: polls the public follow endpoint and alerts (sound, vibration) when
// the ticket is called. The token in the URL is the only key; nothing personal is shown.

const main = document.getElementById("follow");
const data = JSON.parse(document.getElementById("follow-data").textContent);
const token = main.dataset.token;
const basePoll = Math.max(1, Number(main.dataset.poll) || 5) * 1000;
const CALLED = new Set(["called", "serving"]);
const FINAL = new Set(["done", "cancelled", "closed_by_reset"]);
const STATES = {
  registered: ["已取号，请先签到", "Issued: please check in first"],
  waiting: ["排队等候中", "Waiting"],
  called: ["到您了！请到 {counter}", "It is your turn! Please go to {counter}"],
  serving: ["正在办理 · {counter}", "Being served at {counter}"],
  done: ["已完成，祝您早日康复", "Done. Get well soon"],
  no_show: ["已过号：请到分诊台或窗口报到", "Missed: please report to the desk or counter"],
  on_leave: ["检查中：回来后请到窗口报到", "Away for tests: report back at the counter"],
  transferred: ["已转到其他业务", "Transferred to another service"],
  cancelled: ["已取消", "Cancelled"],
  closed_by_reset: ["今日就诊已结束", "Today's visit has ended"],
};

let status = data.status;
let alertsOn = false;
let audio = null;
const $ = (id) => document.getElementById(id);

function fill(template, counter) {
  return template.replace("{counter}", counter || "");
}

function render() {
  if (!status) return;
  document.body.dataset.status = status.status;
  $("f-number").textContent = status.number;
  $("f-service").textContent = status.service.name.zh;
  $("f-service-en").textContent = status.service.name.en;
  const [zh, en] = STATES[status.status] || [status.status, status.status];
  const counter = status.counter ? status.counter.name : { zh: "", en: "" };
  const state = $("f-state");
  state.replaceChildren(document.createTextNode(fill(zh, counter.zh)));
  const english = document.createElement("span");
  english.className = "en";
  english.textContent = fill(en, counter.en);
  state.append(english);
  const waiting = status.status === "waiting";
  $("f-facts").hidden = !waiting;
  $("f-ahead").textContent = status.people_ahead == null ? "—" : String(status.people_ahead);
  $("f-wait").textContent =
    status.estimated_wait_s == null ? "—" : `${Math.ceil(status.estimated_wait_s / 60)} 分钟 min`;
  const where = data.locations[status.service.id];
  $("f-where").textContent =
    waiting && where && where.zh ? `候诊地点：${where.zh} · ${where.en}` : "";
  const now = new Date();
  $("f-updated").textContent = `更新于 Updated ${now.toLocaleTimeString("zh-CN", { hour12: false })}`;
  document.title = CALLED.has(status.status) ? `★ ${status.number} 到您了` : `${status.number} 排队进度`;
}

function beep() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const now = audio.currentTime;
    for (let i = 0; i < 3; i += 1) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, now + i * 0.5);
      gain.gain.exponentialRampToValueAtTime(0.4, now + i * 0.5 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.5 + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.5);
      osc.stop(now + i * 0.5 + 0.4);
    }
    return true;
  } catch (error) {
    return false;
  }
}

function alertCalled() {
  // Sound needs a tap on the page first in most phone browsers (the alert button gives one).
  const sounded = beep();
  const vibrated = typeof navigator.vibrate === "function" && navigator.vibrate([400, 200, 400, 200, 400]);
  document.body.classList.add("flash");
  document.body.dataset.alerted = String(Number(document.body.dataset.alerted) + 1);
  document.body.dataset.alertSound = sounded ? "1" : "0";
  document.body.dataset.alertVibrate = vibrated ? "1" : "0";
}

let timer = null;
let inflight = false;

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(poll, ms);
}

async function poll() {
  if (inflight) return;
  inflight = true;
  let delay = basePoll;
  try {
    const r = await fetch(`/api/v1/follow/${encodeURIComponent(token)}`, { cache: "no-store" });
    if (r.ok) {
      const next = await r.json();
      const wasCalled = status && CALLED.has(status.status);
      const calledAgain = status && next.status === "called" && status.counter?.id !== next.counter?.id;
      status = next;
      render();
      if ((!wasCalled && next.status === "called") || calledAgain) alertCalled();
    } else if (r.status === 404) {
      inflight = false;
      return; // the visit ended (day reset): stop polling
    }
    if (status && FINAL.has(status.status)) {
      inflight = false;
      return;
    }
    if (status && status.people_ahead != null && status.people_ahead > 5) delay = basePoll * 2;
  } catch (error) {
    delay = basePoll * 2; // offline phone: try again later
  } finally {
    inflight = false;
  }
  schedule(delay);
}

if (status) {
  const button = $("f-alert");
  button.addEventListener("click", () => {
    alertsOn = !alertsOn;
    button.setAttribute("aria-pressed", String(alertsOn));
    if (alertsOn) {
      beep(); // unlocks audio on this tap and lets the patient hear the sound
      if (typeof navigator.vibrate === "function") navigator.vibrate(100);
    }
  });
  render();
  schedule(basePoll);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) schedule(0);
  });
}
