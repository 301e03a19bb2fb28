/**
 * tokengate.js — the browser client for tokengate (an ES module: no build step, no dependencies).
 *
 *     import { ready, login, logout, authFetch, me, onSignedOut } from "/tokengate.js";
 *
 *     const user = await ready();            // page load: null when nobody is signed in
 *     await login("alice", "correct horse");  // throws TokenGateError (error.code) on failure
 *     const response = await authFetch("/api/orders", { method: "POST", body });
 *     const profile = await me();            // GET /auth/me, or null when signed out
 *     onSignedOut(({ reason }) => showLoginForm(reason));
 *     await logout();                        // or logout({ all: true }) for every session
 *
 * How it keeps a session (DESIGN.md §2–3, §6):
 * - The access token lives in this module's memory only (never localStorage or sessionStorage).
 *   The refresh token is an HttpOnly cookie that only the server reads; a page that has no token
 *   in memory (every page load) gets one from `POST /auth/refresh` — see {@link ready}.
 * - {@link authFetch} adds `Authorization: Bearer <token>` to same-origin requests. On a 401 it
 *   refreshes once and retries once; it never loops.
 * - The token is refreshed proactively shortly before it expires (at 70–80 % of `expiresIn`,
 *   jittered so that tabs do not fire together).
 * - One refresh at a time per tab: concurrent callers share one promise.
 * - One refresh at a time per browser: refreshes run under the Web Lock `tokengate-refresh`, and a
 *   tab that got a fresh token hands it to the other tabs over the BroadcastChannel `tokengate`.
 *   A tab that got the lock first checks whether another tab refreshed meanwhile (a token newer
 *   than the one it had; if it had to wait for the lock, it waits up to 300 ms for that token to
 *   arrive) and then adopts that token instead of calling `/auth/refresh`.
 *   So tabs never present a spent refresh token (which the server treats as theft and answers with
 *   `refresh_reused`, revoking the session).
 * - Sign-out (logout, or a refresh answered with 401 `refresh_missing` / `refresh_invalid` /
 *   `refresh_reused`) is announced to the page as a `tokengate:signed-out` event and to the other
 *   tabs over the same channel.
 *
 * Events (dispatched on {@link events}, an EventTarget; `event.detail` as described):
 * - `tokengate:signed-in`  `{ user, source }` — a login here or in another tab, or a session found
 *   on page load. `source` is `"this-tab"` or `"other-tab"`.
 * - `tokengate:token`      `{ expiresAt, issuedAt, tokenId, source }` — every new access token.
 * - `tokengate:signed-out` `{ reason, source }` — a session this tab had has ended. `reason` is
 *   `"logout"` or the server's error code, e.g. `"refresh_invalid"`.
 *
 * Errors: functions that fail because of the server reject with a {@link TokenGateError}, which
 * carries the server's `code` (e.g. `invalid_credentials`, `too_many_attempts`), the HTTP `status`
 * and `retryAfter` (seconds, when the server sent Retry-After). Network failures reject with the
 * browser's own TypeError (or an AbortError after `requestTimeoutMs`), as `fetch` does.
 *
 * @module tokengate
 */

/**
 * @typedef {object} User
 * @property {string} id
 * @property {string} username
 * @property {string} name
 * @property {string[]} roles
 */

/**
 * @typedef {object} Options
 * @property {string} [basePath="/auth"]   Where nginx mounts tokengate's endpoints.
 * @property {boolean} [proactive=true]    Refresh before expiry (timer, and before sending a request
 *   with an expired token). `false` leaves refreshing to the 401 path alone (useful in tests).
 * @property {number} [refreshAt=0.8]      Fraction of the token's lifetime after which to refresh…
 * @property {number} [jitter=0.1]         …minus up to this fraction, chosen at random per token.
 * @property {number} [requestTimeoutMs=15000]  Give up on a login/refresh/logout request after this
 *   long (a refresh holds the cross-tab lock while it runs).
 * @property {string[]} [tokenOrigins]     Origins that receive the Bearer token from authFetch
 *   (default: this page's origin only — the token never goes to another site by accident).
 * @property {string} [lockName="tokengate-refresh"]  The Web Lock that serialises refreshes.
 *
 * The BroadcastChannel shared by the tabs is named `tokengate` (fixed: it is opened on import).
 */

