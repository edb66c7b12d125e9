// The host bridge: close, deep links and sharing handed to the app around the player.
// WebViews have no navigator.share and cannot open other apps by themselves, so close,
// deep links and sharing are handed to the host: iOS WKScriptMessageHandler "recap", an
// Android @JavascriptInterface "RecapAndroid", and postMessage to a parent frame.

export function bridge() {
  const ios = window.webkit && window.webkit.messageHandlers && window.webkit.messageHandlers.recap;
  const android = window.RecapAndroid && typeof window.RecapAndroid.postMessage === 'function'
    ? window.RecapAndroid : null;
  const framed = window.parent && window.parent !== window;
  return {
    native: !!(ios || android),
    hasHost: !!(ios || android || framed),
    send (type, data) {
      const message = Object.assign({ source: 'recap', type }, data || {});
      if (ios) ios.postMessage(message);
      if (android) android.postMessage(JSON.stringify(message));
      if (framed) window.parent.postMessage(message, '*');
      return !!(ios || android || framed);
    }
  };
}
