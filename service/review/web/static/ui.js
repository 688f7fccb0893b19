// Niceties only: every page works without this file.
(function () {
  "use strict";
  // Queue: "select all" box for the bulk actions.
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.hidden = false;
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name=alert_ids]").forEach(function (item) { item.checked = box.checked; });
    });
  });
  // Filters: apply as soon as a select changes.
  document.querySelectorAll("form.filters select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });
  // Decision forms: show the allow-list options only for a false positive.
  document.querySelectorAll("form.decide").forEach(function (form) {
    var allow = form.querySelector(".allow");
    if (!allow) { return; }
    function sync() {
      var chosen = form.querySelector("input[name=decision]:checked");
      allow.hidden = !(chosen && chosen.value === "false_positive");
    }
    form.querySelectorAll("input[name=decision]").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
  });
  // Ask before irreversible actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
