/* The map of a crew's day (Field › My day): one marker per work order, from the page's data-markers.
   No library but Leaflet (served locally); popups are built from text nodes (no HTML from the data). */
(function () {
  "use strict";
  var el = document.getElementById("day-map");
  if (!el || !window.L) { return; }
  var markers = JSON.parse(el.getAttribute("data-markers") || "[]");
  var center = JSON.parse(el.getAttribute("data-center") || "[0, 0]");
  var map = L.map(el).setView(center, 13);
  var tiles = el.getAttribute("data-tile-url");
  if (tiles) { L.tileLayer(tiles, {attribution: el.getAttribute("data-tile-attribution") || "", maxZoom: 19}).addTo(map); }
  var bounds = [];
  markers.forEach(function (m) {
    var colour = !m.open ? "#757575" : (m.overdue ? "#c62828" : "#1565c0");
    var dot = L.circleMarker([m.lat, m.long], {radius: 9, color: colour, fillColor: colour, fillOpacity: 0.8});
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = "#" + m.id + " " + m.title;
    box.appendChild(title);
    [m.reference + " · " + m.status, m.place].forEach(function (line) {
      if (!line) { return; }
      var p = document.createElement("div");
      p.textContent = line;
      box.appendChild(p);
    });
    var card = document.getElementById("wo-" + m.id);
    if (card) {
      var link = document.createElement("a");
      link.href = "#wo-" + m.id;
      link.textContent = "↓";
      box.appendChild(link);
    }
    dot.bindPopup(box).addTo(map);
    bounds.push([m.lat, m.long]);
  });
  // Without tiles, the city's streets are the base map once zoomed in enough for raw street lines.
  var streetsUrl = el.getAttribute("data-streets-url");
  var rawZoom = parseInt(el.getAttribute("data-raw-zoom"), 10) || 15;
  if (streetsUrl && !tiles) {
    var streets = L.geoJSON(null, {style: {color: "#90a4ae", weight: 3}, interactive: false}).addTo(map);
    var drawStreets = function () {
      streets.clearLayers();
      if (map.getZoom() < rawZoom) { return; }
      var b = map.getBounds();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
      fetch(streetsUrl + "?zoom=" + map.getZoom() + "&bbox=" + bbox, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (g) { if (g) { streets.addData(g); streets.bringToBack(); } })
        .catch(function () { /* the streets are a backdrop only */ });
    };
    map.on("moveend", drawStreets);
  }
  if (bounds.length) { map.fitBounds(bounds, {padding: [30, 30], maxZoom: 17}); }
}());
