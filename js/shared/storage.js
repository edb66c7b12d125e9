// Keys kept for this site: localStorage, else sessionStorage (private modes), else this page's
// memory. Never cookies. With persist false, only this page's memory.
export function createStorage(prefix, persist = true) {
  const memory = {};
  const store = persist ? pick(prefix) : null;
  return {
    load(key) {
      try { if (store) return store.getItem(prefix + key); } catch { /* fall through */ }
      return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
    },
    save(key, value) {
      memory[key] = value;
      try {
        if (!store) return;
        if (value === null) store.removeItem(prefix + key);
        else store.setItem(prefix + key, value);
      } catch { /* full or blocked: memory still holds it */ }
    }
  };
}

function pick(prefix) {
  for (const name of ['localStorage', 'sessionStorage']) {
    try {
      const s = window[name];
      s.setItem(`${prefix}probe`, '1');
      s.removeItem(`${prefix}probe`);
      return s;
    } catch { /* blocked: try the next */ }
  }
  return null;
}
