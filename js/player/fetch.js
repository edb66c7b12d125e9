// Loading a story: the fetch, the loading and error screens, retrying with a fresh token.
import { el, fontsFor } from './dom.js';

// How long a first frame may wait for its font (docs/PLAYER.md, "The first frame").
const FONT_WAIT_MS = 1000;

const ERRORS = {
  expired: ['This story link has expired', 'Links to stories last a short while. Try again, or close and reopen your story.'],
  invalid: ['This story link doesn’t work', 'Close and reopen your story from the app to get a fresh link.'],
  not_eligible: ['Your story isn’t ready yet', 'Keep going and check back soon.'],
  network: ['Can’t reach Recap', 'Check your connection and try again.'],
  server: ['Something went wrong', 'We couldn’t load your story. Please try again.']
};

export const fetching = {
  load() {
    this.element.replaceChildren();
    this.element.classList.add('recap-root');
    const loading = el('div', 'recap-message recap-loading');
    loading.setAttribute('role', 'status');
    loading.appendChild(el('div', 'recap-spinner'));
    loading.appendChild(el('p', '', 'Loading your story…'));
    this.element.appendChild(loading);
    const story = this.options.story ? Promise.resolve(this.options.story) : this.fetchStory();
    // destroy() may come first: a story that arrives after it must not bring the player back.
    // The player is built while the first frame's font is still coming, and shown once it is in.
    story.then((s) => {
      if (this.destroyed) return;
      this.hold('fonts', fontsFor(this.element, [s.app, (s.frames || [])[0]], FONT_WAIT_MS));
      this.start(s);
    }, (err) => { if (!this.destroyed) this.showError(err); });
  },

  fetchStory() {
    const o = this.options;
    const url = `${o.host}/v1/stories/${encodeURIComponent(o.template || '')}`;
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
    const kind = (err && ERRORS[err.kind]) ? err.kind : 'server';
    if ((kind === 'expired' || kind === 'invalid') && this.options.onTokenExpired) this.options.onTokenExpired();
    const box = el('div', 'recap-message recap-error');
    box.setAttribute('role', 'alert');
    box.setAttribute('data-error', kind);
    box.appendChild(el('h2', '', ERRORS[kind][0]));
    // The template says what a viewer needs to do to be eligible; trying again will not change it.
    const ineligible = kind === 'not_eligible';
    box.appendChild(el('p', '', ineligible && typeof err.message === 'string' && err.message ? err.message : ERRORS[kind][1]));
    if (!ineligible) {
      const retry = el('button', 'recap-btn recap-btn-primary', 'Try again');
      retry.type = 'button';
      retry.addEventListener('click', () => { this.retry(); });
      box.appendChild(retry);
    }
    if (this.options.onClose) {
      const close = el('button', 'recap-btn', 'Close');
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
