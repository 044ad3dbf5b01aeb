/* FieldMap: a small helper around Leaflet for the field service pages (staff map, sweeps, crews, EOC).
 *
 * Needs leaflet.js (and, optionally, leaflet.markercluster.js) loaded first; both come from the plugin's
 * asset routes (/fieldservice/assets/leaflet/..., /fieldservice/assets/markercluster/...), never a CDN.
 *
 *   var fm = FieldMap.create(element, config);
 *       config: {center: [lat, long], zoom, raw_zoom, tile_url, tile_attribution,
 *                layer_url: ".../layer/{code}.geojson", layers: [layer, ...], labels: {field: label}, texts: {...}}
 *       -> {map, layers: {code: handle}, addLayer(layer, options), switcher}
 *   var handle = fm.addLayer(layer, {params: {sweep: 3}, show: true});
 *       layer: {code, name, geometry, style, popup: [field, ...], visible}  (what the server's map_config gives)
 *       handle.reload(); handle.setParams({sweep: 4}); handle.group (the Leaflet layer); handle.last (last GeoJSON)
 *   FieldMap.escape(text)        HTML-escaped text (every popup value goes through it)
 *   FieldMap.popupHtml(layer, props, config), FieldMap.cellHtml(layer, props, config)
 *                                the popup of a feature and of a grid cell, as HTML with every value escaped
 *   FieldMap.autoStart()         starts every <div data-fieldmap="ID-of-a-JSON-script"> on the page (run on load)
 *
 * A layer reloads on every pan and zoom with the map's bbox and zoom; below raw_zoom the server sends grid
 * cells (points with a count), drawn as circles sized by their count (a click tells the count); at raw_zoom and
 * above, features, styled from the layer's config (a feature's own "color" wins: case status, sweep status).
 */
