/* The report form, enhanced: the form works without this script (address, latitude and longitude
   fields, a "Check for reports nearby" button).  With it: a character counter, address suggestions
   from the city's list, a map to click, "use my location" and a live "Is this it?" panel. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) { return; }
  var lat = document.getElementById("lat");
  var lng = document.getElementById("long");
  var address = document.getElementById("address");
  var seen = form.querySelector("input[name=nearby_seen]");
  var statusLine = document.getElementById("location-status");

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  /* ---- description counter */
  var description = document.getElementById("description");
  var counter = document.getElementById("description-count");
  if (description && counter) {
    var limit = parseInt(counter.getAttribute("data-limit"), 10);
    var template = counter.getAttribute("data-template");
    var count = function () {
      var n = description.value.length;
      counter.textContent = template.replace("__COUNT__", n.toLocaleString(document.documentElement.lang));
      counter.classList.toggle("over", n > limit);
    };
    description.addEventListener("input", count);
    count();
  }

  /* ---- "These articles may answer your question" (the knowledge plugin), as the resident types */
  var articles = document.getElementById("article-suggestions");
  if (description && articles && window.fetch) {
    var articlesTimer = null;
    var renderArticles = function (rows) {
      articles.textContent = "";
      articles.hidden = !rows.length;
      if (!rows.length) { return; }
      var heading = document.createElement("h2");
      heading.textContent = articles.getAttribute("data-title");
      var list = document.createElement("ul");
      rows.forEach(function (row) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = row.url;
        link.textContent = row.title;
        item.appendChild(link);
        if (row.summary) {
          var p = document.createElement("p");
          p.className = "hint";
          p.textContent = row.summary;
          item.appendChild(p);
        }
        list.appendChild(item);
      });
      articles.appendChild(heading);
      articles.appendChild(list);
    };
    description.addEventListener("input", function () {
      clearTimeout(articlesTimer);
      articlesTimer = setTimeout(function () {
        var url = articles.getAttribute("data-url") + "?text=" + encodeURIComponent(description.value.slice(0, 200));
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) { if (data) { renderArticles(data.suggestions || []); } })
          .catch(function () { /* the page keeps the suggestions it was shown with */ });
      }, 600);
    });
  }

  /* ---- the point: inputs, map marker, "Is this it?" */
  var map = null, marker = null, nearbyTimer = null;

  function point() {
    var a = parseFloat(lat.value), b = parseFloat(lng.value);
    if (isNaN(a) || isNaN(b) || a < -90 || a > 90 || b < -180 || b > 180) { return null; }
    return [a, b];
  }

  function showMarker(p, pan) {
    if (!map) { return; }
    if (!p) { if (marker) { map.removeLayer(marker); marker = null; } return; }
    if (!marker) {
      marker = window.L.circleMarker(p, { radius: 9, color: "#a4262c", weight: 3, fillColor: "#f5a623", fillOpacity: 0.9 }).addTo(map);
    } else {
      marker.setLatLng(p);
    }
    if (pan) { map.panTo(p); }
  }

  function setPoint(a, b, pan) {
    lat.value = a.toFixed(6);
    lng.value = b.toFixed(6);
    showMarker([a, b], pan);
    askNearby();
  }

  [lat, lng].forEach(function (input) {
    input.addEventListener("change", function () { showMarker(point(), true); askNearby(); });
  });

  /* ---- "Is this it?" */
  var panel = document.getElementById("nearby");
  function text(tag, content, cls) {
    var el = document.createElement(tag);
    if (content) { el.textContent = content; }
    if (cls) { el.className = cls; }
    return el;
  }
  function renderNearby(cases) {
    var data = panel.dataset;
    panel.textContent = "";
    if (!cases.length) { return; }
    var section = text("section", null, "nearby-panel");
    section.appendChild(text("h2", data.title));
    section.appendChild(text("p", data.intro));
    section.appendChild(text("p", data.emailHint, "hint"));
    var list = text("ul", null, "nearby-list");
    var refs = (seen.value || "").split(",").filter(Boolean);
    cases.forEach(function (c) {
      var li = document.createElement("li");
      li.appendChild(text("strong", c.reference));
      li.appendChild(document.createTextNode(" · " + c.service + " · " + c.status));
      li.appendChild(document.createElement("br"));
      li.appendChild(document.createTextNode((c.address ? c.address + " · " : "") + data.reported.replace("__DATE__", c.created)));
      li.appendChild(document.createElement("br"));
      var button = text("button", data.meToo.replace("__REF__", c.reference), "secondary");
      button.type = "submit";
      button.name = "action";
      button.value = "me_too";
      button.formNoValidate = true;
      button.setAttribute("formaction", c.me_too_url);
      li.appendChild(button);
      list.appendChild(li);
      if (refs.indexOf(c.reference) < 0) { refs.push(c.reference); }
    });
    section.appendChild(list);
    section.appendChild(text("p", data.outro, "hint"));
    panel.appendChild(section);
    seen.value = refs.sort().join(",");
  }
  function askNearby() {
    clearTimeout(nearbyTimer);
    nearbyTimer = setTimeout(function () {
      var p = point();
      if (!p || !window.fetch) { return; }
      var url = panel.dataset.url + "?service=" + encodeURIComponent(panel.dataset.service) + "&lat=" + p[0] + "&long=" + p[1];
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { cases: [] }; })
        .then(function (data) { renderNearby(data.cases || []); })
        .catch(function () { /* the server checks again when the form is sent */ });
    }, 300);
  }

  /* ---- address suggestions from the city's list */
  var options = document.getElementById("address-options");
  var known = {}, addressTimer = null;
  if (address && options && window.fetch) {
    address.addEventListener("input", function () {
      var q = address.value.trim();
      var hit = known[q.toUpperCase()];
      if (hit && hit.lat !== null && hit.long !== null) {
        setPoint(hit.lat, hit.long, true);
        return;
      }
      clearTimeout(addressTimer);
      if (q.length < 3) { return; }
      addressTimer = setTimeout(function () {
        fetch(address.dataset.addressesUrl + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (rows) {
            options.textContent = "";
            rows.forEach(function (row) {
              known[row.address.toUpperCase()] = row;
              var option = document.createElement("option");
              option.value = row.address;
              options.appendChild(option);
            });
          })
          .catch(function () {});
      }, 250);
    });
  }

  /* ---- "use my location" */
  var locate = document.getElementById("use-location");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      statusLine.textContent = "";
      navigator.geolocation.getCurrentPosition(function (pos) {
        setPoint(pos.coords.latitude, pos.coords.longitude, true);
      }, function () {
        statusLine.textContent = locate.dataset.error;
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }

  /* ---- the map (Leaflet from the XStatic-Leaflet package; tiles only when the city configured them) */
  var holder = document.getElementById("report-map");
  if (holder && window.L) {
    document.querySelectorAll("[data-enhance]").forEach(function (el) { el.hidden = false; });
    var d = holder.dataset;
    var start = point() || [parseFloat(d.centerLat), parseFloat(d.centerLong)];
    map = window.L.map(holder, { center: start, zoom: 15, keyboard: true });
    if (d.tileUrl) {
      window.L.tileLayer(d.tileUrl, { attribution: d.tileAttribution, maxZoom: 19 }).addTo(map);
    }
    window.L.control.scale().addTo(map);
    map.on("click", function (e) { setPoint(e.latlng.lat, e.latlng.lng, false); });
    var centre = document.getElementById("pin-centre");
    if (centre) {
      centre.addEventListener("click", function () { var c = map.getCenter(); setPoint(c.lat, c.lng, false); });
    }
    showMarker(point(), false);
  }
  if (point() && !panel.querySelector(".nearby-panel")) { askNearby(); }
})();
