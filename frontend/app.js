// A demo client of auth-server and posts-server: plain JavaScript, no build step.
//
// Server URLs come from the page's own URL (`?auth=…&posts=…`), or default to ports 4000 and
// 3000 of the page's own host (the refresh cookie is `SameSite=Strict`: the browser sends it only
// to a server of the page's own site).
//
// Cookie mode: the page logs in with `"delivery": "cookie"`, so auth-server keeps the refresh
// token in an `HttpOnly` cookie that no script can read, this one included; the access token
// lives in this page's memory only. On load, the page asks for a new access token with that
// cookie (`POST /token` with `{}`), so a reload keeps the user logged in. When the access token
// has expired, or a server refuses it (403 `invalid_token`), the page refreshes it from the
// cookie and retries the request once; when auth-server refuses the cookie too, the session has
// ended (logged out here or elsewhere, "Log out everywhere", a password change, ended from a
// sessions list, or revoked), and the page says so. The log shows every request and its status,
// never a token.
"use strict";

const params = new URLSearchParams(window.location.search);
const AUTH_URL = baseUrl(params.get("auth"), defaultServer(4000));
const POSTS_URL = baseUrl(params.get("posts"), defaultServer(3000));

/** The session: the access token in memory only; the refresh token is in a cookie scripts cannot read. */
const session = { username: null, accessToken: null, expiresAt: 0 };
/** A refresh in flight, shared by every request that needs one. */
let refreshing = null;

const $ = (id) => document.getElementById(id);

function baseUrl(given, fallback) {
  const url = (given || fallback).trim();
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

/** `port` on the page's own host (`localhost` for a page opened from a file). */
function defaultServer(port) {
  return `http://${window.location.hostname || "localhost"}:${port}`;
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

/**
 * One request, logged with its status (and error code); resolves to `{ status, body, server }`.
 * `cookie` sends the refresh cookie (and accepts a new one): for /login, /token and /logout only.
 */
async function call(server, method, path, { json, token, cookie = false } = {}) {
  const name = server === AUTH_URL ? "auth" : "posts";
  const request = `${method} ${path}`;
  const headers = {};
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const how = [name, token && "with access token", cookie && "with the refresh cookie"].filter(Boolean).join(", ");
  log(`→ ${request} (${how})`, "note", { sent: request });
  const started = performance.now();
  let response;
  try {
    response = await fetch(server + path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      credentials: cookie ? "include" : "omit",
    });
  } catch (error) {
    log(`✗ ${request}: no answer (server down, or this origin not in CORS_ALLOWED_ORIGINS)`, "bad", {
      request,
      status: "0",
    });
    return { status: 0, body: null, server: name };
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
  return { status: response.status, body, server: name, retryAfter: wait };
}

function describe({ status, body }) {
  if (status === 0) return "the server did not answer";
  return body && body.message ? `${body.message} (${status})` : `status ${status}`;
}

// ---- tokens -----------------------------------------------------------------------------

/** Keeps the access token (in memory); a refresh token in a body is never kept. */
function keepTokens(tokens) {
  session.accessToken = tokens.accessToken;
  session.expiresAt = Date.now() + tokens.expiresIn * 1000;
  session.username = claims(tokens.accessToken).name || session.username;
}

/** The claims of a JWT, read (not verified: the servers do that) for the username after a reload. */
function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

function forgetSession() {
  session.username = null;
  session.accessToken = null;
  session.expiresAt = 0;
}

/**
 * Trades the refresh cookie for a new access token (auth-server replaces the cookie); one
 * refresh at a time. Resolves to `{ outcome, answer }`: `"refreshed"`, `"ended"` (auth-server
 * refused the cookie: the session has ended) or `"failed"` (no answer, or another error).
 * Unless refreshed, the session is forgotten.
 */
function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const answer = await call(AUTH_URL, "POST", "/token", { json: {}, cookie: true });
      if (answer.status === 200) {
        keepTokens(answer.body);
        log(`new access token from the refresh cookie (valid ${answer.body.expiresIn} s)`, "note", {
          event: "refreshed",
        });
        return { outcome: "refreshed", answer };
      }
      forgetSession();
      if (answer.status === 401 || answer.status === 403) {
        log("the session has ended: log in again", "bad", { event: "session-ended" });
        showAccountStatus("Your session has ended: log in again.", true);
        return { outcome: "ended", answer };
      }
      log("the access token could not be refreshed: log in again", "bad", { event: "refresh-failed" });
      showAccountStatus(`The session could not be refreshed: ${describe(answer)}. Log in again.`, true);
      return { outcome: "failed", answer };
    })().finally(() => {
      refreshing = null;
      render();
    });
  }
  return refreshing;
}

