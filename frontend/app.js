// A demo client of auth-server and posts-server: plain JavaScript, no build step.
//
// Server URLs come from the page's own URL (`?auth=…&posts=…`), or default to the development
// ports. Tokens live in this page's memory only: a reload logs out. When posts-server answers 403
// (the access token has expired, or its session has ended), the page trades its refresh token for
// a new pair and retries the request once; when auth-server refuses the refresh token too, the
// session has ended (logged out here or elsewhere, "Log out everywhere" on another device, or
// revoked), and the page says so. The log shows every request and its status, never a token.
"use strict";

const params = new URLSearchParams(window.location.search);
const AUTH_URL = baseUrl(params.get("auth"), "http://localhost:4000");
const POSTS_URL = baseUrl(params.get("posts"), "http://localhost:3000");

/** The session: in memory only. */
const session = { username: null, accessToken: null, refreshToken: null, expiresAt: 0 };
/** A refresh in flight, shared by every request that needs one. */
let refreshing = null;

const $ = (id) => document.getElementById(id);

function baseUrl(given, fallback) {
  const url = (given || fallback).trim();
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

// ---- the log ----------------------------------------------------------------------------

function log(text, kind = "note", data = {}) {
  const item = document.createElement("li");
  const time = new Date().toLocaleTimeString([], { hour12: false });
  item.textContent = `${time} ${text}`;
  item.className = kind;
  Object.assign(item.dataset, data);
  const list = $("log");
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

// ---- HTTP -------------------------------------------------------------------------------

/** One request, logged with its status (and error code); resolves to `{ status, body }`. */
async function call(server, method, path, { json, token } = {}) {
  const name = server === AUTH_URL ? "auth" : "posts";
  const request = `${method} ${path}`;
  const headers = {};
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  log(`→ ${request} (${name}${token ? ", with access token" : ""})`, "note", { sent: request });
  const started = performance.now();
  let response;
  try {
    response = await fetch(server + path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch (error) {
    log(`✗ ${request}: no answer (server down, or this origin not in CORS_ALLOWED_ORIGINS)`, "bad", {
      request,
      status: "0",
    });
    return { status: 0, body: null };
  }
  const ms = Math.round(performance.now() - started);
  let body = null;
  if (response.status !== 204) {
    body = await response.json().catch(() => null);
  }
  const code = body && typeof body.error === "string" ? ` ${body.error}` : "";
  const wait = response.headers.get("Retry-After");
  const extra = wait ? `, retry after ${wait} s` : "";
  log(`← ${response.status}${code} ${request} (${ms} ms${extra})`, response.ok ? "ok" : "bad", {
    request,
    status: String(response.status),
  });
  return { status: response.status, body };
}

function describe({ status, body }) {
  if (status === 0) return "the server did not answer";
  return body && body.message ? `${body.message} (${status})` : `status ${status}`;
}

// ---- tokens -----------------------------------------------------------------------------

function keepTokens(tokens) {
  session.accessToken = tokens.accessToken;
  session.refreshToken = tokens.refreshToken;
  session.expiresAt = Date.now() + tokens.expiresIn * 1000;
}

function forgetSession() {
  session.username = null;
  session.accessToken = null;
  session.refreshToken = null;
  session.expiresAt = 0;
}

/**
 * Trades the refresh token for a new pair; one refresh at a time. Resolves to `"refreshed"`,
 * `"ended"` (auth-server refused the refresh token: the session has ended) or `"failed"` (no
 * answer, or another error). Unless refreshed, the session is forgotten.
 */
function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const answer = await call(AUTH_URL, "POST", "/token", { json: { token: session.refreshToken } });
      if (answer.status === 200) {
        keepTokens(answer.body);
        log(`new token pair (access token valid ${answer.body.expiresIn} s)`, "note", { event: "refreshed" });
        return "refreshed";
      }
      forgetSession();
      if (answer.status === 401 || answer.status === 403) {
        log("the session has ended: log in again", "bad", { event: "session-ended" });
        showAccountStatus("Your session has ended: log in again.", true);
        return "ended";
      }
      log("the tokens could not be refreshed: log in again", "bad", { event: "refresh-failed" });
      showAccountStatus(`The session could not be refreshed: ${describe(answer)}. Log in again.`, true);
      return "failed";
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * A posts-server request with the access token; on 403, refreshes once and retries once. When
 * the refresh is refused, resolves to the first answer marked `ended: true`.
 */
async function postsCall(method, path, json) {
  const answer = await call(POSTS_URL, method, path, { json, token: session.accessToken });
  if (answer.status !== 403 || !session.refreshToken) return answer;
  log("access token refused: refreshing it", "note", { event: "refreshing" });
  const refreshed = await refreshTokens();
  if (refreshed !== "refreshed") return { ...answer, ended: refreshed === "ended" };
  return call(POSTS_URL, method, path, { json, token: session.accessToken });
}

/** What the page says when posts-server refused the access token and auth-server the refresh token. */
function sessionEnded(answer) {
  return `Your session has ended: log in again. (posts-server: ${describe(answer)})`;
}

// ---- actions ----------------------------------------------------------------------------

async function logIn(username, password) {
  const answer = await call(AUTH_URL, "POST", "/login", { json: { username, password } });
  if (answer.status !== 200) {
    showAccountStatus(`Log in failed: ${describe(answer)}`, true);
    return;
  }
  session.username = username;
  keepTokens(answer.body);
  log(`logged in as ${username} (access token valid ${answer.body.expiresIn} s)`, "note", { event: "logged-in" });
  showAccountStatus("");
  $("password").value = "";
  render();
  await loadPosts();
}

async function signUp(username, password) {
  const answer = await call(AUTH_URL, "POST", "/register", { json: { username, password } });
  if (answer.status !== 201) {
    showAccountStatus(`Sign up failed: ${describe(answer)}`, true);
    return;
  }
  await logIn(username, password);
}

async function loadPosts() {
  const answer = await postsCall("GET", "/posts");
  if (answer.status === 200) {
    showPosts(answer.body);
  } else {
    showPosts([]);
    showPostsStatus(answer.ended ? sessionEnded(answer) : `Posts refused: ${describe(answer)}`, true);
  }
  render();
}

async function publish(title, body) {
  const answer = await postsCall("POST", "/posts", { title, body });
  if (answer.status !== 201) {
    if (answer.ended) showPosts([]);
    showPostsStatus(answer.ended ? sessionEnded(answer) : `Not published: ${describe(answer)}`, true);
    render();
    return;
  }
  $("post-title").value = "";
  $("post-body").value = "";
  await loadPosts();
}

async function logOut() {
  const token = session.refreshToken;
  forgetSession();
  showPosts([]);
  showPostsStatus("Logged out.");
  render();
  if (token) await call(AUTH_URL, "DELETE", "/logout", { json: { token } });
  log("logged out: tokens forgotten", "note", { event: "logged-out" });
}

/** Ends every session of the user, this one and those of other browsers and devices. */
async function logOutEverywhere() {
  const token = session.refreshToken;
  const username = session.username;
  forgetSession();
  showPosts([]);
  showPostsStatus("Logging out everywhere…");
  render();
  if (!token) return;
  const answer = await call(AUTH_URL, "DELETE", "/logout", { json: { token, scope: "global" } });
  if (answer.status === 204) {
    showPostsStatus(`Logged out everywhere: every session of ${username} has ended.`);
    log(`logged out everywhere: every session of ${username} ended, tokens forgotten`, "note", {
      event: "logged-out-everywhere",
    });
  } else {
    showPostsStatus(`Log out everywhere failed: ${describe(answer)}. Other sessions may go on.`, true);
    log("log out everywhere failed: tokens forgotten here only", "bad", { event: "logout-everywhere-failed" });
  }
}

// ---- rendering --------------------------------------------------------------------------

function showAccountStatus(text, bad = false) {
  $("account-status").textContent = text;
  $("account-status").classList.toggle("bad", bad);
}

function showPostsStatus(text, bad = false) {
  $("posts-status").textContent = text;
  $("posts-status").classList.toggle("bad", bad);
}

function showPosts(posts) {
  const list = $("posts");
  list.replaceChildren(
    ...posts.map((post) => {
      const item = document.createElement("li");
      const title = document.createElement("div");
      title.className = "title";
      title.textContent = post.title;
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = `#${post.id} by ${post.username} · ${new Date(post.createdAt).toLocaleString()}`;
      const body = document.createElement("p");
      body.className = "body";
      body.textContent = post.body;
      item.append(title, meta, body);
      return item;
    }),
  );
  showPostsStatus(posts.length === 1 ? "1 post" : `${posts.length} posts`);
}

function render() {
  const loggedIn = Boolean(session.refreshToken);
  $("session").textContent = loggedIn ? `Logged in as ${session.username}` : "Not logged in";
  $("logout").hidden = !loggedIn;
  $("logout-everywhere").hidden = !loggedIn;
  $("account").hidden = loggedIn;
  $("publish").disabled = !loggedIn;
}

function tick() {
  if (!session.refreshToken) return;
  const left = Math.max(0, Math.round((session.expiresAt - Date.now()) / 1000));
  const access = left > 0 ? `access token valid ${left} s more` : "access token expired (refreshed on next request)";
  $("session").textContent = `Logged in as ${session.username} · ${access}`;
}

// ---- wiring -----------------------------------------------------------------------------

function busy(action) {
  return async (event) => {
    event.preventDefault();
    const buttons = document.querySelectorAll("button");
    buttons.forEach((button) => (button.dataset.wasDisabled = button.disabled));
    buttons.forEach((button) => (button.disabled = true));
    try {
      await action();
    } finally {
      buttons.forEach((button) => (button.disabled = button.dataset.wasDisabled === "true"));
      render();
    }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("auth-url").textContent = AUTH_URL;
  $("posts-url").textContent = POSTS_URL;
  const credentials = () => [$("username").value.trim(), $("password").value];
  $("login-form").addEventListener("submit", busy(() => logIn(...credentials())));
  $("signup").addEventListener(
    "click",
    busy(() => ($("login-form").reportValidity() ? signUp(...credentials()) : undefined)),
  );
  $("post-form").addEventListener("submit", busy(() => publish($("post-title").value, $("post-body").value)));
  $("reload").addEventListener("click", busy(loadPosts));
  $("logout").addEventListener("click", busy(logOut));
  $("logout-everywhere").addEventListener("click", busy(logOutEverywhere));
  setInterval(tick, 1000);
  render();
  log(`ready: auth-server ${AUTH_URL}, posts-server ${POSTS_URL}`);
});
