// The demo page (index.html) on top of tokengate.js. Progressive enhancement: without JavaScript
// the sign-in and sign-out forms post to tokengate directly; with it, they go through the client
// module, the page shows the profile from /auth/me and follows the session across tabs.
import {
  authFetch,
  configure,
  debugState,
  login,
  logout,
  me,
  onSignedIn,
  onSignedOut,
  onToken,
  ready,
  refresh,
} from "/tokengate.js";

/** What each `error` code (from ?error=… or a failed call) means to a person. */
const MESSAGES = {
  invalid_credentials: "The username or password is incorrect.",
  account_disabled: "This account is disabled. Ask an administrator to enable it.",
  too_many_attempts: "Too many failed attempts. Wait a moment and try again.",
  invalid_request: "Enter both a username and a password.",
  refresh_missing: "Please sign in to continue.",
  refresh_invalid: "Your session has ended. Please sign in again.",
  refresh_reused: "Your session was ended for your safety. Please sign in again.",
  invalid_token: "Your session has ended. Please sign in again.",
  token_expired: "Your session has expired. Please sign in again.",
  origin_rejected: "The request came from another site and was refused.",
  unavailable: "The sign-in service is busy. Please try again shortly.",
  payload_too_large: "That input is too long.",
  unsupported_media_type: "The browser sent the form in a format the service does not accept.",
};
const GENERIC = "Something went wrong. Please try again.";

const $ = (id) => document.getElementById(id);
const page = {
  state: $("session-state"),
  status: $("status"),
  signin: $("signin"),
  loginForm: $("login-form"),
  loginError: $("login-error"),
  loginButton: $("login-button"),
  profile: $("profile"),
  signout: $("signout"),
  logoutForm: $("logout-form"),
  logoutAll: $("logout-all-button"),
  checkButton: $("check-button"),
  tokenInfo: $("token-info"),
};

document.documentElement.classList.add("js");
page.logoutAll.hidden = false;

const params = new URLSearchParams(location.search);
const destination = safePath(params.get("rd"));
if (destination) page.loginForm.elements.namedItem("rd").value = destination;
if (destination) {
  const note = $("continue-note");
  note.textContent = `After signing in you will continue to ${destination}.`;
  note.hidden = false;
}
const errorCode = params.get("error");
if (errorCode) showLoginError(messageFor(errorCode));

// --- session display ----------------------------------------------------------------------------

const TITLES = {
  "signed-in": ["Your account", "tokengate — your account"],
  "signed-out": ["Sign in to the demo", "tokengate — sign in"],
};

function setState(state, label) {
  const [heading, title] = TITLES[state] ?? TITLES["signed-out"];
  $("page-title").textContent = heading;
  document.title = title;
  page.state.hidden = false;
  page.state.dataset.state = state;
  page.state.textContent = label;
  document.body.dataset.session = state;
}

function say(text, kind = "info") {
  page.status.textContent = text;
  page.status.dataset.kind = kind;
}

function showLoginError(text) {
  page.loginError.textContent = text;
  page.loginError.hidden = !text;
}

function showSignedOut(message) {
  setState("signed-out", "Signed out");
  page.profile.hidden = true;
  page.signout.hidden = true;
  page.signin.hidden = false;
  page.tokenInfo.textContent = "—";
  $("admin-note").hidden = true;
  if (message !== undefined) say(message);
}

async function showProfile(message) {
  let user;
  try {
    user = await me();
  } catch (error) {
    say(`Could not load your profile: ${describe(error)}`, "error");
    return;
  }
  if (!user) {
    showSignedOut("You are signed out.");
    return;
  }
  $("profile-name").textContent = user.name || user.username;
  $("profile-display-name").textContent = user.name || "—";
  $("profile-username").textContent = user.username;
  const roles = $("profile-roles");
  roles.replaceChildren(
    ...(user.roles.length ? user.roles : ["none"]).map((role) => {
      const item = document.createElement("li");
      item.textContent = role;
      return item;
    }),
  );
  $("admin-note").hidden = user.roles.includes("admin");
  page.signin.hidden = true;
  page.profile.hidden = false;
  page.signout.hidden = false;
  showLoginError("");
  setState("signed-in", `Signed in as ${user.username}`);
  if (message !== undefined) say(message);
  showToken(debugState());
}

function showToken({ expiresAt, issuedAt }) {
  if (!expiresAt) return;
  const time = (ms) => new Date(ms).toLocaleTimeString();
  page.tokenInfo.textContent = `issued ${time(issuedAt)}, valid until ${time(expiresAt)} — renews automatically`;
}

function messageFor(code) {
  return MESSAGES[code] ?? GENERIC;
}

function describe(error) {
  if (error && typeof error.code === "string") {
    const wait = error.code === "too_many_attempts" && error.retryAfter ? ` (about ${error.retryAfter} s)` : "";
    return messageFor(error.code) + wait;
  }
  return "The sign-in service could not be reached. Check your connection and try again.";
}

/** A same-origin path to continue to after signing in (the server applies the same rule). */
function safePath(value) {
  if (!value || !value.startsWith("/") || value.startsWith("//") || /[\\\u0000-\u0020\u007f]/.test(value)) {
    return null;
  }
  try {
    const url = new URL(value, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
  } catch {
    return null;
  }
}

// --- events from the client module ----------------------------------------------------------------

onSignedOut(({ reason, source }) => {
  let message;
  if (reason === "logout") message = source === "other-tab" ? "You signed out in another tab." : "You have signed out.";
  else message = messageFor(reason);
  showSignedOut(message);
});

onSignedIn(({ source }) => {
  if (source === "other-tab") showProfile("You signed in in another tab.");
});

onToken((detail) => showToken(detail));

// --- forms ----------------------------------------------------------------------------------------

page.loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = page.loginForm;
  const username = form.elements.namedItem("username").value.trim();
  const password = form.elements.namedItem("password").value;
  page.loginButton.disabled = true;
  form.setAttribute("aria-busy", "true");
  showLoginError("");
  say("Signing in…");
  try {
    await login(username, password);
    form.elements.namedItem("password").value = "";
    if (destination) {
      say("Signed in. Taking you back…");
      location.assign(destination);
      return;
    }
    await showProfile("You are signed in.");
    $("profile-heading").focus?.();
  } catch (error) {
    say("");
    showLoginError(describe(error));
    const password = form.elements.namedItem("password");
    password.value = "";
    password.focus();
  } finally {
    page.loginButton.disabled = false;
    form.removeAttribute("aria-busy");
  }
});

page.logoutForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const all = event.submitter?.dataset.scope === "all";
  try {
    await logout({ all });
  } catch (error) {
    // Signed out here anyway; say what the server said.
    say(`Signed out on this device. The server said: ${describe(error)}`, "error");
  }
  page.loginForm.elements.namedItem("username").focus();
});

page.checkButton.addEventListener("click", () => showProfile("Session checked: still signed in."));

// --- page load --------------------------------------------------------------------------------------

setState("checking", "Checking your session…");
ready().then(
  (user) => (user ? showProfile() : showSignedOut()),
  (error) => {
    setState("unknown", "Session unknown");
    say(`Could not check your session: ${describe(error)}`, "error");
  },
);

// A small hook for the browser tests and for trying the client in the console. It is part of the
// demo page only; tokengate.js itself puts nothing on window.
window.tokengateDemo = { authFetch, configure, debugState, login, logout, me, ready, refresh };
