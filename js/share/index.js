// The share page's script (built into widget_server/share/static/share.js by js/build.mjs).
import { familyOf, moreFaces } from '../shared/more_faces.js';

document.addEventListener('DOMContentLoaded', () => {
  // A title or a name in a script the page's stylesheet has no face for: the faces that have it.
  moreFaces('/s/_static/more-faces.css', document.body.innerText, familyOf(document.body));

  // "Open in the app": a custom-scheme link does nothing when the app is not installed, so if the
  // page is still in front after a moment, go to the web fallback instead.
  document.querySelectorAll('a.open[data-fallback]').forEach((link) => {
    link.addEventListener('click', () => {
      const fallback = link.getAttribute('data-fallback');
      const timer = setTimeout(() => {
        if (document.visibilityState === 'visible') window.location.href = fallback;
      }, 1500);
      document.addEventListener('visibilitychange', () => { clearTimeout(timer); }, { once: true });
    });
  });
});
