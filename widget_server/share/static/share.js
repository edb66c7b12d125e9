// "Open in the app": a custom-scheme link does nothing when the app is not installed, so if the
// page is still in front after a moment, go to the web fallback instead.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("a.open[data-fallback]").forEach(function (link) {
    link.addEventListener("click", function () {
      var fallback = link.getAttribute("data-fallback");
      var timer = setTimeout(function () {
        if (document.visibilityState === "visible") window.location.href = fallback;
      }, 1500);
      document.addEventListener("visibilitychange", function () { clearTimeout(timer); }, { once: true });
    });
  });
});
