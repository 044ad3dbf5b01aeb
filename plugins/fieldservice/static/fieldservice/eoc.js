/* The EOC board: fetches /fieldservice/eoc/api/summary and /api/hotspots.geojson every refresh_seconds and
   redraws the numbers and the hot-spot cells in place (the page itself is never reloaded).
   Every text from the server goes into the page as text (textContent), never as HTML. */
(function () {
  "use strict";
  var body = document.body;
  var data = function (name) { return body.getAttribute("data-" + name) || ""; };
  var refresh = Math.max(5, parseInt(data("refresh-seconds"), 10) || 30) * 1000;
  var state = {window: "24h", timer: null, map: null, cells: null, busy: false};
  window.eocBoard = {loadedAt: Date.now(), refreshes: 0, state: state};  // survives only while the page is not reloaded

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function setText(id, value) { var node = document.getElementById(id); if (node) { node.textContent = String(value); } }
  function number(n) { return (n || 0).toLocaleString(document.documentElement.lang || undefined); }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function rows(tableId, items, label, count) {
    var tbody = document.querySelector("#" + tableId + " tbody");
    clear(tbody);
    items.forEach(function (item) {
      var tr = el("tr");
      tr.setAttribute("data-key", item.status || item.service || "");
      tr.appendChild(el("td", item[label]));
      tr.appendChild(el("td", number(item[count]), "n"));
      tbody.appendChild(tr);
    });
  }

  function progress(row) {  // "40% checked, 23% cleared", in the page's language
    return data("text-progress").replace("{checked}", number(row.percent_checked)).replace("{cleared}", number(row.percent_cleared));
  }

  function sweeps(list) {
    var box = document.getElementById("eoc-sweeps");
    clear(box);
    if (!list.length) { box.appendChild(el("p", data("text-no-sweep"))); return; }
    list.forEach(function (sweep) {
      var card = el("div", null, "eoc-sweep");
      card.setAttribute("data-sweep", sweep.id);
      var title = el("strong", sweep.name + " — " + progress(sweep.total));
      title.className = "eoc-sweep-total";
      card.appendChild(title);
      sweep.zones.forEach(function (zone) {
        var line = el("div", null, "eoc-zone");
        line.setAttribute("data-zone", zone.zone || "");
        line.appendChild(el("span", zone.name));
        var bar = el("div", null, "eoc-bar");
        var checked = el("div", null, "checked"); checked.style.width = zone.percent_checked + "%";
        var cleared = el("div", null, "cleared"); cleared.style.width = zone.percent_cleared + "%";
        bar.appendChild(checked); bar.appendChild(cleared);
        line.appendChild(bar);
        line.appendChild(el("span", progress(zone), "eoc-zone-numbers"));
        card.appendChild(line);
      });
      box.appendChild(card);
    });
  }

  function activity(items) {
    var list = document.getElementById("eoc-activity");
    clear(list);
    if (!items.length) { list.appendChild(el("li", data("text-no-activity"))); return; }
    items.forEach(function (item) {
      var li = el("li");
      li.appendChild(el("time", item.time));
      var what = item.kind === "check" ? item.street + " (" + (item.zone || "") + "): " + item.label
                                       : item.reference + " · " + item.service + " · " + item.label;
      li.appendChild(document.createTextNode(what));
      list.appendChild(li);
    });
  }

  function showSummary(s) {
    var c = s.cases;
    setText("eoc-open-window", number(c.open_in_window));
    setText("eoc-new", number(c["new"]));
    setText("eoc-closed", number(c.closed));
    setText("eoc-open-total", number(c.open_total));
    rows("eoc-by-status", c.by_status, "label", "count");
    rows("eoc-by-service", c.by_service, "label", "count");
    sweeps(s.sweeps);
    activity(s.activity);
    setText("eoc-updated", s.updated_time);
    document.getElementById("eoc-storm-note").hidden = !(s.window === "storm" && s.storm_fallback);
  }

  function colour(level) {
    // light yellow -> orange -> dark red with the cell's share of the highest score
    var stops = [[255, 241, 118], [255, 152, 0], [183, 28, 28]];
    var t = Math.max(0, Math.min(1, level)) * 2, i = Math.min(1, Math.floor(t)), f = t - i;
    var a = stops[i], b = stops[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); }).join(",") + ")";
  }

  function bboxOf(map) {
    var b = map.getBounds();
    var clamp = function (v, lim) { return Math.max(-lim, Math.min(lim, v)).toFixed(6); };
    return [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)].join(",");
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    });
  }

  function loadCells() {
    if (!state.map) { return Promise.resolve(); }
    var url = data("hotspots-url") + "?window=" + encodeURIComponent(state.window) + "&zoom=" + state.map.getZoom() +
              "&bbox=" + bboxOf(state.map);
    return getJSON(url).then(function (geojson) {
      state.cells.clearLayers();
      state.cells.addData(geojson);
    });
  }

  function load() {
    if (state.busy) { return; }
    state.busy = true;
    var url = data("summary-url") + "?window=" + encodeURIComponent(state.window);
    Promise.all([getJSON(url).then(showSummary), loadCells()]).then(function () {
      window.eocBoard.refreshes += 1;
      document.getElementById("eoc-error").hidden = true;
    }).catch(function () {
      var note = document.getElementById("eoc-error");
      note.textContent = data("text-error");
      note.hidden = false;
    }).then(function () { state.busy = false; });
  }

  function setupMap() {
    var node = document.getElementById("eoc-map");
    if (!node || !window.L) { return; }
    var map = L.map(node).setView(JSON.parse(data("center") || "[0,0]"), 12);
    if (data("tile-url")) { L.tileLayer(data("tile-url"), {attribution: data("tile-attribution"), maxZoom: 19}).addTo(map); }
    if (data("zones-url")) {
      var zones = L.geoJSON(null, {style: {color: "#1565c0", weight: 2, fillOpacity: 0.03}, interactive: false}).addTo(map);
      getJSON(data("zones-url") + "?zoom=" + map.getZoom() + "&bbox=" + bboxOf(map)).then(function (g) { zones.addData(g); })
        .catch(function () { /* the zones are a backdrop only */ });
    }
    state.cells = L.geoJSON(null, {
      style: function (f) { return {color: "#555", weight: 1, fillColor: colour(f.properties.level), fillOpacity: 0.65}; },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip(number(p.count) + " " + data("text-cases") + " · " + number(p.flagged) + " " + data("text-flagged"));
      }
    }).addTo(map);
    state.map = map;
    map.on("moveend", function () { loadCells().catch(function () {}); });
  }

  function chooseWindow(code) {
    state.window = code;
    Array.prototype.forEach.call(document.querySelectorAll(".eoc-windows button"), function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-window") === code ? "true" : "false");
    });
    load();
  }

  Array.prototype.forEach.call(document.querySelectorAll(".eoc-windows button"), function (b) {
    b.addEventListener("click", function () { chooseWindow(b.getAttribute("data-window")); });
  });
  setupMap();
  load();
  state.timer = window.setInterval(load, refresh);
}());
