// Keeps the page's numbers current: every few seconds fetch this same URL with X-Partial: 1
// (the server answers with the content block only) and swap it in. No full reload, no
// third-party code; open rationale <details> stay open across refreshes.
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.getAttribute("data-refresh-ms") || "5000", 10);
  var content = document.getElementById("content");
  var indicator = document.getElementById("live-indicator");
  if (!content || !every || every < 1000) { return; }
  var busy = false;

  function openDetails() {
    var ids = [];
    content.querySelectorAll("details[open]").forEach(function (d) {
      if (d.id) { ids.push(d.id); }
    });
    return ids;
  }

  // Never swap the content while someone is filling in a filter: the swap would reset it.
  function editing() {
    var active = document.activeElement;
    if (active && content.contains(active) && active.matches("input, select, textarea")) {
      return true;
    }
    var dirty = false;
    content.querySelectorAll("input").forEach(function (el) {
      if (el.value !== el.defaultValue) { dirty = true; }
    });
    content.querySelectorAll("option").forEach(function (el) {
      if (el.selected !== el.defaultSelected) { dirty = true; }
    });
    return dirty;
  }

  function setState(state, title) {
    if (!indicator) { return; }
    indicator.className = "live-indicator " + state;
    indicator.title = title;
  }

  function refresh() {
    if (busy || document.hidden || editing()) { return; }
    busy = true;
    fetch(window.location.href, {
      headers: { "X-Partial": "1", "Accept": "text/html" },
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (resp) {
      if (!resp.ok) { throw new Error("HTTP " + resp.status); }
      return resp.text();
    }).then(function (html) {
      if (editing()) { return; }  // someone started typing while the request was out
      var keep = openDetails();
      content.innerHTML = html;
      keep.forEach(function (id) {
        var d = document.getElementById(id);
        if (d) { d.open = true; }
      });
      body.setAttribute("data-refreshed-at", new Date().toISOString());
      setState("ok", "Updated " + new Date().toLocaleTimeString());
    }).catch(function (err) {
      setState("stale", "Not updated: " + err.message);
    }).then(function () { busy = false; });
  }

  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
  });
})();