/** @type {Required<Options>} */
const config = {
  basePath: "/auth",
  proactive: true,
  refreshAt: 0.8,
  jitter: 0.1,
  requestTimeoutMs: 15000,
  tokenOrigins: [globalThis.location ? globalThis.location.origin : ""],
  lockName: "tokengate-refresh",
};
const CHANNEL_NAME = "tokengate";
/** How long a tab that waited for the lock waits for the other tab's token to arrive. */
const HANDOFF_WAIT_MS = 300;

/** An error answered by tokengate (or by nginx in front of it). */
export class TokenGateError extends Error {
  /**
   * @param {string} code       the `error` field of the JSON body, e.g. `invalid_credentials`
   * @param {string} message    a human sentence
   * @param {number} status     the HTTP status
   * @param {number|null} retryAfter  seconds from the Retry-After header, if any
   */
  constructor(code, message, status, retryAfter = null) {
    super(message);
    this.name = "TokenGateError";
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** Where this module's events are dispatched (see the list at the top). */
export const events = new EventTarget();

// --- state -------------------------------------------------------------------------------------

/**
 * The current session as this tab knows it, or null.
 * issuedAt/expiresAt are this machine's Date.now() milliseconds (shared by all tabs), taken when the
 * request that produced the token was sent, so the lifetime is counted conservatively.
 * @type {{token: string, issuedAt: number, expiresAt: number, tokenId: string, user: User} | null}
 */
let session = null;
/** @type {Promise<object|null> | null} the refresh in flight in this tab */
let inFlight = null;
/** @type {Promise<User|null> | null} */
let readyPromise = null;
let refreshTimer = 0;
let lastIssuedAt = 0;
const stats = { refreshRequests: 0, adoptedFromOtherTab: 0, retries: 0, signedOutEvents: 0 };

const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL_NAME) : null;
if (channel) channel.addEventListener("message", (event) => receive(event.data));
if (typeof document !== "undefined") {
  // A tab that was hidden (timers throttled) or restored from the back/forward cache may hold a
  // token that is about to expire: refresh it as soon as the user looks at the tab again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshIfDue();
  });
  globalThis.addEventListener?.("pageshow", (event) => {
    if (event.persisted) refreshIfDue();
  });
}

// --- public API ---------------------------------------------------------------------------------

/**
 * Changes options (see {@link Options}); returns the effective options.
 * @param {Options} options
 */
export function configure(options = {}) {
  Object.assign(config, options);
  schedule();
  return { ...config };
}

/**
 * Settles the page-load state: with no token in memory, asks `POST /auth/refresh` for one (the
 * refresh cookie is HttpOnly, so only the server can tell whether there is a session).
 * Resolves with the signed-in user, or null when there is no session (401 refresh_missing,
 * refresh_invalid or refresh_reused). Rejects on network errors and on 403/429/5xx, and may then
 * be called again. Every caller shares one request.
 * @returns {Promise<User|null>}
 */
export function ready() {
  if (session) return Promise.resolve(session.user);
  if (!readyPromise) {
    readyPromise = refresh().then(
      (current) => (current ? current.user : null),
      (error) => {
        readyPromise = null;
        throw error;
      },
    );
  }
  return readyPromise;
}

/**
 * Signs in with `POST /auth/login` (JSON). The server also sets the session cookies, so gated pages
 * (nginx `auth_request`) work for plain navigation too. Other tabs receive the session.
 * @param {string} username
 * @param {string} password
 * @returns {Promise<User>} the user
 * @throws {TokenGateError} e.g. `invalid_credentials`, `account_disabled`, `too_many_attempts`
 */
