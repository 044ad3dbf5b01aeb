/* The crew's phone view of a sweep: the streets of my zones nearest first, one tap per street.
 *
 * Every tap becomes a check-off with its own id (crypto.randomUUID()), stored at once in the phone's queue
 * (IndexedDB "civic-crew", store "queue"; a photo is kept as a Blob) and shown as "waiting to send (n)".
 * The queue is sent when the tap happens online, when the `online` event fires and every 20 s; an item
 * leaves the queue only after the server answered "ok" or "duplicate" for it.  A 4xx answer keeps it in
 * the queue, visible with the server's message (it is not retried by itself); network errors and 5xx retry.
 * Check-offs without a photo go in one batch (POST api/checks); one with a photo goes alone (POST api/photo,
 * multipart).  POSTs carry the CSRF token in the X-CSRFToken header.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("crew-config").textContent);
  var T = config.text;
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";
  var RETRY_MS = 20000;
  var state = { sweep: null, statuses: [], segments: [], position: null, sending: false, queue: [], map: null, layer: null };

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "style") node.setAttribute("style", attrs[k]);
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  // ------------------------------------------------------------ the queue (IndexedDB)
  var dbPromise = new Promise(function (resolve, reject) {
    var req = indexedDB.open("civic-crew", 1);
    req.onupgradeneeded = function () { req.result.createObjectStore("queue", { keyPath: "client_id" }); };
    req.onsuccess = function () { resolve(req.result); };
    req.onerror = function () { reject(req.error); };
  });
  function tx(mode, work) {
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction("queue", mode);
        var result = work(t.objectStore("queue"));
        t.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function queuePut(item) { return tx("readwrite", function (s) { s.put(item); }); }
  function queueDelete(id) { return tx("readwrite", function (s) { s.delete(id); }); }
  function queueAll() { return tx("readonly", function (s) { return s.getAll(); }); }

  function refreshQueue() {
    return queueAll().then(function (items) {
      state.queue = items.sort(function (a, b) { return a.created < b.created ? -1 : 1; });
      var box = document.getElementById("queue-status");
      var failed = state.queue.filter(function (i) { return i.error; }).length;
      if (box) {
        box.textContent = state.queue.length ? fmt(T.waiting, { n: state.queue.length }) : T.all_sent;
        box.className = "pill" + (failed ? " failed" : state.queue.length ? " waiting" : "");
      }
      renderList();
    });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (crypto.getRandomValues(new Uint8Array(1))[0] & 15); return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }

  function checkOff(segment, status) {
    var card = document.getElementById("segment-" + segment.id);
    var note = card ? card.querySelector("textarea").value.trim() : "";
    var fileInput = card ? card.querySelector("input[type=file]") : null;
    var photo = fileInput && fileInput.files && fileInput.files[0] ? fileInput.files[0] : null;
    var item = {
      client_id: uuid(), sweep_segment_id: segment.id, status: status, note: note,
      checked_at: new Date().toISOString(), created: Date.now(), error: null,
      lat: state.position ? state.position.lat : null, long: state.position ? state.position.long : null,
      photo: photo, photo_name: photo ? photo.name : null
    };
    return queuePut(item).then(function () {
      if (card) { card.querySelector("textarea").value = ""; if (fileInput) fileInput.value = ""; }
      return refreshQueue();
    }).then(send);
  }

  // ------------------------------------------------------------ sending
  function post(url, body, isJson) {
    var headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    if (isJson) headers["Content-Type"] = "application/json";
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers, body: body }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, data: data }; });
    });
  }

  function settle(item, answer) {
    if (answer && (answer.result === "ok" || answer.result === "duplicate")) {
      if (answer.segment) applyStatus(answer.segment.id, answer.segment.status, item.note);
      return queueDelete(item.client_id);
    }
    if (answer && answer.code && answer.code >= 400 && answer.code < 500) {
      var errors = answer.errors || {};
      item.error = Object.keys(errors).map(function (k) { return k + ": " + [].concat(errors[k]).join(" "); }).join("; ") || String(answer.code);
      return queuePut(item);
    }
    return Promise.resolve();  // not answered: try again later
  }

  function send() {
    if (state.sending || !navigator.onLine) return Promise.resolve();
    state.sending = true;
    return queueAll().then(function (items) {
      var ready = items.filter(function (i) { return !i.error; });
      var plain = ready.filter(function (i) { return !i.photo; }).slice(0, 100);
      var withPhoto = ready.filter(function (i) { return i.photo; });
      var chain = Promise.resolve();
      if (plain.length) {
        chain = chain.then(function () {
          var body = JSON.stringify({ checks: plain.map(function (i) {
            return { client_id: i.client_id, sweep_segment_id: i.sweep_segment_id, status: i.status, note: i.note,
                     checked_at: i.checked_at, lat: i.lat, long: i.long };
          }) });
          return post(config.checks_url, body, true).then(function (r) {
            if (r.status >= 400 && r.status < 500 && !(r.data && r.data.results)) {
              var message = (r.data && r.data.message) || String(r.status);
              return Promise.all(plain.map(function (i) { return settle(i, { code: r.status, errors: { "": [message] } }); }));
            }
            var answers = (r.data && r.data.results) || [];
            return Promise.all(plain.map(function (i) {
              return settle(i, answers.filter(function (a) { return a.client_id === i.client_id; })[0]);
            }));
          });
        });
      }
      withPhoto.forEach(function (i) {
        chain = chain.then(function () {
          var form = new FormData();
          ["client_id", "sweep_segment_id", "status", "note", "checked_at", "lat", "long"].forEach(function (k) {
            if (i[k] !== null && i[k] !== undefined) form.append(k, i[k]);
          });
          form.append("photo", i.photo, i.photo_name || "photo.jpg");
          return post(config.photo_url, form, false).then(function (r) {
            var answer = (r.data && r.data.results && r.data.results[0]) || (r.status < 500 ? { code: r.status, errors: { photo: [String(r.status)] } } : null);
            return settle(i, answer);
          });
        });
      });
      return chain;
    }).catch(function () { /* offline or the server is away: the queue stays */ })
      .then(function () { state.sending = false; return refreshQueue(); });
  }

  // ------------------------------------------------------------ the list and the map
  function statusInfo(code) {
    return state.statuses.filter(function (s) { return s.code === code; })[0] || { code: code, label: code, color: "#9e9e9e" };
  }
  function applyStatus(id, status, note) {
    state.segments.forEach(function (s) { if (s.id === id) { s.status = status; s.checked_at = new Date().toISOString(); if (note) s.note = note; } });
  }
  function distance(m) { return m >= 1000 ? (m / 1000).toFixed(1) + " km" : Math.round(m) + " m"; }

  function renderList() {
    var box = document.getElementById("segments");
    if (!box || !state.sweep) return;
    var waiting = {};
    state.queue.forEach(function (q) { (waiting[q.sweep_segment_id] = waiting[q.sweep_segment_id] || []).push(q); });
    box.textContent = "";
    if (!state.segments.length) { box.appendChild(el("p", { "class": "empty", text: T.none })); return; }
    state.segments.forEach(function (seg) {
      var mine = waiting[seg.id] || [];
      var shown = mine.length ? mine[mine.length - 1].status : seg.status;
      var info = statusInfo(shown);
      var buttons = state.statuses.slice(1).map(function (st) {
        var current = st.code === shown;
        return el("button", {
          type: "button", "class": current ? "current" : "", "data-status": st.code,
          style: "border-color:" + st.color + (current ? ";background:" + st.color : ";color:" + st.color),
          text: st.label, onclick: function () { checkOff(seg, st.code); }
        });
      });
      var meta = [info.label, seg.segment_key];
      if (seg.distance_m !== null && seg.distance_m !== undefined) meta.push(fmt(T.away, { distance: distance(seg.distance_m) }));
      meta.push(seg.checked_at ? fmt(T.checked, { when: new Date(seg.checked_at).toLocaleTimeString() }) : T.not_checked);
      var card = el("div", { "class": "segment", id: "segment-" + seg.id, "data-segment": seg.id, style: "border-left-color:" + info.color }, [
        el("h2", { text: seg.street }),
        el("div", { "class": "meta", text: meta.join(" · ") }),
        el("div", { "class": "statuses" }, buttons),
        el("details", {}, [
          el("summary", { text: T.note }),
          el("label", { text: T.note_label }, [el("textarea", { maxlength: "2000" })]),
          el("label", { text: T.photo_label }, [el("input", { type: "file", accept: "image/*", capture: "environment" })])
        ])
      ]);
      mine.forEach(function (q) {
        var line = el("div", { "class": q.error ? "problem" : "pending",
          text: q.error ? fmt(T.not_sent, { message: q.error }) : T.waiting_one + " — " + statusInfo(q.status).label });
        if (q.error) {  // refused by the server: it stays until the crew member discards it
          line.appendChild(el("button", { type: "button", "class": "discard", text: T.discard,
            onclick: function () { queueDelete(q.client_id).then(refreshQueue); } }));
        }
        card.appendChild(line);
      });
      box.appendChild(card);
    });
    renderMap();
  }

  function renderMap() {
    if (!window.L || !document.getElementById("map")) return;
    if (!state.map) {
      state.map = L.map("map", { zoomControl: true, attributionControl: false });
      state.layer = L.layerGroup().addTo(state.map);
    }
    state.layer.clearLayers();
    var bounds = [];
    state.segments.forEach(function (seg) {
      var lines = seg.geometry.type === "MultiLineString" ? seg.geometry.coordinates : [seg.geometry.coordinates];
      lines.forEach(function (line) {
        var latlngs = line.map(function (p) { return [p[1], p[0]]; });
        bounds = bounds.concat(latlngs);
        L.polyline(latlngs, { color: statusInfo(seg.status).color, weight: 6 }).addTo(state.layer)
          .bindTooltip(el("span", { text: seg.street })).on("click", function () {  // text, never HTML
            var card = document.getElementById("segment-" + seg.id);
            if (card) card.scrollIntoView({ behavior: "smooth" });
          });
      });
    });
    if (state.position) L.circleMarker([state.position.lat, state.position.long], { radius: 7, color: "#1565c0" }).addTo(state.layer);
    if (bounds.length && !state.fitted) { state.map.fitBounds(bounds, { padding: [10, 10] }); state.fitted = true; }
  }

  function load() {
    if (!state.sweep) return Promise.resolve();
    var url = state.sweep.segments_url;
    if (state.position) url += "?lat=" + state.position.lat.toFixed(6) + "&long=" + state.position.long.toFixed(6);
    var note = document.getElementById("position-note");
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then(function (data) {
      state.statuses = data.statuses;
      state.segments = data.segments;
      var p = data.progress;
      document.getElementById("progress").textContent = fmt(T.checked_of, { checked: p.checked, total: p.total, percent: p.percent_checked });
      if (note) note.textContent = state.position ? "" : T.no_position;
      renderList();
      keepOffline([url]);
    }).catch(function () { if (note) note.textContent = T.offline_list; });
  }

  // A list fetched before the service worker controlled the page (the first visit) did not pass through it:
  // ask it to keep a copy, so that the page opens with its list without a connection from now on.
  function keepOffline(urls) {
    if (!("serviceWorker" in navigator) || navigator.serviceWorker.controller || !config.sw_url) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage({ keep: urls });
    }).catch(function () { /* the page still works online */ });
  }

  function connection() {
    var box = document.getElementById("connection");
    if (box) box.textContent = navigator.onLine ? T.online : T.offline;
  }

  function start() {
    connection();
    var picker = document.getElementById("sweep-picker");
    var chosen = function () {
      var id = picker ? Number(picker.value) : null;
      state.sweep = config.sweeps.filter(function (s) { return s.id === id; })[0] || null;
      state.statuses = state.sweep ? state.sweep.statuses : [];
      state.fitted = false;
      return load();
    };
    if (picker) {
      var remembered = window.localStorage && localStorage.getItem("civic-crew-sweep");
      if (remembered && picker.querySelector("option[value='" + Number(remembered) + "']")) picker.value = String(Number(remembered));
      picker.addEventListener("change", function () {
        if (window.localStorage) localStorage.setItem("civic-crew-sweep", picker.value);
        chosen();
      });
    }
    refreshQueue().then(chosen).then(send);
    if (navigator.geolocation) {
      navigator.geolocation.getCurrentPosition(function (pos) {
        state.position = { lat: pos.coords.latitude, long: pos.coords.longitude };
        load();
      }, function () { /* no position: sorted by name */ }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    }
    window.addEventListener("online", function () { connection(); send().then(load); });
    window.addEventListener("offline", connection);
    setInterval(function () { send(); }, RETRY_MS);
    setInterval(function () { if (navigator.onLine && !state.queue.length) load(); }, Math.max(20, config.refresh_seconds || 30) * 1000);
    if ("serviceWorker" in navigator && config.sw_url) {
      navigator.serviceWorker.register(config.sw_url, { scope: config.scope }).then(function () {
        return navigator.serviceWorker.ready;
      }).then(function (registration) {
        // What the page needs to open without a connection next time: itself, its scripts and styles.
        var keep = [location.pathname].concat(
          [].map.call(document.querySelectorAll("script[src]"), function (s) { return s.src; }),
          [].map.call(document.querySelectorAll("link[rel=stylesheet]"), function (l) { return l.href; }));
        if (registration.active) registration.active.postMessage({ keep: keep });
      }).catch(function () { /* the page still works online */ });
    }
  }

  window.CrewQueue = { send: send, all: queueAll, reload: load };
  start();
})();
