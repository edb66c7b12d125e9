/*
 * Boots the full-screen player on /embed/<template> and wires it to the host app:
 * close, deep links, sharing and an expired token go to the host (see Recap.bridge).
 * Kept out of the page itself so the page's CSP can forbid inline scripts.
 */
(function () {
  'use strict';

  var mount = document.getElementById('recap-story');
  var params = new URLSearchParams(location.search);
  var token = params.get('token') || '';
  if (params.has('token')) {
    // The token names no one, but it should not linger in history, screenshots or copied links.
    params.delete('token');
    var query = params.toString();
    history.replaceState(null, '', location.pathname + (query ? '?' + query : '') + location.hash);
  }

  var bridge = Recap.bridge();
  var player = Recap.story(mount, {
    token: token,
    template: mount.getAttribute('data-template'),
    host: '',
    css: false,
    shareUrl: mount.getAttribute('data-share-url') || undefined,
    onClose: function (detail) {
      if (!bridge.send('close', detail)) history.length > 1 ? history.back() : player.destroy();
    },
    onDeepLink: function (href) {
      if (!bridge.send('deep_link', { href: href })) location.href = href;
    },
    onOpenUrl: function (href) {
      if (!bridge.native || !bridge.send('open_url', { href: href })) window.open(href, '_blank', 'noopener');
    },
    // Only native WebViews share through the host; a browser (framed or not) uses Web Share.
    onShare: bridge.native ? function (detail) { bridge.send('share', detail); } : undefined,
    onTokenExpired: function () { bridge.send('token_expired', {}); },
    onComplete: function () { bridge.send('completed', {}); }
  });
  bridge.send('ready', { template: mount.getAttribute('data-template') });

  // The host may answer token_expired with a fresh token, or pause while its own UI is on top.
  window.addEventListener('message', function (event) {
    if (event.source !== window.parent || !event.data || typeof event.data !== 'object') return;
    var data = event.data;
    if (data.type === 'recap:token' && typeof data.token === 'string') {
      player.setToken(data.token);
      if (!player.state().frames) player.retry();  // the error page was showing
    }
    else if (data.type === 'recap:pause') { player.pause(); }
    else if (data.type === 'recap:resume') { player.resume(); }
  });
  // Native hosts call these directly with evaluateJavascript.
  window.RecapPlayer = player;
})();
