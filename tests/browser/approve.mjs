// The 2 AM story in a real browser: Debian's Chromium driven by playwright-core against the
// real costguard binary (started by tests/api/browser.rs on the shipped config.toml, with only
// the live loop's start-up delay shortened). Env: BASE_URL, APPROVER, VIEWER, ADMIN ("name:password"), SHOTS (a folder).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const base = process.env.BASE_URL;
const shots = process.env.SHOTS;
mkdirSync(shots, { recursive: true });
const who = (v) => { const [name, ...rest] = process.env[v].split(":"); return { name, password: rest.join(":") }; };

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function logIn(user) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: "Europe/Berlin" });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill("input[name=name]", user.name);
  await page.fill("input[name=password]", user.password);
  await Promise.all([page.waitForURL(`${base}/`), page.click("button[type=submit]")]);
  return page;
}

// A screenshot is evidence, not a check: on a loaded machine under a shifted clock (the soak)
// Chromium has been seen to take more than 30 s to hand one over, so it tries again before
// failing the flow.
async function shot(page, name) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true, timeout: 20000 });
    } catch (e) {
      if (attempt >= 3 || e.name !== "TimeoutError") throw e;
      console.error(`screenshot ${name}: attempt ${attempt} timed out, trying again`);
    }
  }
}

// An action page that is still settling refreshes itself (meta refresh, 5 s), and on a loaded
// machine that refresh can fire while the next page is still loading: it then wins and our
// navigation is "interrupted by another navigation". Leaving such a page through about:blank
// (which commits at once and drops the pending refresh) takes the race away; a retry stays for
// anything else that interrupts.
async function visit(page, url) {
  for (let attempt = 1; ; attempt++) {
    try {
      if ((await page.locator("meta[http-equiv=refresh]").count()) > 0) await page.goto("about:blank");
      return await page.goto(url);
    } catch (e) {
      if (attempt >= 3 || !/interrupted by another navigation/.test(e.message)) throw e;
    }
  }
}

/** Reloads `url` until `check(page)` is true. */
async function until(page, url, what, check, seconds = 120) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    await visit(page, url);
    if (await check(page)) return;
    if (Date.now() > deadline) { await shot(page, `timeout-${what.replace(/\W+/g, "-")}`); throw new Error(`timed out waiting for ${what}`); }
    await page.waitForTimeout(1000);
  }
}

