// The demo frontend in Debian's headless Chromium, against the real servers:
// log in, see the posts, create one, outlive the access token and see the page refresh it by
// itself (403, then POST /token, then 200), log out and see the posts refused.
//
//   node browser.mjs --frontend URL --auth URL --posts URL --user NAME --password PASSWORD \
//                    --ttl SECONDS [--screenshot FILE] [--chromium PATH]
//
// Run by crates/dev-launcher/tests/browser.rs, which starts the servers. Never downloads a
// browser: it drives the installed Chromium (`/usr/bin/chromium` unless --chromium says otherwise).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

const userDataDir = mkdtempSync(join(tmpdir(), "browser-test-profile-"));
const problems = [];
let context;
let page;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
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
    viewport: { width: 1100, height: 720 },
    timeout: 60_000,
  });
  context.setDefaultTimeout(STEP_TIMEOUT);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // Chromium reports every 4xx answer on the console; the 401 and 403 are expected here.
    const expected = message.text().startsWith("Failed to load resource: the server responded with a status of 4");
    if (message.type() === "error" && !expected) problems.push(`console error: ${message.text()}`);
  });

  const url = new URL(options.frontend);
  url.searchParams.set("auth", options.auth);
  url.searchParams.set("posts", options.posts);
  await page.goto(url.toString());
  await page.locator("#log li").first().waitFor();
  check((await page.textContent("#auth-url")) === options.auth, "the page reads the auth-server URL from its own URL");

  // Log in and see the user's posts.
  await page.fill("#username", options.user);
  await page.fill("#password", options.password);
  await page.click("#login");
  await waitForAnswers(page, 0, ["POST /login 200", "GET /posts 200"]);
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

  // The log shows requests and statuses, never a token.
  const logText = await page.textContent("#log");
  check(!/eyJ[\w-]+\.[\w-]+\.[\w-]+/.test(logText), "the page's log holds no token");
  check(problems.length === 0, `no script or console errors${problems.length ? `: ${problems.join("; ")}` : ""}`);

  console.log(`${checks} passed, 0 failed`);
} catch (error) {
  console.error(`browser test failed: ${error.message}`);
  if (page) {
    const log = await page
      .$$eval("#log li", (items) => items.map((item) => item.textContent))
      .catch(() => []);
    console.error(`the page's log:\n  ${log.join("\n  ")}`);
  }
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
