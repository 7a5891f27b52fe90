// The demo frontend in Debian's headless Chromium, against the real servers, in cookie mode
// (the refresh token in an HttpOnly cookie, the access token in the page's memory):
//
// - log in, see the posts and the sessions list, create a post; `document.cookie` shows no
//   refresh token, though the browser holds it (HttpOnly, Path=/token and /logout);
// - reload the page: still logged in (POST /token with `{}` and the cookie);
// - outlive the access token: the page refreshes it from the cookie by itself;
// - a page on an origin that CORS_ALLOWED_ORIGINS does not list, in the same browser (same
//   cookies, same site), tries to refresh and to log out with credentials, with JSON, with a
//   simple no-cors request and with a form post: every attempt fails, the cookie is unchanged,
//   and the real page's session still works (the test's auth-server has no reuse grace, so a
//   token spent by that page would have ended it);
// - log out: the cookie is cleared, the posts are refused, a reload stays logged out;
// - two sessions of the user in two browser contexts: one logs out everywhere, and the other's
//   next GET /posts, its access token not yet expired, is refused at once (posts-server follows
//   auth-server's ended sessions), and that page says its session has ended;
// - a password change in one context (a wrong current password first, refused and said so)
//   ends the other context's session, the old password no longer logs in;
// - in one context, "End" on the other's session in the sessions list ends it: refused there.
// The logs never show a token.
//
//   node browser.mjs --frontend URL --auth URL --posts URL --user NAME --password PASSWORD \
//                    --ttl SECONDS [--screenshot FILE] [--chromium PATH]
//
// Run by crates/dev-launcher/tests/browser.rs, which starts the servers with the frontend's
// exact origin as the one CORS_ALLOWED_ORIGINS lists; this script serves the other origin's page
// itself, on another port of 127.0.0.1. Never downloads a browser: it drives the installed
// Chromium (`/usr/bin/chromium` unless --chromium says otherwise).