try {
  // The on-call approver logs in and sees the BigQuery anomaly on the overview.
  const ann = await logIn(who("APPROVER"));
  // The live loop's cancel waits for approval and its anomaly heads the overview (the
  // backfill's own Saturday loop may be open for a moment first; that is not the story).
  const liveCancel = ".card li:has(a:has-text('cancel bigquery job · bquxjob_7d3e9b21_live_loop'))";
  await until(ann, `${base}/`, "the BigQuery anomaly banner and the live loop's cancel",
    async (p) => (await p.locator("a.banner", { hasText: "BigQuery" }).count()) > 0
      && (await p.locator(liveCancel).count()) > 0, 180);
  // Times show in the viewer's zone, UTC on hover.
  const title = await ann.locator("main time").first().getAttribute("title");
  assert.match(title, /UTC$/);
  assert.equal(await ann.locator(".card li", { hasText: "notify only" }).count(), 0, "nothing notify-only waits for approval");
  await shot(ann, "overview");

  // Open it: chart, root causes and the proposed cancel.
  await ann.click("a.banner");
  await ann.waitForSelector("figure.chart svg");
  const anomalyUrl = ann.url();
  // Wait for the state the next step needs: the cancel itself (not a notify-only item),
  // routed and pending approval, however long a busy machine takes to get there.
  const pendingCancel = "li:has(a[href^='/actions/']:has-text('cancel bigquery job · bquxjob_7d3e9b21_live_loop')):has(.badge:has-text('pending approval'))";
  await until(ann, anomalyUrl, "the proposed cancel, pending approval",
    async (p) => (await p.locator(pendingCancel).count()) > 0, 120);
  await shot(ann, "anomaly");
  await ann.locator(`${pendingCancel} a[href^='/actions/']`).first().click();
  await ann.waitForSelector("text=Safety checks");
  const actionUrl = ann.url();
  assert.ok(await ann.locator("text=cancel bigquery job").count() > 0);
  await until(ann, actionUrl, "the approve form", async (p) => (await p.locator("form[action$='/approve'] input[name=comment]").count()) > 0, 60);
  await shot(ann, "action-pending");

  // A viewer sees the same action with no Approve button, and a forged approve is refused.
  const vic = await logIn(who("VIEWER"));
  await vic.goto(actionUrl);
  assert.equal(await vic.locator("button", { hasText: "Approve" }).count(), 0, "a viewer must not see Approve");
  const csrf = await vic.locator("input[name=csrf]").first().inputValue();
  const forged = await vic.request.post(`${actionUrl}/approve`, { form: { csrf, comment: "forged" }, maxRedirects: 0 });
  assert.equal(forged.status(), 403, "a viewer's approve must be refused");
  const noToken = await vic.request.post(`${actionUrl}/approve`, { form: { comment: "no token" }, maxRedirects: 0 });
  assert.equal(noToken.status(), 403, "a post without the CSRF token must be refused");
  await vic.goto(actionUrl);
  assert.ok(await vic.locator(".badge", { hasText: "pending approval" }).count() > 0, "still pending after the refused posts");
  await shot(vic, "action-as-viewer");

  // The approver approves; the executor cancels the job and verifies it.
  await until(ann, actionUrl, "the approve form", async (p) => (await p.locator("form[action$='/approve'] input[name=comment]").count()) > 0, 60);
  await ann.fill("form[action$='/approve'] input[name=comment]", "cancel the loop");
  await Promise.all([ann.waitForURL(/notice=approved/), ann.click("button:has-text('Approve')")]);
  await until(ann, actionUrl, "the action to succeed",
    async (p) => (await p.locator("dl.facts .badge", { hasText: "succeeded" }).count()) > 0, 90);
  await shot(ann, "action-succeeded");
  // Fixed, watching: mitigated at once, resolved when the cost is back in its band.
  await visit(ann, anomalyUrl);
  assert.ok(await ann.locator("dl.facts .badge", { hasText: /mitigated|resolved/ }).count() > 0, "mitigated after the verified cancel");
  await shot(ann, "anomaly-mitigated");
  await until(ann, anomalyUrl, "the anomaly to resolve",
    async (p) => (await p.locator("dl.facts .badge", { hasText: "resolved" }).count()) > 0, 120);
  await shot(ann, "anomaly-resolved");
  await until(ann, actionUrl, "cost back in band",
    async (p) => (await p.locator("dd time").count()) >= 2, 60);
  await until(ann, `${base}/`, "cost recovered on the overview",
    async (p) => !(await p.locator(".card .big").first().innerText()).startsWith("0.00"), 30);
  await shot(ann, "overview-recovered");

  // Every other page renders.
  for (const [name, path] of [["anomalies", "/anomalies"], ["actions", "/actions"], ["audit", "/audit"], ["llm", "/llm"]]) {
    await visit(ann, `${base}${path}`);
    await shot(ann, name);
  }
  assert.ok(await ann.locator("text=Chain verified").count() > 0 || (await visit(ann, `${base}/audit`), await ann.locator("text=Chain verified").count()) > 0);
  // Someone guesses the admin's password three times; the admin, signing in next, is told.
  const guesser = await (await browser.newContext()).newPage();
  for (let i = 0; i < 3; i++) {
    await guesser.goto(`${base}/login`);
    await guesser.fill("input[name=name]", who("ADMIN").name);
    await guesser.fill("input[name=password]", `not-the-password-${i}`);
    await Promise.all([guesser.waitForLoadState(), guesser.click("button[type=submit]")]);
    await guesser.waitForSelector("text=Wrong user name or password");
  }
  const ada = await logIn(who("ADMIN"));
  await ada.waitForSelector("p.notice.warning:has-text('3 failed log-in attempts on your account since your last log-in')");
  await shot(ada, "login-notice");
  await ada.reload();
  assert.equal(await ada.locator("p.notice.warning").count(), 0, "the notice shows once");
  for (const [name, path] of [["settings", "/settings"], ["providers", "/settings/providers"], ["safety", "/settings/safety"], ["notifications", "/settings/notifications"], ["users", "/settings/users"], ["api-keys", "/settings/api-keys"]]) {
    await ada.goto(`${base}${path}`);
    await shot(ada, name);
  }
  // The admin adds a budget in Settings → Budgets: a refusal names the field and keeps the
  // form; then it lands with its forecast, and the overview draws it to the period's end.
  await ada.goto(`${base}/settings/budgets`);
  await ada.fill("input[name=name]", "Demo clouds");
  await ada.fill("input[name=amount]", "1000");
  await ada.fill("input[name=thresholds]", "80 later");
  await Promise.all([ada.waitForLoadState(), ada.click("button:has-text('Add budget')")]);
  await ada.waitForSelector("p.error:has-text('thresholds[0].on')");
  assert.equal(await ada.inputValue("input[name=name]"), "Demo clouds", "the refused form keeps what was typed");
  await shot(ada, "budget-refused");
  await ada.fill("input[name=thresholds]", "50 actual, 100 forecast");
  await Promise.all([ada.waitForURL(/notice=saved/), ada.click("button:has-text('Add budget')")]);
  await ada.waitForSelector("section.card h2:has-text('Demo clouds')");
  await ada.waitForSelector("svg line.budget-rule", { state: "attached" });
  await shot(ada, "budgets");
  await visit(ada, `${base}/`);
  await ada.waitForSelector("h2:has-text('Budgets this period')");
  assert.ok(await ada.locator("svg[aria-label*='Demo clouds'] path.expected").count() > 0, "the forecast line to the period's end");
  assert.ok(await ada.locator(".badge", { hasText: "50 % spent ✓" }).count() > 0, "the crossed threshold, marked");
  await shot(ada, "overview-budget");
  await ada.goto(`${base}/settings/providers`);
  await ada.click("#simulated button:has-text('Test connection')");
  await ada.waitForSelector("text=Connection works");
  await shot(ada, "providers-tested");
  console.log(`browser flow passed; screenshots in ${shots}`);
} finally {
  await browser.close();
}