/**
 * A request with the access token. An expired one is refreshed first; on 403 `invalid_token`
 * (expired after all, or its session has ended) the page refreshes once and retries once. When
 * the refresh is refused, resolves to the refused answer marked `ended: true`.
 */
async function authorized(server, method, path, json) {
  if (session.accessToken && Date.now() >= session.expiresAt) {
    log("access token expired: refreshing it from the cookie", "note", { event: "refreshing" });
    const { outcome, answer } = await refreshTokens();
    if (outcome !== "refreshed") return { ...answer, ended: outcome === "ended" };
  }
  const answer = await call(server, method, path, { json, token: session.accessToken });
  const refused = answer.status === 403 && answer.body && answer.body.error === "invalid_token";
  if (!refused || !session.accessToken) return answer;
  log("access token refused: refreshing it from the cookie", "note", { event: "refreshing" });
  const { outcome } = await refreshTokens();
  if (outcome !== "refreshed") return { ...answer, ended: outcome === "ended" };
  return call(server, method, path, { json, token: session.accessToken });
}

/** What the page says when a server refused the access token and auth-server the refresh cookie. */
function sessionEnded(answer) {
  const server = answer.server === "posts" ? "posts-server" : "auth-server";
  return `Your session has ended: log in again. (${server}: ${describe(answer)})`;
}

/** After a refused refresh: nothing of the session stays on the page. */
function showEnded(answer) {
  showPosts([]);
  showSessions([]);
  showPostsStatus(sessionEnded(answer), true);
  render();
}

// ---- actions ----------------------------------------------------------------------------

async function logIn(username, password) {
  const answer = await call(AUTH_URL, "POST", "/login", {
    json: { username, password, delivery: "cookie" },
    cookie: true,
  });
  if (answer.status !== 200) {
    showAccountStatus(`Log in failed: ${describe(answer)}`, true);
    return;
  }
  keepTokens(answer.body);
  session.username = username;
  log(`logged in as ${username} (access token valid ${answer.body.expiresIn} s; refresh token in a cookie)`, "note", {
    event: "logged-in",
  });
  showAccountStatus("");
  $("password").value = "";
  render();
  await loadPosts();
  await loadSessions();
}

/** On load: a refresh cookie from an earlier visit logs the user in again, without a password. */
async function resume() {
  const answer = await call(AUTH_URL, "POST", "/token", { json: {}, cookie: true });
  if (answer.status === 200) {
    keepTokens(answer.body);
    log(`logged in as ${session.username} again from the refresh cookie`, "note", { event: "resumed" });
    render();
    await loadPosts();
    await loadSessions();
  } else if (answer.status === 401) {
    log("no session to resume: log in", "note", { event: "no-session" });
  } else if (answer.status === 403) {
    log("the last session has ended: log in again", "note", { event: "session-ended" });
    showAccountStatus("Your last session has ended: log in again.", true);
  } else {
    showAccountStatus(`The session could not be resumed: ${describe(answer)}`, true);
  }
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
  const answer = await authorized(POSTS_URL, "GET", "/posts");
  if (answer.status === 200) {
    showPosts(answer.body);
  } else if (answer.ended) {
    showEnded(answer);
  } else {
    showPosts([]);
    showPostsStatus(`Posts refused: ${describe(answer)}`, true);
  }
  render();
}

