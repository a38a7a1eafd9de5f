// The service worker of the published site: once the page has been opened, it opens and trains
// with the network gone. scripts/site.mjs writes it to the site's root as sw.js (its scope is
// the site's folder, whatever the sub-path) with BUILD filled in: this version's hash and every
// file of the site (the page as `./`, its content-hashed modules, style and wasm, the bundled
// datasets). The local dev server never registers it.
//
// Install caches every file of BUILD; activating deletes the caches of this site's older
// versions. The page itself (a navigation to the scope or its index.html) comes from the network
// first, revalidated, so a new version shows at once; after an error or NAV_TIMEOUT_MS it comes
// from the cache. Other files come from the cache first; a content-hashed file fetched from the
// network is kept, anything else is passed through (so a page on the same origin that is not
// this site is not served stale copies).

const BUILD = { version: 'dev', files: [] };

const SCOPE = self.registration.scope;
const PREFIX = `cellshift ${SCOPE} `;
const CACHE = `${PREFIX}${BUILD.version}`;
const INDEX = new URL('./', SCOPE).href;
const NAV_TIMEOUT_MS = 4000;
/** Names written by scripts/site.mjs: `name.<12 hex digits>.ext`. */
const HASHED = /\.[0-9a-f]{12}\.[a-z0-9]+$/;

/** A response that can answer a navigation (a redirected one cannot). */
async function storable(response) {
  if (!response.redirected) return response;
  return new Response(await response.blob(), { status: response.status, statusText: response.statusText, headers: response.headers });
}

async function install() {
  const cache = await caches.open(CACHE);
  await Promise.all(
    BUILD.files.map(async (file) => {
      const url = new URL(file, SCOPE).href;
      // The page and the datasets keep their names across versions: revalidate them.
      const response = await fetch(url, { cache: HASHED.test(url) ? 'default' : 'no-cache' });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      await cache.put(url, await storable(response));
    }),
  );
  await self.skipWaiting();
}

async function activate() {
  for (const key of await caches.keys()) {
    if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
  }
  await self.clients.claim();
}

function timeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms));
}

async function page(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([fetch(new Request(request, { cache: 'no-cache' })), timeout(NAV_TIMEOUT_MS)]);
    if (response.ok && response.type === 'basic' && !response.redirected) await cache.put(INDEX, response.clone());
    return response;
  } catch (e) {
    const cached = await cache.match(INDEX);
    if (cached) return cached;
    throw e;
  }
}

async function file(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic' && HASHED.test(new URL(request.url).pathname)) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('install', (event) => event.waitUntil(install()));
self.addEventListener('activate', (event) => event.waitUntil(activate()));

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || !request.url.startsWith(SCOPE)) return;
  const url = new URL(request.url);
  if (request.mode === 'navigate') {
    if (url.href.split(/[?#]/)[0] === INDEX || url.pathname === new URL('index.html', SCOPE).pathname) event.respondWith(page(request));
    return;
  }
  if (BUILD.files.some((f) => new URL(f, SCOPE).href === url.href) || HASHED.test(url.pathname)) event.respondWith(file(request));
});
