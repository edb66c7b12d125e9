// The player: its state, and the methods of each concern (fetch, rendering, frames, clock,
// input, sharing) mixed into one class from their own modules.
import { bridge } from './bridge.js';
import { el, ensureStylesheet } from './dom.js';
import { fetching } from './fetch.js';
import { rendering } from './render.js';
import { frames } from './frames.js';
import { clock } from './clock.js';
import { input } from './input.js';
import { sharing } from './share.js';
import { languageFor, loadTable, tableOf } from './strings.js';

const SCRIPT_ORIGIN = document.currentScript && document.currentScript.src
  ? new URL(document.currentScript.src).origin : '';

export class Player {
  constructor(element, options) {
    this.element = element;
    this.options = { host: SCRIPT_ORIGIN, ...options };
    this.options.host = String(this.options.host || '').replace(/\/$/, '');
    // Its words until the story says its own locale: the one asked for, the page's, the browser's.
    this.setLocale(this.options.locale || document.documentElement.lang || navigator.language);
    this.bridge = bridge();
    this.paused = {};           // reasons: hold, key, hidden, overlay, api, ended; media, styles, fonts (waits)
    this.holds = {};            // what keeps the story transparent: styles, fonts
    this.index = -1;
    this.dwelt = 0;             // visible ms on the current frame, until shownAt (null while hidden)
    this.preloaded = {};
    this.raf = null;
    this.done = false;
    if (this.options.css !== false) this.awaitStyles(ensureStylesheet(this.options.host));
    this.onVisibility = this.onVisibility.bind(this);
    this.onPageHide = this.onPageHide.bind(this);
    this.onPageShow = this.onPageShow.bind(this);
    this.tick = this.tick.bind(this);
    this.load();
  }

  // Until ``ready`` settles the story stays transparent and its clock still: unstyled, it would
  // flash as a page of text; in a fallback face, its first frame would change face in front of
  // the viewer when the font lands; either way its first frame would run out unseen.
  // (Transparent, not hidden: a hidden player could not take the focus its keys need.)
  hold(reason, ready) {
    if (!Object.keys(this.holds).length) this.shownOpacity = this.element.style.opacity;
    this.holds[reason] = true;
    this.element.style.opacity = '0';
    this.pause(reason);
    ready.then(() => {
      delete this.holds[reason];
      if (!Object.keys(this.holds).length) this.element.style.opacity = this.shownOpacity;
      this.resume(reason);
    });
  }

  awaitStyles(link) {
    if (link.sheet) return;
    this.hold('styles', new Promise((resolve) => {
      link.addEventListener('load', resolve, { once: true });
      link.addEventListener('error', resolve, { once: true });
    }));
  }

  // The player's words and writing direction for a locale: the story's direction, else its
  // words' (Arabic's table says rtl). A promise of when the words are in (at once for English and
  // for the embed page's).
  setLocale(tag, direction) {
    this.locale = String(tag || 'en');
    const language = languageFor(this.locale);
    const use = (table) => {
      this.t = table;
      this.direction = direction === 'rtl' || direction === 'ltr' ? direction : table.direction || 'ltr';
    };
    use(tableOf(language) || tableOf('en'));
    return loadTable(language, this.options.host, this.options.strings).then((table) => {
      if (languageFor(this.locale) === language) use(table);
    });
  }

  close(how, silent) {
    if (this.closed || !this.frames) return;
    this.closed = true;
    const progress = this.progress();
    if (this.index >= 0) this.leaveFrame('manual', 'close');
    this.tracker.track('story_closed', { progress, how });
    this.pause('closed');
    if (silent) return;
    this.tracker.flush();
    if (this.options.onClose) this.options.onClose({ progress });
    else this.destroy();
  }

  // Where closing has nothing to return to (a bare /embed page: no app, no frame around it), the
  // page says the story closed and offers it again, instead of going black or back in history.
  showClosed() {
    if (this.closedPanel) return;
    const box = el('div', 'recap-message recap-closed');
    box.setAttribute('role', 'status');
    box.dir = this.direction;
    box.appendChild(el('h2', '', this.t.closed));
    if (this.story && this.story.title) box.appendChild(el('p', '', this.story.title));
    const again = el('button', 'recap-btn recap-btn-primary', this.t.watch_again);
    again.type = 'button';
    again.addEventListener('click', () => { this.reopen(); });
    box.appendChild(again);
    for (const shown of this.element.children) shown.hidden = true;  // the story, or its error
    if (this.root) this.pull(0, false);
    this.element.appendChild(box);
    this.closedPanel = box;
    again.focus();
  }

  reopen() {
    this.closedPanel.remove();
    this.closedPanel = null;
    // Closed from an error screen: there is no story to go back to, so it is asked for again.
    if (!this.root || !this.root.isConnected) { this.retry(); return; }
    this.closed = false;
    this.root.hidden = false;
    this.index = -1;  // the frame it closed on was counted as left then
    delete this.paused.closed;
    this.go(0, 'manual');
    this.root.focus({ preventScroll: true });
  }

  destroy() {
    this.destroyed = true;
    cancelAnimationFrame(this.raf);
    clearTimeout(this.holdTimer);
    if (this.video) this.video.pause();
    document.removeEventListener('visibilitychange', this.onVisibility);
    window.removeEventListener('pagehide', this.onPageHide);
    window.removeEventListener('pageshow', this.onPageShow);
    if (this.tracker) this.tracker.flush();
    this.element.replaceChildren();
    this.element.classList.remove('recap-root');
  }
}

Object.assign(Player.prototype, fetching, rendering, frames, clock, input, sharing);
