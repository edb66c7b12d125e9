// Engagement analytics: the player's events, sent with the viewer token through the same
// queue as recap.js (js/shared/batch_queue.js).
import { BatchQueue } from '../shared/batch_queue.js';
import { uuid, timezone } from '../shared/ids.js';
import { createStorage } from '../shared/storage.js';
import { VERSION } from './version.js';

const FLUSH_MS = 2000;
const MAX_QUEUE = 200;
const DELIVERY = /^[0-9a-f]{32}$/;  // a trigger's delivery id (the story link of a notification)

function warn(message) {
  try { if (window.console) window.console.warn(`recap player: ${message}`); } catch { /* nothing */ }
}

function safe(fn) {
  return (...args) => {
    try { return fn(...args); } catch (e) { warn(`internal error: ${e}`); return undefined; }
  };
}

export class Tracker {
  constructor(options) {
    this.token = options.token;
    this.template = options.template;
    // The story's experiment arm, recorded on every engagement event so the dashboard can
    // compare the variants (docs/STORIES.md "Experiments").
    const arm = options.experiment;
    this.arm = arm && typeof arm.id === 'string' && typeof arm.variant === 'string'
      ? { experiment: arm.id, variant: arm.variant } : {};
    // Opened from a notification: every event names its delivery, so a trigger's funnel follows it.
    this.delivery = DELIVERY.test(String(options.delivery || '')) ? String(options.delivery) : null;
    this.enabled = !!options.token && options.analytics !== false;
    this.listener = options.onAnalytics;
    // A viewer token is short-lived and names one viewer: what a beacon could not carry waits in
    // this page's memory for the page to be visible again, never for a later page and token.
    this.batches = new BatchQueue({
      endpoint: `${options.host}/v1/batch`, writeKey: () => this.token,
      storage: createStorage('recap:player:', false), warn, safe,
      maxQueue: MAX_QUEUE, flushAt: MAX_QUEUE, flushInterval: FLUSH_MS
    });
  }

  track(event, properties) {
    const message = {
      type: 'track', event, messageId: uuid(), timestamp: new Date().toISOString(),
      properties: {
        template: this.template, ...this.arm, ...(this.delivery ? { delivery: this.delivery } : {}), ...properties
      },
      context: { library: { name: 'recap-player', version: VERSION }, timezone: timezone() }
    };
    if (this.listener) this.listener(message);
    if (this.enabled) this.batches.push(message);
  }

  flush() {
    return this.batches.flush(false);
  }

  // On page hide only a beacon is sure to leave.
  beacon() {
    this.batches.flush(true);
  }

  // Visible again: what no beacon could carry goes now.
  restore() {
    this.batches.restoreSaved();
  }
}