(function (window) {
  "use strict";
  var L = window.L;

  function escape(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function leafletStyle(style, props) {
    style = style || {};
    var color = (props && props.color) || style.color || "#3949ab";
    return {
      color: color,
      weight: style.weight !== undefined ? style.weight : 3,
      opacity: style.opacity !== undefined ? style.opacity : 0.9,
      fillColor: style.fill_color || color,
      fillOpacity: style.fill_opacity !== undefined ? style.fill_opacity : 0.6,
      radius: style.radius !== undefined ? style.radius : 5
    };
  }

  function popupHtml(layer, props, config) {
    var labels = config.labels || {}, texts = config.texts || {}, rows = [];
    (layer.popup || []).forEach(function (field) {
      var value = props[field];
      if (value === null || value === undefined || value === "") { return; }
      rows.push("<tr><th>" + escape(labels[field] || field) + "</th><td>" + escape(value) + "</td></tr>");
    });
    var html = "<div class=\"fieldmap-popup\"><strong>" + escape(layer.name) + "</strong>";
    if (rows.length) { html += "<table class=\"table table-condensed\">" + rows.join("") + "</table>"; }
    if (typeof props.url === "string" && props.url.charAt(0) === "/" && props.url.charAt(1) !== "/") {
      html += "<a href=\"" + escape(props.url) + "\">" + escape(texts.open_case || "Open") + "</a>";
    }
    return html + "</div>";
  }

  function cellHtml(layer, props, config) {
    var texts = config.texts || {};
    var html = "<div class=\"fieldmap-popup\"><strong>" + escape(layer.name) + "</strong><br>" +
      escape((texts.items || "%(count)s").replace("%(count)s", props.count));
    if (props.statuses) {
      html += "<ul>";
      Object.keys(props.statuses).forEach(function (status) {
        var label = (props.status_labels && props.status_labels[status]) || status;
        html += "<li>" + escape(label) + ": " + escape(props.statuses[status]) + "</li>";
      });
      html += "</ul>";
    }
    return html + "</div>";
  }

  function cellRadius(count) {
    return Math.min(30, 6 + 3 * Math.log(1 + count) / Math.LN2);
  }

  function create(element, config) {
    var map = L.map(element, {preferCanvas: true, maxZoom: 20, minZoom: 3}).setView(config.center, config.zoom || 14);
    if (config.tile_url) {
      L.tileLayer(config.tile_url, {attribution: escape(config.tile_attribution || ""), maxZoom: 20}).addTo(map);
    } else {
      element.classList.add("fieldmap-no-tiles");
    }
    var switcher = L.control.layers(null, null, {collapsed: false}).addTo(map);
    var notice = L.control({position: "bottomleft"});
    notice.onAdd = function () {
      var div = L.DomUtil.create("div", "fieldmap-notice");
      div.style.display = "none";
      return div;
    };
    notice.addTo(map);
    var fm = {map: map, layers: {}, switcher: switcher, config: config};

    function showNotice() {
      var cut = Object.keys(fm.layers).some(function (code) {
        var h = fm.layers[code];
        return map.hasLayer(h.group) && h.last && h.last.properties && h.last.properties.truncated;
      });
      var div = notice.getContainer();
      div.textContent = cut ? (config.texts || {}).truncated || "" : "";
      div.style.display = cut ? "block" : "none";
    }

    fm.addLayer = function (layer, options) {
      options = options || {};
      var group = L.layerGroup();
      var handle = {layer: layer, group: group, params: options.params || {}, last: null, controller: null};
      var cluster = layer.geometry === "point" && L.markerClusterGroup && options.cluster !== false;

      function draw(collection) {
        group.clearLayers();
        var aggregate = collection.properties && collection.properties.mode === "cells";
        var target = group;
        if (!aggregate && cluster) {
          target = L.markerClusterGroup({disableClusteringAtZoom: 19, chunkedLoading: true});
          group.addLayer(target);
        }
        L.geoJSON(collection, {
          style: function (feature) { return leafletStyle(layer.style, feature.properties); },
          pointToLayer: function (feature, latlng) {
            var props = feature.properties || {};
            if (props.aggregate) {
              var st = leafletStyle(layer.style, props);
              return L.circleMarker(latlng, {radius: cellRadius(props.count), color: st.color, fillColor: st.color,
                                             fillOpacity: 0.45, weight: 1});
            }
            return L.circleMarker(latlng, leafletStyle(layer.style, props));
          },
          onEachFeature: function (feature, item) {
            var props = feature.properties || {};
            if (props.aggregate) {
              item.bindPopup(cellHtml(layer, props, config));
            } else {
              item.bindPopup(popupHtml(layer, props, config));
            }
          }
        }).addTo(target);
        handle.last = collection;
        showNotice();
        if (options.onload) { options.onload(collection, handle); }
      }

      handle.reload = function () {
        if (!map.hasLayer(group)) { return; }
        var b = map.getBounds(), params = new URLSearchParams();
        params.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
          return Math.max(-180, Math.min(180, v)).toFixed(6);
        }).join(","));
        params.set("zoom", String(Math.round(map.getZoom())));
        Object.keys(handle.params).forEach(function (k) {
          if (handle.params[k] !== null && handle.params[k] !== undefined) { params.set(k, handle.params[k]); }
        });
        if (handle.controller) { handle.controller.abort(); }
        handle.controller = window.AbortController ? new window.AbortController() : null;
        var url = (options.url || config.layer_url).replace("{code}", encodeURIComponent(layer.code)) + "?" + params.toString();
        return window.fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"},
                                  signal: handle.controller ? handle.controller.signal : undefined})
          .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
          .then(draw)
          .catch(function (err) {
            if (err && err.name === "AbortError") { return; }
            element.setAttribute("data-fieldmap-error", layer.code);
            if (window.console) { window.console.warn((config.texts || {}).failed || "", layer.code, err); }
          });
      };
      handle.setParams = function (params) {
        Object.keys(params || {}).forEach(function (k) { handle.params[k] = params[k]; });
        return handle.reload();
      };
      map.on("moveend", handle.reload);
      group.on("add", function () { handle.reload(); });  // shown (at start or from the switcher): load it
      group.on("remove", showNotice);
      if (options.switcher !== false) { switcher.addOverlay(group, escape(layer.name)); }
      if (options.show !== undefined ? options.show : layer.visible !== false) { group.addTo(map); }
      fm.layers[layer.code] = handle;
      return handle;
    };
    return fm;
  }

  function autoStart() {
    var found = [];
    Array.prototype.forEach.call(document.querySelectorAll("[data-fieldmap]"), function (element) {
      var source = document.getElementById(element.getAttribute("data-fieldmap"));
      if (!source || element.getAttribute("data-fieldmap-started")) { return; }
      var config = JSON.parse(source.textContent);
      var fm = create(element, config);
      (config.layers || []).forEach(function (layer) { fm.addLayer(layer); });
      element.setAttribute("data-fieldmap-started", "1");
      element.fieldmap = fm;
      found.push(fm);
    });
    return found;
  }

  window.FieldMap = {create: create, escape: escape, autoStart: autoStart, popupHtml: popupHtml, cellHtml: cellHtml};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoStart);
  } else {
    autoStart();
  }
})(window);
