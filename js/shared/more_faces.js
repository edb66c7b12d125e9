// The stylesheet of more faces (the CJK slices and the symbol sets: widget_server/assets/noto.py),
// added to a page when its text has a character that none of the faces its stylesheet declares
// for the family is for. Written into every page, those hundreds of faces would cost an English
// one 5 KB; this way a page that needs them asks for one more stylesheet, then only the font
// files its text touches. Emoji and spaces are left out of the test: the device draws emoji.
const SKIPPED = /[\s\p{Extended_Pictographic}\p{Emoji_Component}]/u;
const added = new Map();  // href -> the stylesheet's load
const unquoted = (name) => name.trim().replace(/^["']|["']$/g, '');

// The family ``element`` is drawn in: the first of its font-family list.
export function familyOf(element) {
  return unquoted(getComputedStyle(element).fontFamily.split(',')[0]);
}

// The code point spans the faces of ``family`` declared so far are for.
function declared(family) {
  const spans = [];
  document.fonts.forEach((face) => {
    if (unquoted(face.family) !== family) return;
    face.unicodeRange.split(',').forEach((part) => {
      const [first, last] = part.trim().replace(/^U\+/i, '').split('-').map((n) => parseInt(n, 16));
      spans.push([first, last === undefined ? first : last]);
    });
  });
  return spans;
}

function needed(text, family) {
  const spans = declared(family);
  if (!spans.length) return false;  // the family's stylesheet is not in yet: nothing to compare with
  for (const char of text) {
    if (SKIPPED.test(char)) continue;
    const point = char.codePointAt(0);
    if (!spans.some(([first, last]) => point >= first && point <= last)) return true;
  }
  return false;
}

// Resolves once the stylesheet at ``href`` is in (at once when ``text`` needs none of its faces).
export function moreFaces(href, text, family) {
  if (added.has(href)) return added.get(href);
  if (!document.fonts || !needed(text, family)) return Promise.resolve();
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  link.setAttribute('data-recap-more-faces', '');
  const loaded = new Promise((resolve) => { link.onload = resolve; link.onerror = resolve; });
  added.set(href, loaded);
  document.head.appendChild(link);
  return loaded;
}
