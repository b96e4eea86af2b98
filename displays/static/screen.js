/*
 * A calling screen: pairs once (device.js), then follows Socket.IO /display.
 *
 * Consistency: every (re)connect starts from the server's snapshot (events that arrive before
 * it are held back and replayed on top); an event whose from_version is above the version we
 * hold for its service means something was missed, so a snapshot is asked for. Events of
 * versions we already hold are ignored. A queue change (or a call's queue) carries the
 * service's next tickets as `next`, which replace that service's next-up list; after an event
 * that did not (a server that sends none, or one whose read failed), the derived lists are
 * refreshed from a snapshot shortly after, so they never drift.
 *
 * Liveness: a heartbeat to /display/<id>/alive every 2 s; a failure (or a socket disconnect,
 * or the browser going offline) shows the banner at once and dims the board, so a patient never
 * trusts a stale call. The socket is dropped and reconnected when the heartbeat comes back.
 *
 * Voice: ticket.called carries the announcement's WAV URL; calls are queued and played one
 * after another (chime + announcement, N times), never overlapping. Mute screens play nothing.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("screen-config").textContent);
  var HEARTBEAT_MS = 2000;
  var HEARTBEAT_TIMEOUT_MS = 3000;
  var QUIET_MS = 4000;
  // Snapshot refreshes for the derived lists: 500 ms after events, at most one per 2.5-3.5 s
  // per screen (jittered, so a hall of screens does not ask at the same instant).
  var REFRESH_DEBOUNCE_MS = 500;
  var RENDER_WAIT_MS = 100; // the longest a state change waits for a frame to be drawn
  var REFRESH_MIN_GAP_MS = 2500 + Math.floor(Math.random() * 1000);
  var AT_COUNTER = { called: true, serving: true };

  var counterById = {};
  cfg.counters.forEach(function (c) {
    counterById[c.id] = c;
  });
  var serviceById = {};
  cfg.services.forEach(function (s) {
    serviceById[s.id] = s;
  });
  var counterFilter = cfg.kind === "hall" ? null : cfg.counters.map(function (c) { return c.id; });

  /* Everything the screen shows, plus what tests and the benchmark read. */
  var S = (window.screenState = {
    versions: {},
    nowCalling: [],
    next: [],
    missed: [],
    services: {},
    hero: null,
    online: false,
    awaitingSnapshot: true,
    buffered: [],
    announced: {},
    connects: 0,
    snapshots: 0,
    gaps: 0,
    refreshDue: false, // a snapshot refresh is scheduled
    eventsCarryNext: false, // the server's queue changes carry the next tickets
    askDue: false, // a snapshot ask waits for the spacing between asks
    snapshotsInFlight: 0, // snapshots asked for and not answered yet
    audioLog: [],
    renderedCalls: [],
    renders: 0, // boards drawn (a burst of events draws one)
  });

  var socket = null;
  var manualDisconnect = false;
  var lastPacketAt = 0;

  // ------------------------------------------------------------------ helpers

  function $(id) {
    return document.getElementById(id);
  }

  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") e.className = attrs[k];
      else if (k === "text") e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function minutes(s) {
    if (s === null || s === undefined) return "—";
    return "约" + Math.max(1, Math.ceil(s / 60)) + "分钟";
  }

  function inFilter(counterId) {
    return !counterFilter || counterFilter.indexOf(counterId) >= 0;
  }

  function serviceOf(p) {
    return p.service_id || (p.ticket && p.ticket.service_id) || null;
  }

  // ------------------------------------------------------------------ clock

  function tick() {
    var now = new Date();
    var tz = cfg.site.tz || undefined;
    $("clock-time").textContent = now.toLocaleTimeString("zh-CN", { hour12: false, timeZone: tz });
    $("clock-date").textContent = now.toLocaleDateString("zh-CN", {
      month: "long", day: "numeric", weekday: "long", timeZone: tz,
    });
  }

  // ------------------------------------------------------------------ online / offline

  function setOffline(why) {
    if (S.online || $("offline-banner").hidden) {
      S.offlineSince = Date.now();
      S.offlineReason = why;
    }
    S.online = false;
    $("offline-banner").hidden = false;
    document.body.classList.add("offline");
  }

  function setOnline() {
    S.online = true;
    $("offline-banner").hidden = true;
    document.body.classList.remove("offline");
  }

  function heartbeat() {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, HEARTBEAT_TIMEOUT_MS);
    fetch("/display/" + encodeURIComponent(cfg.id) + "/alive", { cache: "no-store", signal: ctl.signal })
      .then(function (r) {
        if (!r.ok) throw new Error("alive " + r.status);
        return r.json();
      })
      .then(function () {
        if (manualDisconnect && socket) {
          manualDisconnect = false;
          socket.connect();
        }
      })
      .catch(function () {
        // a slow answer while the socket still brings packets is load, not an outage
        if (socket && socket.connected && Date.now() - lastPacketAt < QUIET_MS) return;
        setOffline("heartbeat");
        if (socket && socket.connected) {
          manualDisconnect = true;
          socket.disconnect();
        } else if (socket && !socket.active) {
          manualDisconnect = true;
        }
      })
      .finally(function () {
        clearTimeout(timer);
        setTimeout(heartbeat, HEARTBEAT_MS);
      });
  }

  // ------------------------------------------------------------------ snapshots

  var refreshTimer = null;
  var lastRefresh = 0;
  var snapshotAsked = 0;
  var askTimer = null;
  var ASK_MIN_GAP_MS = 250;
  // Versions that events showed we are missing: a snapshot that does not reach them yet
  // (it was taken before those events) is followed by another ask.
  var wanted = {};
  var missingAsks = 0;

  /* Ask for a snapshot now, or at the end of the 250 ms spacing between asks: never dropped. */
  function requestSnapshot() {
    if (!socket || !socket.connected) return;
    var wait = snapshotAsked + ASK_MIN_GAP_MS - Date.now();
    if (wait > 0) {
      if (!askTimer) {
        S.askDue = true;
        askTimer = setTimeout(function () {
          askTimer = null;
          S.askDue = false;
          requestSnapshot();
        }, wait);
      }
      return;
    }
    snapshotAsked = Date.now();
    S.snapshotsInFlight += 1;
    socket.emit("snapshot");
  }

  function stillMissing(snap) {
    return Object.keys(wanted).some(function (sid) {
      return (snap.versions[sid] || 0) < wanted[sid];
    });
  }

  function scheduleRefresh() {
    if (refreshTimer) return; // one is due already
    S.refreshDue = true;
    var now = Date.now();
    var wait = Math.max(REFRESH_DEBOUNCE_MS, lastRefresh + REFRESH_MIN_GAP_MS - now);
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      S.refreshDue = false;
      lastRefresh = Date.now();
      requestSnapshot();
    }, wait);
  }

  function isStale(snap) {
    return Object.keys(S.versions).some(function (sid) {
      return (snap.versions[sid] || 0) < S.versions[sid];
    });
  }

  function onSnapshot(snap) {
    if (!snap || !snap.versions) return;
    S.snapshotsInFlight = Math.max(0, S.snapshotsInFlight - 1);
    var fresh = S.awaitingSnapshot;
    if (!fresh && isStale(snap)) {
      S.staleSnapshots = (S.staleSnapshots || 0) + 1;
      if (S.staleSnapshots < 3) {
        scheduleRefresh();
        return;
      }
    }
    S.staleSnapshots = 0;
    S.snapshots += 1;
    if (stillMissing(snap) && ++missingAsks <= 3) {
      requestSnapshot(); // taken before the events that showed the gap: ask again
    } else {
      wanted = {};
      missingAsks = 0;
    }
    S.versions = Object.assign({}, snap.versions);
    S.nowCalling = snap.now_calling.filter(function (e) {
      return e.counter && inFilter(e.counter.id);
    });
    S.next = snap.next.slice();
    S.missed = snap.missed.slice();
    S.services = {};
    snap.services.forEach(function (s) {
      S.services[s.id] = s;
    });
    S.hero = S.nowCalling[0] || null; // the latest call (the snapshot lists them newest first)
    if (fresh) {
      S.awaitingSnapshot = false;
      var held = S.buffered;
      S.buffered = [];
      held.forEach(function (ev) {
        onEvent(ev[0], ev[1]);
      });
      setOnline();
    }
    scheduleRender();
  }

  // ------------------------------------------------------------------ events

  function onEvent(name, p) {
    if (S.awaitingSnapshot) {
      S.buffered.push([name, p]);
      return;
    }
    var sid = serviceOf(p);
    if (!sid) return;
    var known = S.versions[sid] || 0;
    if (p.version < known) {
      // already part of what we show (a snapshot overtook the event); a call in it is still
      // announced once, if the snapshot says it is current
      if (name === "ticket.called") announceCurrent(p);
      return;
    }
    if (p.from_version > known) {
      S.gaps += 1; // something was missed: the snapshot brings it
      wanted[sid] = Math.max(wanted[sid] || 0, p.version);
      if (name === "ticket.called") applyCalled(p);
      scheduleRender();
      requestSnapshot();
      return;
    }
    S.versions[sid] = p.version;
    var next = null; // the service's next tickets, when the event carries them
    if (name === "ticket.called") {
      applyCalled(p);
      // the call's own queue change rides in the call (no separate queue.changed)
      if (p.queue) {
        applyQueue({
          service_id: sid,
          waiting: p.queue.waiting,
          estimated_wait_s: p.queue.estimated_wait_s,
        });
        next = p.queue.next || null;
      }
    } else if (name === "ticket.changed") applyChanged(p);
    else if (name === "queue.changed") {
      applyQueue(p);
      next = p.next || null;
    }
    if (next) applyNext(sid, next);
    scheduleRender();
    // Every change to a line comes with its queue change; when those carry the next tickets,
    // the other events need no snapshot either.
    if (!next && !(S.eventsCarryNext && name !== "queue.changed" && name !== "ticket.called")) {
      scheduleRefresh();
    }
  }

  /* A service's next tickets, as the server read them when the event went out. */
  function applyNext(sid, list) {
    S.next = S.next.filter(function (t) { return t.service_id !== sid; }).concat(list);
    S.eventsCarryNext = true;
  }

  function dropTicket(list, id) {
    return list.filter(function (t) { return (t.ticket ? t.ticket.id : t.id) !== id; });
  }

  function applyCalled(p) {
    S.next = dropTicket(S.next, p.ticket.id);
    S.missed = dropTicket(S.missed, p.ticket.id);
    if (!inFilter(p.counter.id)) return;
    S.nowCalling = S.nowCalling.filter(function (e) {
      return e.ticket.id !== p.ticket.id && !(e.counter && e.counter.id === p.counter.id);
    });
    var entry = {
      ticket: p.ticket,
      status: "called",
      called_at: new Date().toISOString(),
      counter: p.counter,
      announcement: p.announcement,
    };
    S.nowCalling.unshift(entry);
    S.hero = entry;
    S.flash = true;
    remember(p);
  }

  function announceCurrent(p) {
    var entry = S.nowCalling.filter(function (e) {
      return e.ticket.id === p.ticket.id && e.counter && e.counter.id === p.counter.id;
    })[0];
    if (!entry) return;
    entry.announcement = p.announcement;
    remember(p);
    render();
  }

  /* The first time a call (ticket, call count) is seen: record it and announce it. */
  function remember(p) {
    var key = p.ticket.id + ":" + p.call_count;
    if (S.announced[key]) return;
    S.announced[key] = true;
    var seen = { key: key, ticket_id: p.ticket.id, number: p.ticket.number, at: performance.now() };
    S.renderedCalls.push(seen);
    // wall-clock time of the first frame painted with the call (the benchmark reads it)
    requestAnimationFrame(function () {
      seen.painted_epoch_ms = performance.timeOrigin + performance.now();
    });
    announce(p.announcement, key);
  }

  function applyChanged(p) {
    var t = p.ticket;
    if (AT_COUNTER[t.status]) {
      S.nowCalling.forEach(function (e) {
        if (e.ticket.id === t.id) e.status = t.status;
      });
    } else {
      S.nowCalling = dropTicket(S.nowCalling, t.id);
      if (S.hero && S.hero.ticket.id === t.id) S.hero = S.nowCalling[0] || null;
    }
    if (t.status !== "waiting") S.next = dropTicket(S.next, t.id);
    if (t.status === "no_show") {
      if (!S.missed.some(function (m) { return m.id === t.id; })) {
        S.missed.push({ id: t.id, number: t.number, service_id: t.service_id, masked_name: t.masked_name });
      }
    } else {
      S.missed = dropTicket(S.missed, t.id);
    }
  }

  function applyQueue(p) {
    var s = S.services[p.service_id];
    if (s) {
      s.waiting = p.waiting;
      s.estimated_wait_s = p.estimated_wait_s;
    }
  }

  // ------------------------------------------------------------------ voice

  var player = new Audio();
  player.preload = "auto";
  var audioQueue = [];
  var playing = false;

  function announce(ann, key) {
    if (!cfg.voice || !ann) return;
    var url = (cfg.english_line && ann.audio_url_en) || ann.audio_url;
    var times = cfg.repeat || ann.times || 1;
    for (var i = 0; i < times; i++) {
      audioQueue.push({ url: url, text: ann.text, key: key, round: i + 1 });
    }
    pump();
  }

  function finished(entry, outcome) {
    entry.end = performance.now();
    entry.outcome = outcome;
    playing = false;
    setTimeout(pump, 400); // a short pause between announcements
  }

  function speakFallback(item, entry) {
    var synth = window.speechSynthesis;
    var voices = synth ? synth.getVoices() : [];
    if (!synth || !voices.length || !item.text) {
      finished(entry, "failed");
      return;
    }
    var u = new SpeechSynthesisUtterance(item.text);
    u.lang = "zh-CN";
    u.onend = function () { finished(entry, "speech"); };
    u.onerror = function () { finished(entry, "failed"); };
    synth.speak(u);
  }

  function pump() {
    if (playing || !audioQueue.length) return;
    var item = audioQueue.shift();
    playing = true;
    var entry = { key: item.key, url: item.url, round: item.round, start: performance.now() };
    S.audioLog.push(entry);
    if (!item.url) {
      speakFallback(item, entry);
      return;
    }
    var done = false;
    function once(outcome) {
      if (done) return;
      done = true;
      player.onended = player.onerror = null;
      if (outcome === "error") speakFallback(item, entry);
      else finished(entry, outcome);
    }
    player.onended = function () { once("played"); };
    player.onerror = function () { once("error"); };
    player.src = item.url;
    var started = player.play();
    if (started && started.catch) started.catch(function () { once("error"); });
  }

  // ------------------------------------------------------------------ rendering

  function ticketItem(t, extraClass) {
    var li = h("li", { "data-ticket-id": String(t.id), class: extraClass || "" }, [t.number]);
    if (t.masked_name) li.appendChild(h("span", { class: "masked", text: t.masked_name }));
    return li;
  }

  function heroPanel(label, labelEn) {
    var e = S.hero;
    var counterName = e && e.counter ? e.counter.name : "";
    var en = "";
    if (cfg.english_line && e) {
      en = (e.announcement && e.announcement.text_en) || "No. " + e.ticket.number + " · " + (e.counter ? e.counter.name_en : "");
    }
    var hero = h("section", {
      id: "hero",
      class: "panel hero" + (e ? "" : " idle") + (S.flash || Date.now() < flashUntil ? " flash" : ""),
      "data-ticket-id": e ? String(e.ticket.id) : "",
    }, [
      h("div", { class: "label" }, [label, cfg.english_line ? h("span", { class: "en", text: " " + labelEn }) : null]),
      h("div", { class: "hero-number", text: e ? e.ticket.number : "—" }),
      h("div", { class: "hero-name", text: e && e.ticket.masked_name ? e.ticket.masked_name : "" }),
      h("div", { class: "hero-counter", text: e ? "请到 " + counterName : "请留意叫号" }),
      h("div", { class: "hero-en", text: en }),
    ]);
    return hero;
  }

  var showsNames = cfg.services.some(function (s) { return s.privacy !== "number_only"; });

  function counterTile(c, e) {
    return h("div", {
      class: "counter-card" + (e ? " " + e.status : " empty"),
      "data-counter-id": c.id,
      "data-ticket-id": e ? String(e.ticket.id) : "",
    }, [
      h("span", { class: "counter-name" }, [
        h("span", { class: "zh", text: c.name_zh }),
        cfg.english_line ? h("span", { class: "en", text: c.name_en }) : null,
      ]),
      h("span", { class: "counter-now" }, [
        h("span", { class: "counter-number", text: e ? e.ticket.number : "—" }),
        // always present on screens that show names: every tile keeps the same width
        showsNames ? h("span", { class: "counter-masked", text: e && e.ticket.masked_name ? e.ticket.masked_name : "" }) : null,
      ]),
    ]);
  }

  function countersGrid() {
    var current = {};
    S.nowCalling.forEach(function (e) {
      if (e.counter && !current[e.counter.id]) current[e.counter.id] = e;
    });
    return h("div", { class: "counters" }, cfg.counters.map(function (c) {
      return counterTile(c, current[c.id]);
    }));
  }

  function serviceBlock(s, limit) {
    var live = S.services[s.id] || {};
    var next = S.next.filter(function (t) { return t.service_id === s.id; }).slice(0, limit);
    var list = h("ul", { class: "next-list", "data-service-id": s.id }, next.map(function (t) {
      return ticketItem(t, t.at_door ? "at-door" : "");
    }));
    return h("div", { class: "svc", "data-service-id": s.id }, [
      h("div", { class: "svc-head" }, [
        h("span", { class: "svc-name" }, [s.name_zh, cfg.english_line ? h("span", { class: "en", text: " " + s.name_en }) : null]),
        h("span", { class: "svc-stats" }, [
          "等候 ", h("b", { class: "svc-waiting", text: live.waiting === undefined ? "—" : String(live.waiting) }), " 人 · ",
          h("span", { class: "svc-wait", text: minutes(live.estimated_wait_s) }),
        ]),
      ]),
      next.length ? list : h("div", { class: "empty-note next-list", "data-service-id": s.id, text: "暂无等候" }),
    ]);
  }

  function missedPanel() {
    return h("section", { class: "panel missed", id: "missed" }, [
      h("h2", {}, ["过号 ", cfg.english_line ? h("span", { class: "en", text: "Missed" }) : null]),
      S.missed.length
        ? h("ul", { class: "missed-list" }, S.missed.slice(-12).map(function (t) { return ticketItem(t); }))
        : h("div", { class: "empty-note", text: "无" }),
    ]);
  }

  function renderHall(main) {
    var grid = countersGrid();
    var calling = h("div", { class: "calling" + (fit.compact ? " compact" : "") }, [heroPanel("正在呼叫", "Now calling"), grid]);
    var queues = h("section", { class: "panel queues" }, [
      h("h2", {}, [
        "候诊 · 下一位 ", cfg.english_line ? h("span", { class: "en", text: "Waiting · next" }) : null,
        h("span", { class: "pager", hidden: "" }),
      ]),
    ].concat(cfg.services.map(function (s) { return serviceBlock(s, Math.min(cfg.next_count, 6)); })));
    main.appendChild(calling);
    main.appendChild(h("div", { class: "side" }, [queues, missedPanel()]));
    keepFit(calling, grid, queues);
  }

  /* Give the fresh board the fitting of the live one, so the morph leaves it alone unless
     the fitting itself changes (fitHall runs on the live board afterwards). */
  function keepFit(calling, grid, queues) {
    if (!fit.key) return;
    grid.style.setProperty("--tiles", String(fit.tiles));
    grid.style.setProperty("--cols", String(fit.cols));
    grid.style.setProperty("--rows", String(fit.rows));
    grid.style.setProperty("--tile-font", fit.tileFont + "px");
    if (fit.pages > 1) {
      grid.classList.add("paged");
      calling.appendChild(h("div", { class: "tiles-pager" }));
    }
    showTilePage(grid);
    queues.style.setProperty("--s", String(fit.svcScale));
    showSvcPage(queues);
  }

  function fitHall(main) {
    layoutTiles(main.querySelector(".calling"), main.querySelector(".counters"));
    layoutQueues(main.querySelector(".queues"));
  }

  function renderDoor(main) {
    var c = cfg.counters[0] || { name_zh: cfg.name, name_en: "" };
    var head = [h("div", { class: "door-name" }, [c.name_zh, cfg.english_line ? h("span", { class: "en", text: " " + c.name_en }) : null])];
    if (cfg.kind === "room" && c.doctor_name) {
      head.push(h("div", { class: "doctor" }, [
        h("div", { class: "doctor-name", text: c.doctor_name }),
        h("div", { class: "doctor-title", text: c.doctor_title }),
      ]));
    }
    main.appendChild(h("section", { class: "panel door" }, head));
    main.appendChild(heroPanel(cfg.kind === "room" ? "请就诊" : "正在办理", cfg.kind === "room" ? "Now seeing" : "Now serving"));
    main.appendChild(h("div", { class: "lists" }, [
      h("section", { class: "panel next" }, [
        h("h2", {}, ["请准备 ", cfg.english_line ? h("span", { class: "en", text: "Please be ready" }) : null]),
      ].concat(cfg.services.map(function (s) { return serviceBlock(s, cfg.next_count); }))),
      missedPanel(),
    ]));
  }

  /* Events change the state at once and draw it once per frame: a call arrives with the change
     of the ticket before it and of the queue, and a snapshot with the events it held, so a
     burst of them costs one build, morph and fit instead of one each. The timer draws when
     frames are not being produced (a hidden page) so the state never waits for a frame. */
  var renderQueued = false;

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    var frame = requestAnimationFrame(drawQueued);
    var timer = setTimeout(drawQueued, RENDER_WAIT_MS);
    function drawQueued() {
      if (!renderQueued) return;
      cancelAnimationFrame(frame);
      clearTimeout(timer);
      renderQueued = false;
      render();
    }
  }

  /* The page is built afresh from the state, then morphed into the live one (morphdom): only
     nodes that differ are touched, so a call repaints the hero, a tile and a list, not the whole
     1920x1080 board (a full rebuild cost each screen about 40 ms of main thread per call). */
  function render() {
    S.renders += 1;
    var main = $("main");
    var fresh = main.cloneNode(false);
    if (cfg.kind === "hall") renderHall(fresh);
    else renderDoor(fresh);
    morphdom(main, fresh, { childrenOnly: true });
    if (cfg.kind === "hall") fitHall(main);
    if (S.flash) restartFlash(main);
  }

  /* A new call flashes the hero from the start, also when it kept the class of the last one. */
  var FLASH_MS = 2400; // .hero.flash in screen.css: 4 x 0.6 s
  var flashUntil = 0;

  function restartFlash(main) {
    S.flash = false;
    flashUntil = Date.now() + FLASH_MS;
    var hero = main.querySelector(".hero");
    if (hero && hero.getAnimations) {
      hero.getAnimations().forEach(function (a) {
        a.cancel();
        a.play();
      });
    }
  }

  // ------------------------------------------------------------------ fitting the hall board
  //
  // Every counter tile must be on screen and legible from 5 m. The tile grid's columns and its
  // type size (the ticket number's; the rest of a tile is in em of it) are chosen from the
  // number of counters and the space left under the latest call: the largest size at which
  // all tiles fit, from the tiles' measured natural size. Below a comfortable size the latest
  // call is drawn compact to give the tiles more room; if even the minimum size cannot hold
  // them all, the tiles are paged (PAGE_MS each). The "next up" list shrinks to its minimum
  // scale, then pages its services the same way. Nothing is clipped.

  var PAGE_MS = 6000;
  var TILE_MIN_VMIN = 2.6; // ticket numbers on tiles: at least 28 px at 1080p (about 18 mm on 55")
  var TILE_COMFORT_VMIN = 4; // below this the latest call is drawn compact
  var TILE_MAX_VMIN = 6;
  var SVC_SCALES = [1, 0.9, 0.8, 0.73]; // next-up numbers: 3.6 vmin down to 2.63 vmin

  var fit = (S.layout = {
    key: "", metrics: null, compact: false,
    tiles: 0, cols: 1, rows: 1, tileFont: 0, perPage: 0, pages: 1, page: 0,
    svcScale: 1, svcPages: 1, svcPage: 0, svcGroups: null, queuesSig: "",
  });

  function vmin() {
    return Math.min(window.innerWidth, window.innerHeight) / 100;
  }

  /* A tile's natural size in em of its number font (the names never change, and every tile
     reserves the width of a ticket number and a masked name). */
  function tileMetrics() {
    var probe = countersGrid();
    probe.className = "counters probe";
    document.body.appendChild(probe);
    var w = 0;
    var hgt = 0;
    Array.prototype.forEach.call(probe.children, function (t) {
      var r = t.getBoundingClientRect();
      w = Math.max(w, r.width);
      hgt = Math.max(hgt, r.height);
    });
    probe.remove();
    return { w: w / 100, h: hgt / 100 };
  }

  /* The columns giving the largest type for n tiles in a W x H box. */
  function bestGrid(n, W, H, gap, maxFont) {
    var best = { cols: 1, rows: n, font: 0 };
    for (var cols = 1; cols <= Math.max(1, n); cols++) {
      var rows = Math.ceil(n / cols);
      var tw = (W - gap * (cols - 1)) / cols;
      var th = (H - gap * (rows - 1)) / rows;
      var font = Math.min(tw / fit.metrics.w, th / fit.metrics.h, maxFont);
      if (font > best.font + 0.01) best = { cols: cols, rows: rows, font: font };
    }
    best.font = Math.floor(best.font * 0.98 * 2) / 2; // sub-pixel rounding and borders
    return best;
  }

  function planTiles(grid) {
    var n = cfg.counters.length;
    var box = grid.getBoundingClientRect();
    var gap = parseFloat(getComputedStyle(grid).rowGap) || 0;
    var W = box.width;
    var H = box.height;
    var plan = bestGrid(n, W, H, gap, TILE_MAX_VMIN * vmin());
    plan.perPage = n;
    plan.pages = 1;
    var minFont = TILE_MIN_VMIN * vmin();
    if (n && plan.font < minFont) {
      H -= 4 * vmin(); // room for the page indicator
      var need = minFont / 0.98 + 0.5; // what bestGrid rounds down to at least minFont
      var cols = Math.max(1, Math.floor((W + gap) / (need * fit.metrics.w + gap)));
      var rows = Math.max(1, Math.floor((H + gap) / (need * fit.metrics.h + gap)));
      var pages = Math.ceil(n / (cols * rows));
      var perPage = Math.ceil(n / pages);
      plan = bestGrid(perPage, W, H, gap, TILE_MAX_VMIN * vmin());
      plan.perPage = perPage;
      plan.pages = pages;
    }
    return plan;
  }

  function showTilePage(grid) {
    var from = fit.page * fit.perPage;
    Array.prototype.forEach.call(grid.querySelectorAll(".counter-card"), function (t, i) {
      t.hidden = i < from || i >= from + fit.perPage;
    });
    var pager = grid.parentNode && grid.parentNode.querySelector(".tiles-pager");
    if (pager) pager.textContent = fit.page + 1 + " / " + fit.pages;
  }

  function layoutTiles(calling, grid) {
    var key = window.innerWidth + "x" + window.innerHeight + ":" + cfg.counters.length;
    if (key !== fit.key) {
      fit.key = key;
      fit.metrics = tileMetrics();
      fit.compact = false;
      calling.classList.remove("compact");
      if (planTiles(grid).font < TILE_COMFORT_VMIN * vmin()) {
        fit.compact = true;
        calling.classList.add("compact");
      }
    }
    var plan = planTiles(grid);
    fit.tiles = cfg.counters.length;
    fit.cols = plan.cols;
    fit.rows = plan.rows;
    fit.tileFont = plan.font;
    fit.perPage = plan.perPage;
    fit.pages = plan.pages;
    if (fit.page >= fit.pages) fit.page = 0;
    grid.style.setProperty("--tiles", String(fit.tiles));
    grid.style.setProperty("--cols", String(plan.cols));
    grid.style.setProperty("--rows", String(plan.rows));
    grid.style.setProperty("--tile-font", plan.font + "px");
    grid.classList.toggle("paged", fit.pages > 1);
    var pager = calling.querySelector(".tiles-pager");
    if (fit.pages > 1 && !pager) calling.appendChild(h("div", { class: "tiles-pager" }));
    if (fit.pages < 2 && pager) pager.remove();
    showTilePage(grid);
  }

  function overflows(panel) {
    return panel.scrollHeight > panel.clientHeight + 1;
  }

  function showSvcPage(panel) {
    var blocks = panel.querySelectorAll(".svc");
    var group = fit.svcGroups ? fit.svcGroups[fit.svcPage] : null;
    Array.prototype.forEach.call(blocks, function (b, i) {
      b.hidden = group !== null && group.indexOf(i) < 0;
    });
    var pager = panel.querySelector(".pager");
    pager.hidden = fit.svcPages < 2;
    pager.textContent = fit.svcPage + 1 + " / " + fit.svcPages;
  }

  /* Shrink the next-up list to fit, then split its services into pages. The same text in the
     same window fits the same way: then the live panel already has its fitting (keepFit) and
     nothing is measured, which saves a forced layout per scale tried. */
  function layoutQueues(panel) {
    var sig = window.innerWidth + "x" + window.innerHeight + "|" + panel.textContent;
    if (sig === fit.queuesSig) return;
    var i = 0;
    panel.style.setProperty("--s", String(SVC_SCALES[0]));
    while (overflows(panel) && i < SVC_SCALES.length - 1) {
      i += 1;
      panel.style.setProperty("--s", String(SVC_SCALES[i]));
    }
    fit.svcScale = SVC_SCALES[i];
    fit.svcGroups = null;
    fit.svcPages = 1;
    if (overflows(panel) && panel.querySelector(".svc")) {
      var pager = panel.querySelector(".pager");
      pager.hidden = false; // its line is part of the heading
      var blocks = panel.querySelectorAll(".svc");
      var pad = parseFloat(getComputedStyle(panel).paddingBottom) || 0;
      var top = blocks[0].offsetTop;
      var room = panel.clientHeight - pad - top;
      var groups = [[]];
      var used = 0;
      Array.prototype.forEach.call(blocks, function (b, k) {
        var size = b.offsetHeight;
        if (groups[groups.length - 1].length && used + size > room) {
          groups.push([]);
          used = 0;
        }
        groups[groups.length - 1].push(k);
        used += size;
      });
      fit.svcGroups = groups;
      fit.svcPages = groups.length;
    }
    if (fit.svcPage >= fit.svcPages) fit.svcPage = 0;
    showSvcPage(panel);
    fit.queuesSig = window.innerWidth + "x" + window.innerHeight + "|" + panel.textContent;
  }

  function turnPages() {
    if (fit.pages > 1) {
      fit.page = (fit.page + 1) % fit.pages;
      var grid = document.querySelector("#main .counters");
      if (grid) showTilePage(grid);
    }
    if (fit.svcPages > 1) {
      fit.svcPage = (fit.svcPage + 1) % fit.svcPages;
      var panel = document.querySelector("#main .queues");
      if (panel) showSvcPage(panel);
    }
  }

  // ------------------------------------------------------------------ start

  function connect(preview) {
    socket = io("/display", {
      transports: ["websocket"],
      reconnectionDelay: 300,
      reconnectionDelayMax: 2000,
      timeout: 5000,
      auth: function (cb) {
        cb(preview ? { display_id: cfg.id } : { token: Device.token(), display_id: cfg.id });
      },
    });
    window.screenSocket = socket;
    socket.io.on("packet", function () {
      lastPacketAt = Date.now();
    });
    // The server sends the snapshot from its connect handler, so it may arrive before the
    // client's "connect" event: the wait for it starts at disconnect (and at page load).
    socket.on("connect", function () {
      S.connects += 1;
      setTimeout(function () {
        if (S.awaitingSnapshot && socket.connected) socket.emit("snapshot");
      }, 2000);
    });
    socket.on("disconnect", function () {
      setOffline("disconnect");
      S.awaitingSnapshot = true; // nothing is shown as current until the next snapshot
      S.snapshotsInFlight = 0; // answers to asks on the old connection never come
      wanted = {}; // the snapshot after the reconnect brings everything
      missingAsks = 0;
      S.buffered = [];
      audioQueue.length = 0; // calls queued before the outage are not announced late
    });
    socket.on("connect_error", function (err) {
      setOffline("connect_error");
      var code = err && err.data && err.data.code;
      if (!preview && (code === "auth.required" || code === "auth.forbidden")) {
        Device.whoami().then(function (who) {
          if (who === null) {
            Device.forget(); // revoked: pair again
            location.reload();
          }
        }, function () {});
      }
    });
    socket.on("snapshot", onSnapshot);
    ["ticket.called", "ticket.changed", "queue.changed", "counter.changed"].forEach(function (name) {
      socket.on(name, function (p) { onEvent(name, p); });
    });
  }

  function showApp() {
    $("pairing").hidden = true;
    $("app").hidden = false;
    tick();
    setInterval(tick, 1000);
    if (cfg.kind === "hall") {
      setInterval(turnPages, PAGE_MS);
      window.addEventListener("resize", render);
      if (document.fonts) {
        document.fonts.ready.then(function () {
          fit.key = ""; // measure the tiles again with the final fonts
          fit.queuesSig = "";
          render();
        });
      }
    }
    setOffline("starting");
    render();
  }

  function start() {
    window.addEventListener("offline", function () { setOffline("browser-offline"); });
    var token = Device.token();
    var check = token ? Device.whoami() : Promise.resolve(null);
    check.then(function (who) {
      if (token && who === null) {
        Device.forget();
        token = null;
      }
      if (who && who.kind === "device" && who.role === "display" && who.id !== cfg.id) {
        location.replace("/display/" + encodeURIComponent(who.id));
        return;
      }
      if (token) {
        showApp();
        connect(false);
        heartbeat();
        return;
      }
      // no device token: staff previewing with their login cookie, or pair this screen
      fetch("/api/v1/auth/me", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .catch(function () { return null; })
        .then(function (me) {
          if (me && me.kind === "user") {
            showApp();
            connect(true);
            heartbeat();
            return;
          }
          Device.pairingScreen($("pairing"), "display").then(function () {
            location.reload();
          });
        });
    }, function () {
      // the server is unreachable right now: keep the token and let the socket retry
      showApp();
      connect(false);
      heartbeat();
    });
  }

  start();
})();
