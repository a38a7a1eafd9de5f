// Registers the service worker (sw.js, at the site's root) that keeps the published site working
// offline. scripts/site.mjs adds this module to the site's index.html; the page served by
// www/serve.mjs does not load it. Registration waits until the page has fetched the engine's
// wasm, so that the worker's copy of it comes from the browser's cache rather than the network
// a second time.

const WASM = /\.wasm$/;

/** Resolves once a wasm file has been fetched (at once if it already has). */
function engineFetched() {
  return new Promise((resolve) => {
    const seen = (entries) => entries.some((e) => WASM.test(new URL(e.name).pathname));
    if (seen(performance.getEntriesByType('resource'))) {
      resolve();
      return;
    }
    const observer = new PerformanceObserver((list) => {
      if (seen(list.getEntries())) {
        observer.disconnect();
        resolve();
      }
    });
    observer.observe({ type: 'resource', buffered: true });
  });
}

if ('serviceWorker' in navigator && window.isSecureContext) {
  engineFetched()
    .then(() => navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { updateViaCache: 'none' }))
    .catch((e) => console.warn(`cellshift: no offline copy of this site (${e.message})`));
}
