// Small improvements on top of pages that work without JavaScript: live
// free beds while choosing dates, and a copy button for shared links.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var form = document.querySelector("form[data-availability]");
  if (form) {
    var arrival = form.querySelector("#arrival");
    var departure = form.querySelector("#departure");
    // The words come from the server's catalogue, in the page's language.
    var freeText = form.dataset.textFree || "{n}";
    var fullText = form.dataset.textFull || "0";
    var update = function () {
      if (!arrival.value || !departure.value || departure.value <= arrival.value) {
        form.querySelectorAll("[data-free]").forEach(function (el) { el.textContent = ""; });
        return;
      }
      var url = form.dataset.availability + "?arrival=" + encodeURIComponent(arrival.value) +
        "&departure=" + encodeURIComponent(departure.value) +
        (form.dataset.booking ? "&booking=" + form.dataset.booking : "");
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          form.querySelectorAll("[data-free]").forEach(function (el) {
            var n = data.free[el.dataset.free];
            el.textContent = n === undefined ? "" : (n > 0 ? freeText.replace("{n}", n) : fullText);
            el.classList.toggle("full", n !== undefined && n <= 0);
          });
        })
        .catch(function () {});
    };
    arrival.addEventListener("change", function () {
      if (arrival.value && (!departure.value || departure.value <= arrival.value)) {
        var d = new Date(arrival.value + "T12:00:00Z");
        d.setUTCDate(d.getUTCDate() + 1);
        departure.value = d.toISOString().slice(0, 10);
      }
      departure.min = arrival.value;
      update();
    });
    departure.addEventListener("change", update);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var field = document.getElementById(btn.dataset.copy);
    if (!field || !navigator.clipboard) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () { btn.textContent = "✓"; });
    });
  });
})();
