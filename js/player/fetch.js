// Loading a story: the fetch, the loading and error screens, retrying with a fresh token.
import { el, fontsFor, moreFacesFor } from './dom.js';

// How long a first frame may wait for its font (docs/PLAYER.md, "The first frame").
const FONT_WAIT_MS = 1000;

// What went wrong, by kind: each a heading and a line in the player's strings (strings.js).
const ERRORS = ['expired', 'invalid', 'not_eligible', 'network', 'server'];

export const fetching = {
  load() {
    this.element.replaceChildren();
    this.element.classList.add('recap-root');
    const loading = el('div', 'recap-message recap-loading');
    loading.setAttribute('role', 'status');
    loading.dir = this.direction;
    loading.appendChild(el('div', 'recap-spinner'));
    const text = loading.appendChild(el('p', ''));
    this.element.appendChild(loading);
    const words = this.setLocale(this.locale, this.story && this.story.direction);
    words.then(() => { text.textContent = this.t.loading; });
    const story = this.options.story ? Promise.resolve(this.options.story) : this.fetchStory();
    // destroy() may come first: a story that arrives after it must not bring the player back.
    // The player is built while the first frame's font is still coming, and shown once it is in,
    // in the story's own language (its words fetched meanwhile when the page has not got them).
    story.then((s) => this.setLocale(s.locale || this.locale, s.direction).then(() => {
      if (this.destroyed) return;
      const faces = moreFacesFor(this.element, this.options.host, s);
      this.hold('fonts', fontsFor(this.element, [s.app, (s.frames || [])[0]], FONT_WAIT_MS, faces));
      this.start(s);
    }), (err) => words.then(() => { if (!this.destroyed) this.showError(err); }));
  },

  fetchStory() {
    const o = this.options;
    const query = o.locale ? `?locale=${encodeURIComponent(o.locale)}` : '';
    const url = `${o.host}/v1/stories/${encodeURIComponent(o.template || '')}${query}`;
    return fetch(url, { headers: { Accept: 'application/json', Authorization: `Bearer ${o.token || ''}` } })
      .catch(() => { throw { kind: 'network' }; })
      .then((res) => {
        if (res.ok) return res.json();
        return res.json().catch(() => ({})).then((body) => {
          const code = body && body.error && body.error.code;
          const reasons = (body && body.error && body.error.details && body.error.details.token) || [];
          const kind = res.status !== 401 ? (code === 'not_eligible' ? 'not_eligible' : 'server')
            : reasons.indexOf('expired') >= 0 ? 'expired' : 'invalid';
          throw { kind, status: res.status, message: body && body.error && body.error.message };
        });
      });
  },

  showError(err) {
    const kind = (err && ERRORS.indexOf(err.kind) >= 0) ? err.kind : 'server';
    if ((kind === 'expired' || kind === 'invalid') && this.options.onTokenExpired) this.options.onTokenExpired();
    const box = el('div', 'recap-message recap-error');
    box.setAttribute('role', 'alert');
    box.dir = this.direction;
    box.setAttribute('data-error', kind);
    box.appendChild(el('h2', '', this.t[kind][0]));
    // The template says what a viewer needs to do to be eligible; trying again will not change it.
    const ineligible = kind === 'not_eligible';
    box.appendChild(el('p', '', ineligible && typeof err.message === 'string' && err.message ? err.message : this.t[kind][1]));
    if (!ineligible) {
      const retry = el('button', 'recap-btn recap-btn-primary', this.t.try_again);
      retry.type = 'button';
      retry.addEventListener('click', () => { this.retry(); });
      box.appendChild(retry);
    }
    if (this.options.onClose) {
      const close = el('button', 'recap-btn', this.t.close);
      close.type = 'button';
      close.addEventListener('click', () => { this.options.onClose({ progress: 0 }); });
      box.appendChild(close);
    }
    this.element.replaceChildren(box);
    const first = box.querySelector('button');
    if (first) first.focus();
  },

  retry() {
    const refresh = this.options.refreshToken ? Promise.resolve(this.options.refreshToken()) : Promise.resolve(null);
    refresh.then((token) => { if (token) this.setToken(token); }, () => {})
      .then(() => { if (!this.destroyed) this.load(); });
  },

  setToken(token) {
    this.options.token = token;
    if (this.tracker) { this.tracker.token = token; this.tracker.enabled = this.options.analytics !== false; }
  },
};
