// The demo frontend in Debian's headless Chromium, against the real servers:
// log in, see the posts, create one, outlive the access token and see the page refresh it by
// itself (403, then POST /token, then 200), log out and see the posts refused. Then two sessions
// of the same user in two browser contexts: one logs out everywhere, and the other's next
// GET /posts, its access token not yet expired, is refused with 403 at once (posts-server
// follows auth-server's ended sessions), and that page says the session has ended.
//
//   node browser.mjs --frontend URL --auth URL --posts URL --user NAME --password PASSWORD \
//                    --ttl SECONDS [--screenshot FILE] [--chromium PATH]
//
// Run by crates/dev-launcher/tests/browser.rs, which starts the servers. Never downloads a
// browser: it drives the installed Chromium (`/usr/bin/chromium` unless --chromium says otherwise).

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

/** Logs in as the test's user on `page`, which then lists the posts. */
async function logIn(page) {
  const from = (await answers(page)).length;
  await page.fill("#username", options.user);
  await page.fill("#password", options.password);
  await page.click("#login");
  await waitForAnswers(page, from, ["POST /login 200", "GET /posts 200"]);
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

  const url = new URL(options.frontend);
  url.searchParams.set("auth", options.auth);
  url.searchParams.set("posts", options.posts);
  await page.goto(url.toString());
  await page.locator("#log li").first().waitFor();
  check((await page.textContent("#auth-url")) === options.auth, "the page reads the auth-server URL from its own URL");

  // Log in and see the user's posts.
  await logIn(page);
  await page.locator("#posts li").first().waitFor();
  const seeded = await page.locator("#posts li").count();
  check(seeded > 0, `the user's ${seeded} posts are listed after logging in`);
  check((await page.textContent("#session")).includes(options.user), "the header names the user");

  // Create a post.
  const title = "Hello from the browser";
  await page.fill("#post-title", title);
  await page.fill("#post-body", "Written in headless Chromium, sent with a bearer token across origins.");
  await page.click("#publish");
  await page.locator("#posts li .title", { hasText: title }).waitFor();
  check((await page.locator("#posts li").count()) === seeded + 1, "the new post is listed");
  check((await answers(page)).includes("POST /posts 201"), "POST /posts answered 201");

  // Outlive the access token, then reload: 403, refresh, the retry succeeds.
  await page.waitForTimeout(Number(options.ttl) * 1000 + 1500);
  const before = (await answers(page)).length;
  await page.click("#reload");
  await waitForAnswers(page, before, ["GET /posts 403", "POST /token 200", "GET /posts 200"]);
  check(true, "after the access token expired: GET /posts 403, POST /token 200, GET /posts 200");
  check((await page.locator("#posts li .title", { hasText: title }).count()) === 1, "the posts are listed again");
  if (options.screenshot) {
    await page.screenshot({ path: options.screenshot });
    check(true, `screenshot of the page with posts and the refresh in its log: ${options.screenshot}`);
  }

  // Log out: the posts are refused from now on.
  const beforeLogout = (await answers(page)).length;
  await page.click("#logout");
  await waitForAnswers(page, beforeLogout, ["DELETE /logout 204"]);
  await page.click("#reload");
  await waitForAnswers(page, beforeLogout, ["DELETE /logout 204", "GET /posts 401"]);
  check((await page.locator("#posts li").count()) === 0, "after logging out, no posts are shown");
  check((await page.textContent("#posts-status")).startsWith("Posts refused"), "the page says the posts were refused");

  // Two sessions of the same user, in two browser contexts; both read the posts.
  const second = await newPage("the second context");
  await second.goto(url.toString());
  await second.locator("#log li").first().waitFor();
  await logIn(page);
  const secondLoggedInAt = Date.now();
  await logIn(second);
  check(
    (await page.locator("#posts li").count()) > 0 && (await second.locator("#posts li").count()) > 0,
    "two sessions of the user, in two browser contexts, both list the posts",
  );

  // The first logs out everywhere: DELETE /logout with its refresh token and scope "global".
  const logoutBodies = [];
  page.on("request", (request) => {
    if (request.method() === "DELETE" && new URL(request.url()).pathname === "/logout") {
      logoutBodies.push(request.postDataJSON());
    }
  });
  check(await page.isVisible("#logout-everywhere"), `"Log out everywhere" is offered beside "Log out"`);
  const beforeGlobal = (await answers(page)).length;
  await page.click("#logout-everywhere");
  await waitForAnswers(page, beforeGlobal, ["DELETE /logout 204"]);
  const loggedOutAt = Date.now();
  check(
    logoutBodies.length === 1 &&
      logoutBodies[0].scope === "global" &&
      typeof logoutBodies[0].token === "string" &&
      Object.keys(logoutBodies[0]).length === 2,
    `"Log out everywhere" sends DELETE /logout {"token": refresh, "scope": "global"}`,
  );
  await page.locator("#posts-status", { hasText: "Logged out everywhere" }).waitFor();
  check(
    (await page.textContent("#posts-status")) === `Logged out everywhere: every session of ${options.user} has ended.`,
    "the page that logged out everywhere says every session has ended",
  );
  check(
    (await page.locator("#posts li").count()) === 0 && !(await page.isVisible("#logout-everywhere")),
    "it shows no posts, and no log-out buttons",
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
  // The page tries its refresh token, which is refused too: the session has ended, and it says so.
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

  // The logs show requests and statuses, never a token.
  for (const { name, page: shown } of pages) {
    const logText = await shown.textContent("#log");
    check(!/eyJ[\w-]+\.[\w-]+\.[\w-]+/.test(logText), `the page's log holds no token (${name})`);
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
}
