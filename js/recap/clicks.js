// Autocaptured clicks: what was pressed, described without reading anything typed.
const MAX_TEXT = 100;
export const CLICKABLE = 'a,button,[data-recap-event],[role=button],input[type=submit],input[type=button]';
export const FIELDS = 'textarea,select,[contenteditable],input:not([type=submit]):not([type=button])';
// Subtrees whose text may be something the user typed: never read.
const NO_TEXT = new Set(['INPUT', 'TEXTAREA', 'SELECT', 'OPTION', 'SCRIPT', 'STYLE', 'NOSCRIPT']);

// Visible text of an element, skipping form fields so nothing typed is ever read.
function textOf(el) {
  let out = '';
  (function walk(node) {
    for (let n = node.firstChild; n && out.length <= MAX_TEXT; n = n.nextSibling) {
      if (n.nodeType === 3) out += `${n.nodeValue} `;
      else if (n.nodeType === 1 && !NO_TEXT.has(n.nodeName) && !n.isContentEditable &&
               !n.hasAttribute('data-recap-mask')) walk(n);
    }
  })(el);
  out = out.replace(/\s+/g, ' ').trim();
  if (!out) out = el.getAttribute('aria-label') || el.getAttribute('title') || '';
  return out.length > MAX_TEXT ? `${out.slice(0, MAX_TEXT - 1)}\u2026` : out;
}

function selectorOf(el) {
  const parts = [];
  for (let depth = 0; el && el.nodeType === 1 && depth < 4; depth++, el = el.parentElement) {
    if (parts.length && (el.nodeName === 'BODY' || el.nodeName === 'HTML')) break; // implied
    if (el.id && /^[A-Za-z][\w-]*$/.test(el.id)) { parts.unshift(`#${el.id}`); break; }
    let part = el.nodeName.toLowerCase();
    const classes = (typeof el.className === 'string' ? el.className : '').trim().split(/\s+/)
      .filter((c) => /^[A-Za-z_-][\w-]*$/.test(c)).slice(0, 2);
    if (classes.length) part += `.${classes.join('.')}`;
    const parent = el.parentElement;
    if (parent && part === el.nodeName.toLowerCase()) {
      let same = 0, index = 0;
      for (let s = parent.firstElementChild; s; s = s.nextElementSibling) {
        if (s.nodeName === el.nodeName) { same++; if (s === el) index = same; }
      }
      if (same > 1) part += `:nth-of-type(${index})`;
    }
    parts.unshift(part);
  }
  return parts.join(' > ');
}

// The event a click makes, or null when it is not a press of something clickable.
export function clickEvent(e) {
  const t = e.target;
  // Clicking into a form field is typing, not pressing the element around it.
  if (!t || !t.closest || t.closest(FIELDS)) return null;
  const el = t.closest(CLICKABLE);
  if (!el || el.closest('[data-recap-ignore]')) return null;
  const custom = el.getAttribute('data-recap-event');
  const props = { tag: el.nodeName.toLowerCase(), selector: selectorOf(el) };
  // Input buttons are labelled by their value; it is still an input's value, so it is not read.
  if (el.nodeName !== 'INPUT') props.text = textOf(el);
  if (el.nodeName === 'A' && el.getAttribute('href')) {
    // Only where the link goes, not its query or fragment (they can hold personal data).
    try { const u = new URL(el.href, location.href); props.href = u.origin + u.pathname; } catch { /* odd href */ }
  }
  for (const a of el.attributes) {
    if (a.name.startsWith('data-recap-prop-')) props[a.name.slice(16).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = a.value;
  }
  return { type: 'track', event: custom || 'element_clicked', properties: props };
}
