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

  // After a refused form, the summary of what is wrong has the focus (the
  // autofocus attribute does it without JavaScript; this covers browsers
  // that skip it), and each of its lines moves the focus to its field.
  var summary = document.querySelector(".error-summary");
  if (summary) {
    if (document.activeElement === document.body) { summary.focus(); }
    summary.addEventListener("click", function (ev) {
      var link = ev.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!target) { return; }
      var field = target.matches("input, select, textarea") ? target : target.querySelector("input, select, textarea");
      if (field) {
        ev.preventDefault();
        field.focus();
        (field.labels && field.labels[0] || field).scrollIntoView({ block: "start" });
      }
    });
  }

  // The phone's menu closes with Escape, back on its button.
  var menu = document.querySelector("details.nav-phone");
  if (menu) {
    menu.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
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
