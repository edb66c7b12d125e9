/*
 * Boots the full-screen player on /embed/<template> and wires it to the host app:
 * close, deep links, sharing and an expired token go to the host (see Recap.bridge).
 * Kept out of the page itself so the page's CSP can forbid inline scripts.
 */
(function () {
  'use strict';

  const mount = document.getElementById('recap-story');
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || '';
  const delivery = params.get('delivery') || '';  // opened from a trigger's notification
  if(params.has('token') || params.has('delivery')) {
    // The token names no one, but it should not linger in history, screenshots or copied links;
    // nor the delivery, or a reload would open the notification again.
    params.delete('token');
    params.delete('delivery');
    const query = params.toString();
    history.replaceState(null, '', location.pathname + (query ? `?${  query}` : '') + location.hash);
  }

  // The server puts the viewer's story in the page when it can; else the player asks for it.
  const data = document.getElementById('recap-story-data');
  const story = data ? JSON.parse(data.textContent) : undefined;
  // and the player's words in the story's language, when that is not English (in player.js)
  const words = document.getElementById('recap-strings');
  const strings = words ? JSON.parse(words.textContent) : undefined;

  const bridge = window.Recap.bridge();
  const player = window.Recap.story(mount, {
    token,
    delivery,
    story,
    template: mount.getAttribute('data-template'),
    locale: mount.getAttribute('data-locale') || document.documentElement.lang || undefined,
    strings,
    host: '',
    css: false,
    shareUrl: mount.getAttribute('data-share-url') || undefined,
    onClose(detail) {
      // Nothing around the page to close it: it says so, never a black page or a step back.
      if (!bridge.send('close', detail)) player.showClosed();
    },
    onDeepLink(href) {
      if (!bridge.send('deep_link', { href })) location.href = href;
    },
    onOpenUrl(href) {
      if (!bridge.native || !bridge.send('open_url', { href })) window.open(href, '_blank', 'noopener');
    },
    // Only native WebViews share through the host; a browser (framed or not) uses Web Share.
    onShare: bridge.native ? (detail) => { bridge.send('share', detail); } : undefined,
    onTokenExpired() { bridge.send('token_expired', {}); },
    onComplete() { bridge.send('completed', {}); }
  });
  bridge.send('ready', { template: mount.getAttribute('data-template') });

  // The host may answer token_expired with a fresh token, or pause while its own UI is on top.
  window.addEventListener('message', (event) => {
    if (event.source !== window.parent || !event.data || typeof event.data !== 'object') return;
    const data = event.data;
    if(data.type === 'recap:token' && typeof data.token === 'string') {
      player.setToken(data.token);
      if (!player.state().frames) player.retry();  // the error page was showing
    }
    else if (data.type === 'recap:pause') { player.pause(); }
    else if (data.type === 'recap:resume') { player.resume(); }
  });
  // Native hosts call these directly with evaluateJavascript.
  window.RecapPlayer = player;
})();
