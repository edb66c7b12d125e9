// Buttons and sharing: links, deep links, Web Share, the copy-link dialog.
import { el, linkUrl } from './dom.js';

export const sharing = {
  pressButton(frame, button) {
    const action = String(button.action || '');
    const scheme = this.story.app && this.story.app.deep_link_scheme;
    this.tracker.track('button_clicked', { frame_id: String(frame.id || this.index), button_id: String(button.id || ''), action });
    if (action === 'share') { this.share(frame, button); return; }
    if (action === 'event') {
      if (button.event) this.tracker.track(String(button.event), Object.assign({}, button.properties || {}, { frame_id: String(frame.id || this.index) }));
      return;
    }
    const href = linkUrl(button.href, action === 'deep_link' ? scheme : null);
    if (!href) return;
    if (action === 'deep_link') {
      if (this.options.onDeepLink) this.options.onDeepLink(href);
      else location.href = href;
    } else if (action === 'url') {
      if (this.options.onOpenUrl) this.options.onOpenUrl(href);
      else window.open(href, '_blank', 'noopener');
    }
  },

  createShare() {
    const o = this.options;
    const fallback = { url: o.shareUrl || location.href, image: null };
    if (!o.token) return Promise.resolve(fallback);
    return fetch(`${o.host}/v1/shares`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${o.token}` },
      body: JSON.stringify({ template: this.story.template || o.template })
    }).then((res) => res.ok ? res.json() : null, () => null)
      .then((body) => body && body.url ? { url: body.url, image: body.images && body.images.story } : fallback);
  },

  share(frame, button) {
    const title = this.story.title || 'My story';
    this.pause('overlay');
    const shared = (channel) => {
      this.tracker.track('story_shared', { channel, frame_id: String(frame.id || this.index), button_id: String(button.id || '') });
    };
    this.createShare().then((link) => {
      if (this.options.onShare) {
        this.options.onShare({ url: link.url, image: link.image, title });
        shared('host');
        return;
      }
      return this.webShare(link, title).then(shared, (err) => {
        if (err && err.name === 'AbortError') return;  // the viewer dismissed the share sheet
        return this.copyLink(link.url).then(shared);
      });
    }).then(() => { if (this.overlay.hidden) this.resume('overlay'); });
  },

  webShare(link, title) {
    if (!navigator.share) return Promise.reject(new Error('no Web Share'));
    const plain = () => navigator.share({ title, url: link.url }).then(() => 'web_share');
    if (!link.image || !navigator.canShare) return plain();
    return fetch(link.image).then((res) => res.blob()).then((blob) => {
      const file = new File([blob], 'story.png', { type: blob.type || 'image/png' });
      if (!navigator.canShare({ files: [file] })) return plain();
      return navigator.share({ title, url: link.url, files: [file] }).then(() => 'web_share_file');
    }, plain);
  },

  copyLink(url) {
    const copied = navigator.clipboard && navigator.clipboard.writeText
      ? navigator.clipboard.writeText(url).then(() => true, () => false)
      : Promise.resolve(false);
    return copied.then((ok) => {
      this.showOverlay(ok ? 'Link copied' : 'Copy this link', url);
      return ok ? 'clipboard' : 'link';
    });
  },

  showOverlay(heading, url) {
    const dialog = el('div', 'recap-dialog');
    dialog.setAttribute('role', 'dialog');
    dialog.setAttribute('aria-modal', 'true');
    dialog.setAttribute('aria-label', heading);
    dialog.appendChild(el('h2', '', heading));
    const field = el('input', 'recap-link');
    field.readOnly = true;
    field.value = url;
    field.setAttribute('aria-label', 'Share link');
    dialog.appendChild(field);
    const done = el('button', 'recap-btn recap-btn-primary', 'Done');
    done.type = 'button';
    dialog.appendChild(done);
    const dismiss = () => {
      this.overlay.hidden = true;
      this.overlay.replaceChildren();
      this.resume('overlay');
      this.root.focus({ preventScroll: true });
    };
    done.addEventListener('click', dismiss);
    dialog.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); dismiss(); } });
    this.overlay.replaceChildren(dialog);
    this.overlay.hidden = false;
    this.pause('overlay');
    done.focus();
  },
};
