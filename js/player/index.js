/*
 * Recap story player. Built into widget_server/player/static/player.js by js/build.mjs; see
 * docs/PLAYER.md.
 *
 *   Recap.story(element, {token, template, host, onClose, ...})   a user's story from the server
 *   Recap.story(element, {story: {...}})                           preview a story object
 *
 * Every string from a story is inserted with textContent (or as an SVG text node), never as HTML.
 */
import { extendRecap } from '../shared/recap_global.js';
import { bridge } from './bridge.js';
import { Player } from './player.js';
import { VERSION } from './version.js';

function story(element, options) {
  if (typeof element === 'string') element = document.querySelector(element);
  if (!element) throw new Error('Recap.story: no element to mount in');
  const player = new Player(element, options);
  return {
    next: () => { player.forward('manual'); },
    previous: () => { player.back(); },
    go: (index) => { player.go(index, 'manual'); },
    pause: () => { player.pause('api'); },
    resume: () => { player.resume('api'); },
    close: () => { player.close('api'); },
    showClosed: () => { player.showClosed(); },
    destroy: () => { player.destroy(); },
    setToken: (token) => { player.setToken(token); },
    retry: () => { player.retry(); },
    flush: () => (player.tracker ? player.tracker.flush() : Promise.resolve()),
    state: () => ({
      index: player.index, frames: player.frames ? player.frames.length : 0,
      frame_ids: (player.frames || []).map((f, i) => String(f.id || i)),
      paused: player.isPaused(), ended: !!player.paused.ended, progress: player.progress()
    })
  };
}

extendRecap({ story, bridge, playerVersion: VERSION });