export async function login(username, password) {
  const sentAt = Date.now();
  const response = await post("/login", {
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await errorFrom(response);
  return accept(await response.json(), sentAt, "this-tab", { forceSignedIn: true }).user;
}

/**
 * Signs out with `POST /auth/logout` (or `?scope=all`: every session of the user, on every device).
 * This tab and the other tabs drop their token and dispatch `tokengate:signed-out` with reason
 * "logout" — even if the request fails, in which case the error is thrown afterwards.
 * @param {{all?: boolean}} [options]
 * @returns {Promise<void>}
 * @throws {TokenGateError} e.g. 401 `invalid_token` for `all` when the session was already gone
 */
export async function logout({ all = false } = {}) {
  const token = session ? session.token : null;
  let failure = null;
  try {
    const response = await post(all ? "/logout?scope=all" : "/logout", {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    if (!response.ok) failure = await errorFrom(response);
  } catch (error) {
    failure = error;
  }
  endSession("logout", Infinity, "this-tab", { announce: true, always: true });
  if (failure) throw failure;
}

/**
 * `fetch` with the access token. Adds `Authorization: Bearer <token>` when the request goes to one
 * of `tokenOrigins` (default: this origin) and carries no Authorization header of its own. Without a
 * token in memory it first gets one (one refresh). On a 401 it refreshes once — or adopts a token
 * another caller or tab obtained meanwhile — and retries once; a second 401 is returned as is.
 * Resolves with the Response (any status), like `fetch`.
 * @param {RequestInfo | URL} input
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function authFetch(input, init = undefined) {
  const request = new Request(input, init);
  if (!config.tokenOrigins.includes(new URL(request.url).origin) || request.headers.has("Authorization")) {
    return fetch(request);
  }
  let refreshed = false;
  let used = session;
  if (!used || (config.proactive && isExpired(used))) {
    refreshed = true;
    used = await refreshQuietly(used);
  }
  const first = await send(request.clone(), used);
  if (first.status !== 401 || refreshed) return first;

  // A newer token than the one just refused (another call or tab refreshed meanwhile) needs no
  // request of our own; refresh() checks that again under the cross-tab lock.
  const next = session && used && session.issuedAt > used.issuedAt ? session : await refreshQuietly(used);
  if (!next || next === used) return first;
  stats.retries += 1;
  return send(request, next);
}

/**
 * The signed-in user from `GET /auth/me` (through {@link authFetch}), or null when signed out.
 * @returns {Promise<User|null>}
 * @throws {TokenGateError} on statuses other than 200 and 401
 */
export async function me() {
  const response = await authFetch(`${config.basePath}/me`, { headers: { Accept: "application/json" } });
  if (response.ok) return response.json();
  if (response.status === 401) return null;
  throw await errorFrom(response);
}

/**
 * Gets a fresh access token now (single-flight in this tab, serialised across tabs). Resolves with
 * `{user, expiresAt}` or null when the server says there is no session. Rejects on network errors
 * and on 403/429/5xx.
 * @returns {Promise<{user: User, expiresAt: number}|null>}
 */
export async function refresh() {
  const current = await refreshSession();
  return current ? { user: current.user, expiresAt: current.expiresAt } : null;
}

/** Whether this tab holds an access token. */
export function isSignedIn() {
  return session !== null;
}

/** The signed-in user as the last login/refresh reported it, or null. */
export function currentUser() {
  return session ? session.user : null;
}

/**
 * Adds a listener for `tokengate:signed-out`; returns a function that removes it.
 * @param {(detail: {reason: string, source: string}) => void} listener
 */
export function onSignedOut(listener) {
  return on("tokengate:signed-out", listener);
}

/**
 * Adds a listener for `tokengate:signed-in`; returns a function that removes it.
 * @param {(detail: {user: User, source: string}) => void} listener
 */
export function onSignedIn(listener) {
  return on("tokengate:signed-in", listener);
}

/**
 * Adds a listener for `tokengate:token` (every new access token); returns a remover.
 * @param {(detail: {expiresAt: number, issuedAt: number, tokenId: string, source: string}) => void} listener
 */
export function onToken(listener) {
  return on("tokengate:token", listener);
}

/**
 * Diagnostics for demos and tests — never the token itself: the token's `jti` as `tokenId`, its
 * timing, and counters (refresh requests this tab sent, tokens adopted from other tabs, retries).
 */
export function debugState() {
  return {
    signedIn: session !== null,
    username: session ? session.user.username : null,
    tokenId: session ? session.tokenId : null,
    issuedAt: session ? session.issuedAt : null,
    expiresAt: session ? session.expiresAt : null,
    refreshing: inFlight !== null,
    proactive: config.proactive,
    crossTab: { locks: hasLocks(), broadcast: channel !== null },
    ...stats,
  };
}

// --- refreshing -------------------------------------------------------------------------------

/** refresh(), single-flight per tab; resolves with the session or null. */
function refreshSession() {
  if (!inFlight) {
    const basis = session ? session.issuedAt : 0;
    inFlight = withRefreshLock((contended) => refreshLocked(basis, contended)).finally(() => {
      inFlight = null;
    });
  }
  return inFlight;
}

/** refreshSession() for authFetch: a failed refresh (network, 5xx) leaves the current token. */
async function refreshQuietly(fallback) {
  try {
    return await refreshSession();
  } catch {
    return fallback;
  }
}

async function refreshLocked(basis, contended) {
  if (contended) {
    // Another tab held the lock: it has most likely just refreshed, and its token is on the way
    // over the BroadcastChannel (delivery is not ordered with the lock's release). Wait for it.
    await newerSessionOrTimeout(basis, HANDOFF_WAIT_MS);
  } else {
    // Let messages already queued from other tabs arrive first.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  if (session && session.issuedAt > basis && !isExpired(session)) {
    stats.adoptedFromOtherTab += 1;
    return session; // another tab (or call) refreshed while we waited: its token is newer than ours
  }
  const sentAt = Date.now();
  stats.refreshRequests += 1;
  const response = await post("/refresh", {});
  if (response.ok) return accept(await response.json(), sentAt, "this-tab");
  const error = await errorFrom(response);
  if (response.status === 401) {
    // refresh_missing / refresh_invalid / refresh_reused: the server has cleared the cookies.
    endSession(error.code, sentAt, "this-tab", { announce: true });
    return null;
  }
  throw error;
}

/**
 * Runs FN(contended) while holding the cross-tab refresh lock (directly where Web Locks are
 * missing). CONTENDED tells FN that another tab held the lock when this one asked for it.
 */
async function withRefreshLock(fn) {
  if (!hasLocks()) return fn(false);
  const immediate = await navigator.locks.request(config.lockName, { ifAvailable: true }, async (lock) =>
    lock ? { value: await fn(false) } : null,
  );
  if (immediate) return immediate.value;
  return navigator.locks.request(config.lockName, () => fn(true));
}

/** Resolves once a session newer than BASIS is installed, a sign-out arrives, or after MS. */
function newerSessionOrTimeout(basis, ms) {
  if (session && session.issuedAt > basis) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      events.removeEventListener("tokengate:token", onNewToken);
      events.removeEventListener("tokengate:signed-out", done);
      resolve();
    };
    const onNewToken = (event) => {
      if (event.detail.issuedAt > basis) done();
    };
    const timer = setTimeout(done, ms);
    events.addEventListener("tokengate:token", onNewToken);
    events.addEventListener("tokengate:signed-out", done);
  });
}

function hasLocks() {
  return typeof navigator !== "undefined" && !!navigator.locks && typeof navigator.locks.request === "function";
}

function isExpired(current) {
  // One second of margin: a token that expires in flight is of no use.
  return Date.now() >= current.expiresAt - 1000;
}

function refreshIfDue() {
  if (!session || !config.proactive || inFlight) return;
  const lifetime = session.expiresAt - session.issuedAt;
  if (Date.now() >= session.issuedAt + lifetime * config.refreshAt) refreshSession().catch(() => schedule());
}

/** Arms the proactive refresh for the current token. */
function schedule() {
  clearTimeout(refreshTimer);
  refreshTimer = 0;
  if (!session || !config.proactive) return;
  const lifetime = session.expiresAt - session.issuedAt;
  const fraction = Math.max(0.1, config.refreshAt - Math.random() * config.jitter);
  const due = session.issuedAt + lifetime * fraction;
  const expected = session;
  refreshTimer = setTimeout(() => {
    if (session !== expected) return; // replaced meanwhile (its own timer is armed)
    refreshSession().catch(() => {
      // A transient failure (network, 503): try again while the token is still valid.
      if (session === expected && !isExpired(expected)) {
        clearTimeout(refreshTimer);
        const retryIn = Math.min(10000, Math.max(1000, (expected.expiresAt - Date.now()) / 2));
        refreshTimer = setTimeout(() => refreshIfDue(), retryIn);
      }
    });
  }, Math.max(0, due - Date.now()));
}

// --- session state ------------------------------------------------------------------------------

/** Takes a token response (login/refresh) as the current session and tells the other tabs. */
function accept(body, sentAt, source, { forceSignedIn = false } = {}) {
  const issuedAt = Math.max(sentAt, lastIssuedAt + 1);
  const current = {
    token: body.accessToken,
    issuedAt,
    expiresAt: sentAt + Number(body.expiresIn) * 1000,
    tokenId: tokenIdOf(body.accessToken),
    user: body.user,
  };
  install(current, source, forceSignedIn);
  broadcast({ type: "session", session: current });
  return current;
}

function install(current, source, forceSignedIn) {
  const wasSignedIn = session !== null;
  session = current;
  lastIssuedAt = Math.max(lastIssuedAt, current.issuedAt);
  readyPromise = null;
  schedule();
  dispatch("tokengate:token", {
    expiresAt: current.expiresAt, issuedAt: current.issuedAt, tokenId: current.tokenId, source,
  });
  if (!wasSignedIn || forceSignedIn) dispatch("tokengate:signed-in", { user: current.user, source });
}

/**
 * Drops the session because of REASON. AT is when the evidence was gathered (when the failed
 * refresh was sent): a session obtained after that (a login in another tab meanwhile) is kept.
 */
function endSession(reason, at, source, { announce = false, always = false } = {}) {
  if (session && session.issuedAt > at && !always) return;
  const hadSession = session !== null;
  session = null;
  readyPromise = null;
  clearTimeout(refreshTimer);
  refreshTimer = 0;
  if (announce) broadcast({ type: "signed-out", reason, at: Number.isFinite(at) ? at : Date.now() });
  if (hadSession || always) {
    stats.signedOutEvents += 1;
    dispatch("tokengate:signed-out", { reason, source });
  }
}

/** A message from another tab. */
function receive(message) {
  if (!message || typeof message !== "object") return;
  if (message.type === "session" && message.session && typeof message.session.token === "string") {
    const incoming = message.session;
    if (session && incoming.issuedAt <= session.issuedAt) return; // ours is as new or newer
    install(incoming, "other-tab", false);
  } else if (message.type === "signed-out" && typeof message.at === "number") {
    endSession(String(message.reason || "signed_out"), message.at, "other-tab");
  }
}

function broadcast(message) {
  try {
    channel?.postMessage(message);
  } catch {
    // A closed channel (page unloading): nothing to tell.
  }
}

// --- HTTP ---------------------------------------------------------------------------------------

function send(request, current) {
  if (!current) return fetch(request);
  const headers = new Headers(request.headers);
  headers.set("Authorization", `Bearer ${current.token}`);
  return fetch(new Request(request, { headers }));
}

/** A POST to tokengate (same-origin credentials, no cache, bounded in time). */
async function post(path, { headers = {}, body = undefined }) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.requestTimeoutMs);
  try {
    return await fetch(`${config.basePath}${path}`, {
      method: "POST",
      headers: { Accept: "application/json", ...headers },
      body,
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** A TokenGateError from an error response (tokengate's JSON body, or whatever nginx sent). */
async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") code = body.error;
    if (body && typeof body.message === "string") message = body.message;
  } catch {
    // Not JSON (an nginx error page): keep the status.
  }
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return new TokenGateError(code, message, response.status, Number.isFinite(retryAfter) ? retryAfter : null);
}

/** The `jti` claim (for diagnostics only; the signature is the server's business). */
function tokenIdOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return String(JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "="))).jti);
  } catch {
    return "";
  }
}

function on(type, listener) {
  const handler = (event) => listener(event.detail);
  events.addEventListener(type, handler);
  return () => events.removeEventListener(type, handler);
}

function dispatch(type, detail) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
}
