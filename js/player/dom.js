// Small DOM helpers: elements, SVG, and the checks every colour and URL from a story passes.

import { familyOf, moreFaces } from '../shared/more_faces.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  Object.keys(attrs || {}).forEach((k) => {
    // Custom properties through the CSSOM: a style attribute would be refused by the embed CSP.
    if (k === 'order') node.style.setProperty('--i', attrs[k]);
    else node.setAttribute(k, String(attrs[k]));
  });
  return node;
}

export function color(value) {
  return typeof value === 'string' && /^#[0-9a-f]{3,8}$/i.test(value) ? value : null;
}

// Media may come from the server, a CDN or be inline; never from javascript: and the like.
export function mediaUrl(value, base) {
  if (typeof value !== 'string' || !value) return null;
  try {
    const url = new URL(value, base || location.href);
    return /^(https?|blob|data):$/.test(url.protocol) ? url.href : null;
  } catch { return null; }
}

export function linkUrl(value, scheme) {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    const ok = url.protocol === 'https:' || url.protocol === 'http:' ||
      (scheme && url.protocol === `${String(scheme).toLowerCase()}:`);
    return ok ? url.href : null;
  } catch { return null; }
}

export function reducedMotion() {
  return !!(window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches);
}

// The player's stylesheet, added to the page once: the link element, found or made.
export function ensureStylesheet(host) {
  const found = document.querySelector('link[data-recap-player]');
  if (found) return found;
  const link = el('link');
  link.rel = 'stylesheet';
  link.href = `${host}/widget/player.css`;
  link.setAttribute('data-recap-player', '');
  document.head.appendChild(link);
  return link;
}

// Every string in a value (a frame), for the fonts its text needs.
function strings(value, out) {
  if (typeof value === 'string') out.push(value);
  else if (value && typeof value === 'object') Object.keys(value).forEach((k) => { strings(value[k], out); });
  return out;
}

// Resolves once the stylesheet of the player's more faces is in, when the text of ``value`` (a
// whole story) has a character only they have (CJK, symbols: js/shared/more_faces.js).
// (Compared with the faces of the player's stylesheet: once it is in, when the page links it.)
export function moreFacesFor(element, host, value) {
  const text = strings(value, []).join(' ');
  const link = document.querySelector('link[data-recap-player]');
  const styled = !link || link.sheet ? Promise.resolve() : new Promise((resolve) => {
    link.addEventListener('load', resolve, { once: true });
    link.addEventListener('error', resolve, { once: true });
  });
  return styled.then(() => moreFaces(`${host}/widget/more-faces.css`, text, familyOf(element)));
}

// Resolves once the player's font for ``value``'s text has loaded (the files its unicode-ranges
// name: Manrope's, and Noto's regular and bold faces of the scripts it has, once ``faces``, the
// stylesheet of more faces, is in), or after ``within`` ms: a first frame drawn in a fallback
// face would change face in front of the viewer when the font lands. A font already cached
// resolves at once; a page without the player's @font-face rules (not yet styled) resolves at
// once too.
export function fontsFor(element, value, within, faces = Promise.resolve()) {
  const fonts = document.fonts;
  if (!fonts || !fonts.load) return Promise.resolve();
  const text = strings(value, []).join(' ');
  // The family read once ``faces`` is in, and so the player's stylesheet: read before, on a page
  // that links it, it was the page's own (the load then resolved at once, nothing to wait for).
  const loads = faces.then(() => {
    const list = getComputedStyle(element).fontFamily;
    return Promise.all(['500', '600', '800'].map((weight) => fonts.load(`${weight} 16px ${list}`, text || ' ')));
  });
  const timer = new Promise((resolve) => { setTimeout(resolve, within); });
  return Promise.race([loads.catch(() => {}), timer]);
}
