/*
 * Device identity for screens and kiosks (docs/displays.md, pairing), served at /pairing/static/device.js.
 *
 *   Device.token()                  the stored device token, or null
 *   Device.forget()                 drop it (the page pairs again)
 *   Device.headers()                {Authorization: "Bearer …"} (empty without a token)
 *   Device.pair(kind, onCode)       Promise<token>: shows codes through onCode({code, expires_at})
 *                                   until staff approve one, then stores the token and resolves
 *   Device.whoami()                 Promise<{kind, id, role} | null> (null: token refused)
 *   Device.useToken(token)          Promise<principal>: IT pastes an existing device token
 *   Device.pairingScreen(el, kind)  Promise<token>: the standard pairing screen inside el
 *
 * The token lives in localStorage only; it travels as a bearer header and in the Socket.IO
 * auth payload, never in a URL.
 */
(function (global) {
  "use strict";

  var KEY = "queue.device_token";
  var POLL_MS = 2000;
  var API = "/api/v1";

  function storage() {
    try {
      return global.localStorage;
    } catch (err) {
      return null;
    }
  }

  function token() {
    var s = storage();
    return s ? s.getItem(KEY) : null;
  }

  function store(value) {
    var s = storage();
    if (s) s.setItem(KEY, value);
  }

  function forget() {
    var s = storage();
    if (s) s.removeItem(KEY);
  }

  function headers(extra) {
    var h = Object.assign({}, extra || {});
    var t = token();
    if (t) h.Authorization = "Bearer " + t;
    return h;
  }

  function post(path, body) {
    return fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    }).then(function (r) {
      return r.json().then(function (data) {
        return { status: r.status, data: data };
      });
    });
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  function whoami(candidate) {
    var t = candidate || token();
    if (!t) return Promise.resolve(null);
    return fetch(API + "/auth/me", {
      headers: { Authorization: "Bearer " + t },
      cache: "no-store",
    }).then(function (r) {
      if (r.status === 401 || r.status === 403) return null;
      if (!r.ok) throw new Error("auth/me answered " + r.status);
      return r.json();
    });
  }

  function useToken(candidate) {
    var t = (candidate || "").trim();
    return whoami(t).then(function (who) {
      if (!who || who.kind !== "device") throw new Error("this is not a valid device token");
      store(t);
      return who;
    });
  }

  var cancelled = false;

  /* One pairing attempt after another until a token arrives (network errors are retried). */
  function pair(kind, onCode) {
    cancelled = false;
    function attempt() {
      return post("/pairing/start", { kind: kind }).then(function (res) {
        if (res.status !== 201) {
          var wait = (res.data.error && res.data.error.details && res.data.error.details.retry_after_s) || 10;
          if (onCode) onCode({ error: res.data.error, retry_after_s: wait });
          return sleep(wait * 1000).then(attempt);
        }
        var p = res.data;
        if (onCode) onCode({ code: p.code, expires_at: p.expires_at, kind: kind });
        return poll(p);
      }, function () {
        return sleep(POLL_MS).then(attempt);
      });
    }
    function poll(p) {
      if (cancelled) return Promise.reject(new Error("pairing cancelled"));
      if (token()) return Promise.resolve(token()); // a token was pasted meanwhile
      return sleep(POLL_MS)
        .then(function () {
          return post("/pairing/claim", { pairing_id: p.pairing_id, secret: p.secret });
        })
        .then(
          function (res) {
            if (res.status === 200 && res.data.status === "paired" && res.data.token) {
              store(res.data.token);
              return res.data.token;
            }
            if (res.status === 200) return poll(p);
            return attempt(); // expired or refused: a fresh code
          },
          function () {
            return poll(p); // network trouble: keep the same code while it lasts
          }
        );
    }
    return attempt();
  }

  function cancel() {
    cancelled = true;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  /* The standard pairing screen: the code in huge digits, and a field to paste a token. */
  function pairingScreen(root, kind) {
    root.innerHTML = "";
    var box = el("div", "device-pairing");
    box.setAttribute("role", "main");
    box.appendChild(el("h1", "device-pairing-title", "设备配对 Device pairing"));
    box.appendChild(
      el("p", "device-pairing-hint", "请工作人员在管理端输入以下配对码 · Staff: enter this code to pair this " + kind)
    );
    var code = el("div", "device-pairing-code", "······");
    code.setAttribute("data-testid", "pairing-code");
    box.appendChild(code);
    var expiry = el("p", "device-pairing-expiry", "");
    box.appendChild(expiry);
    var form = el("form", "device-pairing-token");
    var input = el("input");
    input.type = "password";
    input.placeholder = "或粘贴设备令牌 / or paste a device token";
    input.autocomplete = "off";
    var button = el("button", null, "使用令牌 Use token");
    button.type = "submit";
    var msg = el("p", "device-pairing-msg", "");
    form.appendChild(input);
    form.appendChild(button);
    box.appendChild(form);
    box.appendChild(msg);
    root.appendChild(box);

    return new Promise(function (resolve) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        useToken(input.value).then(
          function () {
            cancel();
            resolve(token());
          },
          function (err) {
            msg.textContent = "令牌无效 Invalid token: " + err.message;
          }
        );
      });
      pair(kind, function (info) {
        if (info.error) {
          msg.textContent = info.error.message;
          return;
        }
        code.textContent = info.code;
        var until = new Date(info.expires_at);
        expiry.textContent =
          "有效期至 Valid until " + until.toLocaleTimeString("zh-CN", { hour12: false });
      }).then(resolve, function () {});
    });
  }

  global.Device = {
    KEY: KEY,
    token: token,
    forget: forget,
    headers: headers,
    pair: pair,
    cancel: cancel,
    whoami: whoami,
    useToken: useToken,
    pairingScreen: pairingScreen,
  };
})(window);
