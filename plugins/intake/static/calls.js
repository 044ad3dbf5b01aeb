// The phone desk: choosing a service shows its questions at once (the form is posted back with what
// was typed; nothing is saved).  Without JavaScript the "Show its questions" button does the same.
(function () {
  "use strict";
  var form = document.querySelector("form.civic-phone-case");
  if (!form) { return; }
  var select = form.querySelector("select.civic-service-select");
  var button = form.querySelector("button.civic-show-questions");
  if (!select || !button) { return; }
  var chosen = select.value;
  function reload() {
    if (select.value !== chosen) { chosen = select.value; button.click(); }
  }
  select.addEventListener("change", reload);
  if (window.jQuery) { window.jQuery(select).on("change", reload); }  // select2 reports through jQuery
})();
