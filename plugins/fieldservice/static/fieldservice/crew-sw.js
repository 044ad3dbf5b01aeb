/* The crew page's service worker (served at /fieldservice/crew/sw.js, scope /fieldservice/crew/).
 * The page, its script and Leaflet are kept so the page opens without a connection after a first visit:
 * the page, its lists, scripts and styles network first (the cached copy when offline), so an update
 * reaches the phone at once.  POSTs are never touched: check-offs wait in the page's own queue (crew.js) until they are sent.
 */
"use strict";
var CACHE = "civic-crew-v1";

self.addEventListener("install", function (event) { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("civic-crew-") === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request, { ignoreSearch: request.mode === "navigate" }).then(function (hit) {
      return hit || Response.error();
    });
  });
}

// The page names what it needs offline (itself, its scripts and styles): kept now, refreshed on each visit.
self.addEventListener("message", function (event) {
  var urls = (event.data && event.data.keep) || [];
  urls = urls.filter(function (u) { return new URL(u, self.location.href).origin === self.location.origin; });
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.map(function (u) {
      return fetch(u, { credentials: "same-origin" }).then(function (r) { if (r.ok && !r.redirected) return cache.put(u, r); })
        .catch(function () { /* offline now: kept from an earlier visit, if any */ });
    }));
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" || url.pathname.indexOf("/fieldservice/crew/api/") === 0) {
    event.respondWith(networkFirst(request));
  } else if (/\.(js|css|png|svg)$/.test(url.pathname)) {
    event.respondWith(networkFirst(request));
  }
});