async function publish(title, body) {
  const answer = await authorized(POSTS_URL, "POST", "/posts", { title, body });
  if (answer.status !== 201) {
    if (answer.ended) return showEnded(answer);
    showPostsStatus(`Not published: ${describe(answer)}`, true);
    render();
    return;
  }
  $("post-title").value = "";
  $("post-body").value = "";
  await loadPosts();
}

async function loadSessions() {
  if (!session.accessToken) return;
  const answer = await authorized(AUTH_URL, "GET", "/sessions");
  if (answer.status === 200) {
    showSessions(answer.body);
  } else if (answer.ended) {
    showEnded(answer);
  } else {
    showSessionsStatus(`Sessions not listed: ${describe(answer)}`, true);
  }
}

/** Ends another session of the user (its device is logged out within a second). */
async function endSession(id) {
  const answer = await authorized(AUTH_URL, "DELETE", `/sessions/${encodeURIComponent(id)}`);
  if (answer.ended) return showEnded(answer);
  if (answer.status === 204) {
    log("session ended: that browser is logged out", "note", { event: "session-ended-here" });
  } else if (answer.status === 404) {
    log("that session had ended already", "note");
  } else {
    showSessionsStatus(`The session was not ended: ${describe(answer)}`, true);
    return;
  }
  await loadSessions();
  if (answer.status === 204) showSessionsStatus("Session ended: that browser is logged out.");
}

async function changePassword(currentPassword, newPassword) {
  const answer = await authorized(AUTH_URL, "POST", "/password", { currentPassword, newPassword });
  if (answer.ended) return showEnded(answer);
  if (answer.status === 204) {
    $("current-password").value = "";
    $("new-password").value = "";
    showPasswordStatus("Password changed. Your other sessions have ended; this one goes on.");
    log("password changed: every other session ended", "note", { event: "password-changed" });
    await loadSessions();
    return;
  }
  const code = answer.body && answer.body.error;
  let why;
  if (answer.status === 403 && code === "invalid_credentials") {
    why = "the current password is wrong.";
  } else if (answer.status === 400 && code === "invalid_password") {
    why = `the new password breaks the rules: ${answer.body.message || "8 to 1024 characters"}.`;
  } else if (answer.status === 429) {
    const wait = answer.retryAfter ? ` Try again in ${answer.retryAfter} s.` : " Try again later.";
    why = `too many attempts.${wait}`;
  } else {
    why = describe(answer);
  }
  showPasswordStatus(`Not changed: ${why}`, true);
}

/** Ends this session: auth-server revokes it and clears the cookie. */
async function logOut() {
  const wasLoggedIn = Boolean(session.accessToken);
  forgetSession();
  showPosts([]);
  showSessions([]);
  showPostsStatus("Logged out.");
  render();
  if (wasLoggedIn) await call(AUTH_URL, "DELETE", "/logout", { json: {}, cookie: true });
  log("logged out: access token forgotten, refresh cookie cleared", "note", { event: "logged-out" });
}

/** Ends every session of the user, this one and those of other browsers and devices. */
async function logOutEverywhere() {
  const wasLoggedIn = Boolean(session.accessToken);
  const username = session.username;
  forgetSession();
  showPosts([]);
  showSessions([]);
  showPostsStatus("Logging out everywhere…");
  render();
  if (!wasLoggedIn) return;
  const answer = await call(AUTH_URL, "DELETE", "/logout", { json: { scope: "global" }, cookie: true });
  if (answer.status === 204) {
    showPostsStatus(`Logged out everywhere: every session of ${username} has ended.`);
    log(`logged out everywhere: every session of ${username} ended, access token forgotten`, "note", {
      event: "logged-out-everywhere",
    });
  } else {
    showPostsStatus(`Log out everywhere failed: ${describe(answer)}. Other sessions may go on.`, true);
    log("log out everywhere failed: access token forgotten here only", "bad", { event: "logout-everywhere-failed" });
  }
}

// ---- rendering --------------------------------------------------------------------------

function status(id, text, bad) {
  $(id).textContent = text;
  $(id).classList.toggle("bad", bad);
}

