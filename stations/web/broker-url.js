// Where the station page may send its secret (docs/stations.md). Pure
// functions of the page's location and the address asked for, so the rules
// are tested without a browser (tests/e2e/station-web.test.mjs).
//
//  - The default broker is the page's own origin, path /mqtt: wss:// when
//    the page came over https or from a host that is not loopback, ws://
//    only for a page on a loopback host (the development server).
//  - Another origin (a ?ws= parameter, or an address typed in) is never
//    used silently: the page shows the full address and connects only once
//    the user confirms it.
//  - ws:// to a host that is not loopback sends the secret and the ward's
//    vital signs unencrypted: it needs an explicit opt-in as well, with the
//    warning on screen.

/** True for localhost, 127.0.0.0/8 and ::1 (hostname as URL gives it). */
export function isLoopbackHost(hostname) {
  const h = String(hostname).toLowerCase();
  if (h === 'localhost' || h === '[::1]' || h === '::1') return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return Boolean(m) && Number(m[1]) === 127 && m.slice(2).every((x) => Number(x) <= 255);
}

/** The page's own broker: its origin, path /mqtt, TLS unless on loopback over http. */
export function defaultBrokerUrl(loc) {
  const tls = loc.protocol === 'https:' || !isLoopbackHost(loc.hostname);
  return `${tls ? 'wss' : 'ws'}://${loc.host || '127.0.0.1'}/mqtt`;
}

// The origin a ws(s):// URL would have as http(s)://.
function httpOrigin(u) {
  const v = new URL(u.href);
  v.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return v.origin;
}

/**
 * Checks an address before any secret goes to it. Returns {error} when it
 * cannot be used at all, else {url, otherOrigin, cleartext}: otherOrigin
 * when it is not the page's own broker (the user must confirm the address),
 * cleartext when it is ws:// to a host that is not loopback (the user must
 * opt in to sending unencrypted).
 */
export function assessBrokerUrl(text, loc) {
  let u;
  try {
    u = new URL(String(text).trim());
  } catch {
    return { error: 'not a URL (expected wss://host/mqtt)' };
  }
  if (u.protocol !== 'wss:' && u.protocol !== 'ws:') return { error: `${u.protocol}// is not a WebSocket address (expected wss://host/mqtt)` };
  if (u.username || u.password) return { error: 'the address must not carry a user name or password' };
  const own = u.href === new URL(defaultBrokerUrl(loc)).href || (loc.origin && httpOrigin(u) === loc.origin);
  return { url: u.href, otherOrigin: !own, cleartext: u.protocol === 'ws:' && !isLoopbackHost(u.hostname) };
}