import { createServer } from "node:http";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const { values: options } = parseArgs({
  options: {
    frontend: { type: "string" },
    auth: { type: "string" },
    posts: { type: "string" },
    user: { type: "string" },
    password: { type: "string" },
    ttl: { type: "string", default: "3" },
    screenshot: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
for (const required of ["frontend", "auth", "posts", "user", "password"]) {
  if (!options[required]) {
    console.error(`browser test: --${required} is required`);
    process.exit(2);
  }
}

const STEP_TIMEOUT = 15_000;
/** How long after a global logout another session's access token may still be accepted: the
 *  contract says within a second; this polls for up to two. */
const ENDED_WITHIN_MS = 2_000;
/** What posts-server says of an access token whose session has ended. */
const SESSION_ENDED_MESSAGE = "the access token's session has ended (logged out or revoked)";
const NEW_PASSWORD = `${options.password}-changed`;
const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;
let checks = 0;

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  checks += 1;
  console.log(`ok ${checks} - ${what}`);
}

/** The log's answers so far, as `METHOD /path STATUS`. */
async function answers(page) {
  return page.$$eval("#log li[data-status]", (items) =>
    items.map((item) => `${item.dataset.request} ${item.dataset.status}`),
  );
}

/** Waits until the log holds `expected` (consecutive answers) after the first `from` answers. */
async function waitForAnswers(page, from, expected) {
  await page.waitForFunction(
    ({ from, expected }) => {
      const seen = [...document.querySelectorAll("#log li[data-status]")]
        .slice(from)
        .map((item) => `${item.dataset.request} ${item.dataset.status}`);
      return seen.join("\n").includes(expected.join("\n"));
    },
    { from, expected },
    { timeout: STEP_TIMEOUT },
  );
}

/** The status of the first answer to `request` (`METHOD /path`) after the first `from` answers. */
async function nextAnswerTo(page, from, request) {
  const status = await page.waitForFunction(
    ({ from, request }) => {
      const item = [...document.querySelectorAll("#log li[data-status]")]
        .slice(from)
        .find((item) => item.dataset.request === request);
      return item ? item.dataset.status : null;
    },
    { from, request },
    { timeout: STEP_TIMEOUT },
  );
  return status.jsonValue();
}

/** Logs in as the test's user on `page`, which then lists the posts and the sessions. */
async function logIn(page, password = options.password) {
  const from = (await answers(page)).length;
  await page.fill("#username", options.user);
  await page.fill("#password", password);
  await page.click("#login");
  await waitForAnswers(page, from, ["POST /login 200", "GET /posts 200", "GET /sessions 200"]);
}

/** Clicks "Reload posts" on a page whose session has ended elsewhere until its refresh cookie is
 *  refused (403; posts-server learns of the end within a second, so the first GET /posts may
 *  still pass), and sees the page show the log-in form, saying the session has ended. */
async function expectEnded(page, what) {
  const started = Date.now();
  let refresh = null;
  let accepted = 0;
  while (refresh === null) {
    if (Date.now() - started > ENDED_WITHIN_MS) throw new Error(`${what}: no refresh within ${ENDED_WITHIN_MS} ms`);
    const from = (await answers(page)).length;
    await page.click("#reload");
    const seen = await page.waitForFunction(
      (from) => {
        const seen = [...document.querySelectorAll("#log li[data-status]")]
          .slice(from)
          .map((item) => `${item.dataset.request} ${item.dataset.status}`);
        const refresh = seen.find((answer) => answer.startsWith("POST /token "));
        if (refresh) return refresh.split(" ")[2];
        return seen.includes("GET /posts 200") ? "accepted" : null;
      },
      from,
      { timeout: STEP_TIMEOUT },
    );
    const status = await seen.jsonValue();
    if (status === "accepted") {
      accepted += 1;
      await page.waitForTimeout(100);
    } else {
      refresh = status;
    }
  }
  await page.locator("#login-form").waitFor();
  check(
    refresh === "403" &&
      (await page.textContent("#session")) === "Not logged in" &&
      (await page.textContent("#account-status")) === "Your session has ended: log in again." &&
      (await page.textContent("#posts-status")).startsWith("Your session has ended: log in again.") &&
      (await page.locator("#posts li").count()) === 0 &&
      !(await page.isVisible("#sessions-panel")) &&
      !(await page.isVisible("#logout")),
    `${what}: within ${Date.now() - started} ms (${accepted} GET /posts of 200 before), its refresh cookie is ` +
      `refused (POST /token ${refresh}), and it shows the log-in form, saying the session has ended`,
  );
}

/** The refresh token cookies `context` holds for the auth-server (scripts cannot read them; the test can). */
async function refreshCookies(context) {
  const host = new URL(options.auth).hostname;
  return (await context.cookies()).filter((cookie) => cookie.domain === host && JWT.test(cookie.value));
}

/** Records the JSON bodies `page` sends to, and gets from, auth-server's /login, /token and /logout. */
function recordAuthTraffic(page) {
  const seen = [];
  // On "request", before the page can see the answer: the record is there once the log shows it.
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.origin !== new URL(options.auth).origin || !["/login", "/token", "/logout"].includes(url.pathname)) return;
    if (request.method() === "OPTIONS") return;
    seen.push({
      request: `${request.method()} ${url.pathname}`,
      sent: request.postDataJSON(),
      // The JSON of a 200 answer, else null.
      answer: request
        .response()
        .then((response) => (response && response.status() === 200 ? response.json() : null))
        .catch(() => null),
    });
  });
  return seen;
}

const problems = [];
/** Collects `page`'s script errors and unexpected console errors as `problems`. */
function watch(page, name) {
  page.on("pageerror", (error) => problems.push(`${name}: page error: ${error.message}`));
  page.on("console", (message) => {
    // Chromium reports every 4xx answer on the console; the 401 and 403 are expected here.
    const expected = message.text().startsWith("Failed to load resource: the server responded with a status of 4");
    if (message.type() === "error" && !expected) problems.push(`${name}: console error: ${message.text()}`);
  });
}

/** The other origin's page: 127.0.0.1 like the frontend (the same site: the browser sends the
 *  SameSite=Strict cookie along), on a port CORS_ALLOWED_ORIGINS does not list. */
const otherOrigin = createServer((request, response) => {
  response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  response.end("<!doctype html><title>another origin</title><p>Not the demo page.</p>");
});
await new Promise((resolve) => otherOrigin.listen(0, "127.0.0.1", resolve));
const OTHER_ORIGIN = `http://127.0.0.1:${otherOrigin.address().port}`;