const showAccountStatus = (text, bad = false) => status("account-status", text, bad);
const showPostsStatus = (text, bad = false) => status("posts-status", text, bad);
const showSessionsStatus = (text, bad = false) => status("sessions-status", text, bad);
const showPasswordStatus = (text, bad = false) => status("password-status", text, bad);

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

/** A short name for a `User-Agent`: the browser and the system, the whole string on hover. */
function browserName(userAgent) {
  if (!userAgent) return "unknown client";
  const browser =
    [
      [/Edg\/(\d+)/, "Edge"],
      [/OPR\/(\d+)/, "Opera"],
      [/(?:HeadlessChrome|Chrome|Chromium)\/(\d+)/, "Chromium"],
      [/Firefox\/(\d+)/, "Firefox"],
      [/Version\/(\d+)[\d.]* .*Safari/, "Safari"],
      [/curl\/([\d.]+)/, "curl"],
    ]
      .map(([pattern, name]) => {
        const found = userAgent.match(pattern);
        return found && `${name} ${found[1]}`;
      })
      .find(Boolean) || userAgent.split(" ")[0];
  const system = [
    [/Android/, "Android"],
    [/iPhone|iPad/, "iOS"],
    [/Windows/, "Windows"],
    [/Mac OS X/, "macOS"],
    [/Linux/, "Linux"],
  ].find(([pattern]) => pattern.test(userAgent));
  return system ? `${browser} on ${system[1]}` : browser;
}

function when(time) {
  return new Date(time).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
}

function showSessions(sessions) {
  const list = $("sessions");
  list.replaceChildren(
    ...sessions.map((live) => {
      const item = document.createElement("li");
      item.dataset.id = live.id;
      item.classList.toggle("current", live.current);
      const name = document.createElement("div");
      name.className = "title";
      name.textContent = browserName(live.userAgent);
      name.title = live.userAgent || "";
      if (live.current) {
        const mark = document.createElement("span");
        mark.className = "this-session";
        mark.textContent = "this session";
        name.append(" ", mark);
      }
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = `started ${when(live.createdAt)} · last used ${when(live.lastUsedAt)}`;
      item.append(name, meta);
      if (!live.current) {
        const end = document.createElement("button");
        end.type = "button";
        end.className = "end-session";
        end.textContent = "End";
        end.title = "Log that browser or device out";
        end.addEventListener("click", busy(() => endSession(live.id)));
        item.append(end);
      }
      return item;
    }),
  );
  const others = sessions.filter((live) => !live.current).length;
  showSessionsStatus(
    sessions.length === 0 ? "" : others === 0 ? "No other session." : `${others} other session${others > 1 ? "s" : ""}.`,
  );
}

function render() {
  const loggedIn = Boolean(session.accessToken);
  $("session").textContent = loggedIn ? `Logged in as ${session.username}` : "Not logged in";
  $("logout").hidden = !loggedIn;
  $("logout-everywhere").hidden = !loggedIn;
  $("account").hidden = loggedIn;
  $("sessions-panel").hidden = !loggedIn;
  $("password-panel").hidden = !loggedIn;
  $("publish").disabled = !loggedIn;
  document.querySelector("#password-form [name=username]").value = session.username || "";
  tick();
}

function tick() {
  if (!session.accessToken) return;
  const left = Math.max(0, Math.round((session.expiresAt - Date.now()) / 1000));
  const access =
    left > 0 ? `access token valid ${left} s more` : "access token expired (renewed from the cookie on next request)";
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
  $("reload-sessions").addEventListener("click", busy(loadSessions));
  $("password-form").addEventListener(
    "submit",
    busy(() => changePassword($("current-password").value, $("new-password").value)),
  );
  $("logout").addEventListener("click", busy(logOut));
  $("logout-everywhere").addEventListener("click", busy(logOutEverywhere));
  setInterval(tick, 1000);
  render();
  log(`ready: auth-server ${AUTH_URL}, posts-server ${POSTS_URL}`);
  busy(resume)(new Event("load"));
});
