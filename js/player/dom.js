// Small DOM helpers: elements, SVG, and the checks every colour and URL from a story passes.

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

// Resolves once the player's font for ``value``'s text has loaded (the files its unicode-ranges
// name), or after ``within`` ms: a first frame drawn in a fallback face would change face in
// front of the viewer when the font lands. A font already cached resolves at once; a page
// without the player's @font-face rules (not yet styled) resolves at once too.
export function fontsFor(element, value, within) {
  const fonts = document.fonts;
  if (!fonts || !fonts.load) return Promise.resolve();
  const text = strings(value, []).join(' ');
  const family = getComputedStyle(element).fontFamily;
  const loads = ['600', '800'].map((weight) => fonts.load(`${weight} 16px ${family}`, text || ' '));
  const timer = new Promise((resolve) => { setTimeout(resolve, within); });
  return Promise.race([Promise.all(loads).catch(() => {}), timer]);
}