let browser;
const pages = [];
let page;
try {
  // Each context is a profile of its own (cookies, storage, cache), as two browsers would be.
  browser = await chromium.launch({
    executablePath: options.chromium,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 60_000,
  });
  const newPage = async (name) => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const opened = await context.newPage();
    watch(opened, name);
    pages.push({ name, page: opened });
    return opened;
  };
  page = await newPage("the first context");
  const context = page.context();
  const traffic = recordAuthTraffic(page);

  const url = new URL(options.frontend);
  url.searchParams.set("auth", options.auth);
  url.searchParams.set("posts", options.posts);
  await page.goto(url.toString());
  await page.locator("#log li").first().waitFor();
  check((await page.textContent("#auth-url")) === options.auth, "the page reads the auth-server URL from its own URL");
  await waitForAnswers(page, 0, ["POST /token 401"]);
  check(
    (await page.textContent("#session")) === "Not logged in" && (await page.isVisible("#login-form")),
    "on load without a cookie, POST /token answers 401 and the page offers the log-in form",
  );

  // Log in with the cookie mode, and see the user's posts and this session.
  await logIn(page);
  await page.locator("#posts li").first().waitFor();
  const seeded = await page.locator("#posts li").count();
  check(seeded > 0, `the user's ${seeded} posts are listed after logging in`);
  check((await page.textContent("#session")).includes(options.user), "the header names the user");
  const login = traffic.find((entry) => entry.request === "POST /login");
  const loginAnswer = await login.answer;
  check(
    login.sent.delivery === "cookie" && login.sent.username === options.user,
    `POST /login asks for the cookie mode: {"username","password","delivery":"cookie"}`,
  );
  check(
    loginAnswer && typeof loginAnswer.accessToken === "string" && !("refreshToken" in loginAnswer),
    "its answer carries the access token only: no refresh token in the body",
  );
  let cookies = await refreshCookies(context);
  check(
    cookies.length > 0 &&
      cookies.every((cookie) => cookie.httpOnly) &&
      ["/token", "/logout"].every((path) => cookies.some((cookie) => cookie.path === path)),
    `the browser holds the refresh token in HttpOnly cookies for /token and /logout (${cookies
      .map((cookie) => `${cookie.name}; Path=${cookie.path}; SameSite=${cookie.sameSite}`)
      .join(" and ")})`,
  );
  const visible = await page.evaluate(() => document.cookie);
  check(
    !JWT.test(visible) && cookies.every((cookie) => !visible.includes(cookie.value)),
    `document.cookie does not show the refresh token (${JSON.stringify(visible)})`,
  );
  check(
    (await page.locator("#sessions li").count()) === 1 &&
      (await page.locator("#sessions li.current .this-session").count()) === 1 &&
      (await page.locator("#sessions li .end-session").count()) === 0,
    `the sessions list shows this session, marked "this session", with no "End" button`,
  );

  // Create a post.
  const title = "Hello from the browser";
  await page.fill("#post-title", title);
  await page.fill("#post-body", "Written in headless Chromium, sent with a bearer token across origins.");
  await page.click("#publish");
  await page.locator("#posts li .title", { hasText: title }).waitFor();
  check((await page.locator("#posts li").count()) === seeded + 1, "the new post is listed");
  check((await answers(page)).includes("POST /posts 201"), "POST /posts answered 201");

  // Reload the page: still logged in, through the cookie.
  const cookieBeforeReload = (await refreshCookies(context))[0].value;
  const sentBeforeReload = traffic.length;
  await page.reload();
  await waitForAnswers(page, 0, ["POST /token 200", "GET /posts 200", "GET /sessions 200"]);
  await page.locator("#posts li .title", { hasText: title }).waitFor();
  check(
    (await page.textContent("#session")).startsWith(`Logged in as ${options.user}`) &&
      !(await page.isVisible("#login-form")),
    "after a reload the page is still logged in: POST /token 200, then the posts and the sessions",
  );
  const resumed = traffic.slice(sentBeforeReload).find((entry) => entry.request === "POST /token");
  const resumedAnswer = await resumed.answer;
  check(
    JSON.stringify(resumed.sent) === "{}" && resumedAnswer && !("refreshToken" in resumedAnswer),
    "that POST /token sent `{}` (the cookie only) and got an access token only",
  );
  check(
    (await refreshCookies(context))[0].value !== cookieBeforeReload,
    "the refresh cookie was rotated (a new refresh token replaced it)",
  );

  // Outlive the access token, then reload the posts: the page refreshes it from the cookie first.
  const cookieBeforeExpiry = (await refreshCookies(context))[0].value;
  await page.waitForTimeout(Number(options.ttl) * 1000 + 1500);
  const before = (await answers(page)).length;
  await page.click("#reload");
  await waitForAnswers(page, before, ["POST /token 200", "GET /posts 200"]);
  check(
    (await answers(page)).slice(before)[0] === "POST /token 200",
    "after the access token expired: POST /token 200 from the cookie, then GET /posts 200",
  );
  check((await page.locator("#posts li .title", { hasText: title }).count()) === 1, "the posts are listed again");
  check((await refreshCookies(context))[0].value !== cookieBeforeExpiry, "the refresh cookie was rotated again");

  // A page on an origin that CORS_ALLOWED_ORIGINS does not list, in the same browser.
  const cookiesBeforeAttack = (await refreshCookies(context)).map((cookie) => cookie.value).sort();
  const other = await context.newPage();
  const reached = [];
  other.on("response", (response) => {
    const request = response.request();
    const url = new URL(request.url());
    if (url.origin !== new URL(options.auth).origin || request.method() === "OPTIONS") return;
    reached.push(`${request.method()} ${url.pathname} ${response.status()}`);
  });
  await other.goto(`${OTHER_ORIGIN}/`);
  const attempts = await other.evaluate(async (auth) => {
    const attempt = async (path, init) => {
      try {
        const response = await fetch(auth + path, { credentials: "include", ...init });
        return response.type === "opaque" ? "opaque" : `read ${response.status}`;
      } catch (error) {
        return `blocked (${error.name})`;
      }
    };
    const json = { "Content-Type": "application/json" };
    return {
      refresh: await attempt("/token", { method: "POST", headers: json, body: "{}" }),
      logout: await attempt("/logout", { method: "DELETE", headers: json, body: "{}" }),
      logoutEverywhere: await attempt("/logout", { method: "DELETE", headers: json, body: '{"scope":"global"}' }),
      // No preflight: the browser sends it with the cookie, and the page cannot read the answer.
      simpleRefresh: await attempt("/token", {
        method: "POST",
        mode: "no-cors",
        headers: { "Content-Type": "text/plain" },
        body: "{}",
      }),
    };
  }, options.auth);
  check(
    attempts.refresh === "blocked (TypeError)" &&
      attempts.logout === "blocked (TypeError)" &&
      attempts.logoutEverywhere === "blocked (TypeError)",
    `from ${OTHER_ORIGIN}, fetch with credentials of POST /token and DELETE /logout (and scope global) fails: ${JSON.stringify(attempts)}`,
  );
  // A plain HTML form, posted with a JSON-looking text/plain body, navigates to auth-server's answer.
  const formAnswer = await Promise.all([
    other.waitForNavigation(),
    other.evaluate((auth) => {
      const form = document.createElement("form");
      form.method = "POST";
      form.action = `${auth}/token`;
      form.enctype = "text/plain";
      const field = document.createElement("input");
      field.name = '{"x":"';
      field.value = '"}';
      form.append(field);
      document.body.append(form);
      // After this evaluation has returned: the navigation ends its page.
      setTimeout(() => form.submit(), 0);
    }, options.auth),
  ]).then(([response]) => response);
  const formStatus = formAnswer ? formAnswer.status() : 0;
  const formBody = await other.textContent("body");
  check(
    formStatus >= 400 && !JWT.test(formBody) && !formBody.includes("accessToken"),
    `a form posted from there to POST /token is refused (${formStatus}: ${formBody.trim().slice(0, 80)})`,
  );
  check(
    attempts.simpleRefresh === "opaque" && reached.every((seen) => / 4\d\d$/.test(seen)),
    `every request of that page that reached auth-server was refused: ${reached.join(", ") || "none"} ` +
      "(the JSON ones never passed the preflight)",
  );
  await other.close();
  check(
    JSON.stringify((await refreshCookies(context)).map((cookie) => cookie.value).sort()) ===
      JSON.stringify(cookiesBeforeAttack),
    "the refresh cookie is unchanged: nothing spent, replaced or cleared",
  );
  await page.reload();
  await waitForAnswers(page, 0, ["POST /token 200", "GET /posts 200"]);
  check(
    (await page.textContent("#session")).startsWith(`Logged in as ${options.user}`),
    "the real page's session still works: reloaded, POST /token 200 with that cookie (no reuse grace in this test)",
  );

  // Log out: the cookie is cleared, the posts are refused, and a reload stays logged out.
  const sentBeforeLogout = traffic.length;
  const beforeLogout = (await answers(page)).length;
  await page.click("#logout");
  await waitForAnswers(page, beforeLogout, ["DELETE /logout 204"]);
  const logout = traffic.slice(sentBeforeLogout).find((entry) => entry.request === "DELETE /logout");
  check(JSON.stringify(logout.sent) === "{}", "Log out sends DELETE /logout with `{}` and the cookie");
  check((await refreshCookies(context)).length === 0, "after logging out, the browser holds no refresh cookie");
  await page.click("#reload");
  await waitForAnswers(page, beforeLogout, ["DELETE /logout 204", "GET /posts 401"]);
  check((await page.locator("#posts li").count()) === 0, "after logging out, no posts are shown");
  check((await page.textContent("#posts-status")).startsWith("Posts refused"), "the page says the posts were refused");
  await page.reload();
  await waitForAnswers(page, 0, ["POST /token 401"]);
  check(
    (await page.textContent("#session")) === "Not logged in" && (await page.isVisible("#login-form")),
    "reloaded after logging out, the page stays logged out (POST /token 401)",
  );

  // Two sessions of the same user, in two browser contexts; both read the posts.
  const second = await newPage("the second context");
  await second.goto(url.toString());
  await waitForAnswers(second, 0, ["POST /token 401"]);
  await logIn(page);
  const secondLoggedInAt = Date.now();
  await logIn(second);
  check(
    (await page.locator("#posts li").count()) > 0 && (await second.locator("#posts li").count()) > 0,
    "two sessions of the user, in two browser contexts, both list the posts",
  );

  // The first logs out everywhere: DELETE /logout with the cookie and scope "global".
  check(await page.isVisible("#logout-everywhere"), `"Log out everywhere" is offered beside "Log out"`);
  const sentBeforeGlobal = traffic.length;
  const beforeGlobal = (await answers(page)).length;
  await page.click("#logout-everywhere");
  await waitForAnswers(page, beforeGlobal, ["DELETE /logout 204"]);
  const loggedOutAt = Date.now();
  const global = traffic.slice(sentBeforeGlobal).find((entry) => entry.request === "DELETE /logout");
  check(
    JSON.stringify(global.sent) === '{"scope":"global"}',
    `"Log out everywhere" sends DELETE /logout {"scope": "global"} with the cookie`,
  );
  await page.locator("#posts-status", { hasText: "Logged out everywhere" }).waitFor();
  check(
    (await page.textContent("#posts-status")) === `Logged out everywhere: every session of ${options.user} has ended.`,
    "the page that logged out everywhere says every session has ended",
  );
  check(
    (await page.locator("#posts li").count()) === 0 &&
      !(await page.isVisible("#logout-everywhere")) &&
      !(await page.isVisible("#sessions-panel")),
    "it shows no posts, no sessions, and no log-out buttons",
  );

  // The second context's access token has not expired, yet its next GET /posts is refused with
  // 403 at once: reload until it is, for at most ENDED_WITHIN_MS (never until the token expires).
  let refusedAfter = null;
  let beforeRefusal;
  let accepted = 0;
  while (refusedAfter === null && Date.now() - loggedOutAt < ENDED_WITHIN_MS) {
    beforeRefusal = (await answers(second)).length;
    await second.click("#reload");
    const status = await nextAnswerTo(second, beforeRefusal, "GET /posts");
    if (status === "403") {
      refusedAfter = Date.now() - loggedOutAt;
    } else {
      if (status !== "200") throw new Error(`GET /posts answered ${status} in the second context`);
      accepted += 1;
      await second.waitForTimeout(100);
    }
  }
  check(
    refusedAfter !== null,
    `the other session's GET /posts is refused with 403 within ${ENDED_WITHIN_MS} ms of the global logout ` +
      `(after ${refusedAfter} ms; ${accepted} answer(s) of 200 before)`,
  );
  check(
    Date.now() - secondLoggedInAt < Number(options.ttl) * 1000,
    `the refused access token had not expired (it lives ${options.ttl} s; refused ${Date.now() - secondLoggedInAt} ms after its login)`,
  );
  // The page tries its refresh cookie, which is refused too: the session has ended, and it says so.
  await waitForAnswers(second, beforeRefusal, ["GET /posts 403", "POST /token 403"]);
  await second.locator("#posts-status", { hasText: "Your session has ended" }).waitFor();
  const endedStatus = await second.textContent("#posts-status");
  check(
    endedStatus === `Your session has ended: log in again. (posts-server: ${SESSION_ENDED_MESSAGE} (403))`,
    `the other page says its session has ended, with posts-server's reason: "${endedStatus}"`,
  );
  check((await second.locator("#posts li").count()) === 0, "it shows no posts");
  check(
    (await second.textContent("#session")) === "Not logged in" &&
      (await second.isVisible("#login-form")) &&
      (await second.textContent("#account-status")) === "Your session has ended: log in again." &&
      !(await second.isVisible("#logout")) &&
      !(await second.isVisible("#logout-everywhere")),
    "it is logged out: the log-in form is back, saying the session has ended, and no log-out buttons",
  );

  // A password change in the first context ends the second context's session.
  await logIn(page);
  await logIn(second);
  await page.fill("#current-password", "not-the-password");
  await page.fill("#new-password", NEW_PASSWORD);
  let beforePassword = (await answers(page)).length;
  await page.click("#change-password");
  const wrong = await nextAnswerTo(page, beforePassword, "POST /password");
  await page.locator("#password-status", { hasText: "Not changed" }).waitFor();
  check(
    wrong === "403" &&
      (await page.textContent("#password-status")) === "Not changed: the current password is wrong." &&
      (await page.textContent("#session")).startsWith(`Logged in as ${options.user}`),
    "a wrong current password: POST /password 403, the page says the current password is wrong, and stays logged in",
  );
  await page.fill("#current-password", options.password);
  await page.fill("#new-password", NEW_PASSWORD);
  beforePassword = (await answers(page)).length;
  await page.click("#change-password");
  const changed = await nextAnswerTo(page, beforePassword, "POST /password");
  await page.locator("#password-status", { hasText: "Password changed" }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#sessions li").length === 1);
  check(
    changed === "204" && (await page.locator("#sessions li.current").count()) === 1,
    "POST /password 204: the page says so, and its sessions list holds this session only",
  );
  await expectEnded(second, "the other context, after the password change");
  const beforeOldPassword = (await answers(second)).length;
  await second.fill("#username", options.user);
  await second.fill("#password", options.password);
  await second.click("#login");
  check(
    (await nextAnswerTo(second, beforeOldPassword, "POST /login")) === "401" &&
      (await second.textContent("#account-status")).startsWith("Log in failed"),
    "the old password no longer logs in (POST /login 401)",
  );
  const beforeStillWorks = (await answers(page)).length;
  await page.click("#reload");
  check(
    (await nextAnswerTo(page, beforeStillWorks, "GET /posts")) === "200" &&
      (await page.textContent("#session")).startsWith(`Logged in as ${options.user}`),
    "the session that changed the password goes on (GET /posts 200)",
  );

  // In the first context, end the second context's session from the sessions list.
  await logIn(second, NEW_PASSWORD);
  await page.click("#reload-sessions");
  await page.waitForFunction(() => document.querySelectorAll("#sessions li").length === 2);
  check(
    (await page.locator("#sessions li.current").count()) === 1 &&
      (await page.locator("#sessions li:not(.current) .end-session").count()) === 1 &&
      (await page.locator("#sessions li .meta").first().textContent()).includes("last used"),
    `the sessions list shows both sessions, when each started and was last used, this one marked, an "End" button on the other`,
  );
  if (options.screenshot) {
    await page.screenshot({ path: options.screenshot, fullPage: true });
    check(true, `screenshot of the page with its posts, sessions and log: ${options.screenshot}`);
  }
  const beforeEnd = (await answers(page)).length;
  await page.click("#sessions li:not(.current) .end-session");
  await page.waitForFunction(() => document.querySelectorAll("#sessions li").length === 1);
  const endedAnswers = (await answers(page)).slice(beforeEnd);
  check(
    endedAnswers.some((seen) => /^DELETE \/sessions\/\S+ 204$/.test(seen)) &&
      (await page.textContent("#sessions-status")) === "Session ended: that browser is logged out.",
    `"End" sends DELETE /sessions/{id} (204), and the list then holds this session only`,
  );
  await expectEnded(second, "the context whose session was ended from the list");

  // The logs show requests and statuses, never a token.
  for (const { name, page: shown } of pages) {
    const logText = await shown.textContent("#log");
    check(!JWT.test(logText), `the page's log holds no token (${name})`);
  }
  check(problems.length === 0, `no script or console errors${problems.length ? `: ${problems.join("; ")}` : ""}`);

  console.log(`${checks} passed, 0 failed`);
} catch (error) {
  console.error(`browser test failed: ${error.message}`);
  for (const { name, page: shown } of pages) {
    const log = await shown
      .$$eval("#log li", (items) => items.map((item) => item.textContent))
      .catch(() => []);
    console.error(`the page's log (${name}):\n  ${log.join("\n  ")}`);
  }
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  otherOrigin.close();
}
