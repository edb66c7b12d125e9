// The player's own words (labels, screen-reader labels, error screens, the share sheet) in each
// language it speaks. English comes in the bundle; another language's table is a small JSON file
// (widget_server/player/static/strings/<language>.json) that the embed page puts in the page and
// any other page fetches once, so a viewer downloads one language, not eight.
import EN from '../../widget_server/player/static/strings/en.json';

// The tables there are (tests/test_player_languages.py holds this list to the folder).
export const LANGUAGES = ['en', 'de', 'fr', 'es', 'pt-BR', 'tr', 'ja', 'ar'];

const TABLES = { en: EN };
const LOADING = {};

// The language for a locale tag, down its chain: 'de-AT' → de, 'pt-PT' → pt-BR (the one
// Portuguese), 'xx' → en.
export function languageFor(tag) {
  const parts = String(tag || '').split(/[-_]/).filter(Boolean);
  for (let n = parts.length; n > 0; n--) {
    const want = parts.slice(0, n).join('-').toLowerCase();
    const exact = LANGUAGES.find((k) => k.toLowerCase() === want);
    if (exact) return exact;
  }
  const language = (parts[0] || '').toLowerCase();
  return (language && LANGUAGES.find((k) => k.toLowerCase().startsWith(`${language}-`))) || 'en';
}

// The table of a language if it is here already (English's always is), else undefined.
export function tableOf(language) {
  return TABLES[language];
}

// A promise of the language's table: ``given`` (the one the embed page carries), else fetched from
// ``host`` once per page; English where it cannot be had. Missing keys read as English.
export function loadTable(language, host, given) {
  if (TABLES[language]) return Promise.resolve(TABLES[language]);
  if (given && given.language === language) {
    TABLES[language] = { ...EN, ...given };
    return Promise.resolve(TABLES[language]);
  }
  if (!LOADING[language]) {
    LOADING[language] = fetch(`${host}/widget/strings/${encodeURIComponent(language)}.json`, { credentials: 'omit' })
      .then((res) => (res.ok ? res.json() : {}))
      .catch(() => ({}))
      .then((table) => { TABLES[language] = { ...EN, ...table }; return TABLES[language]; });
  }
  return LOADING[language];
}

// ``{n}`` and the like in a string filled in.
export function fill(text, values) {
  return String(text).replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
}
