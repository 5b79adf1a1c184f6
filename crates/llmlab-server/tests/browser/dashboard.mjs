// The dashboard in a real browser: Debian's Chromium driven by playwright-core against a
// server that `cargo xtask test` started on a fresh SQLite database.
//
//   node dashboard.mjs <base url> <screenshot directory>
//
// Exits non-zero on the first failed check, naming it.

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const axeScript = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node dashboard.mjs <base url> <screenshot directory>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const password = "correct horse battery";
const owner = `owner-${Date.now()}@example.com`;
const viewer = `viewer-${Date.now()}@example.com`;

async function api(method, path, token, body) {
  const response = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

// Nothing scrolls sideways: the page is no wider than the window.
async function fits(page, what) {
  const [scroll, inner] = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    window.innerWidth,
  ]);
  assert.ok(scroll <= inner, `${what} at ${inner} px is ${scroll} px wide`);
  if (inner >= 1280) await oneRow(page, what);
}

// Every label of every chart is drawn at 11 px or more (its font size times the scale
// the chart is drawn at).
async function legible(page, what) {
  const sizes = await page.evaluate(() =>
    [...document.querySelectorAll("svg.chart .tick")]
      .filter((t) => getComputedStyle(t).display !== "none")
      .map((t) => parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a),
  );
  const small = sizes.filter((s) => s < 11);
  assert.deepEqual(small, [], `${what}: chart labels under 11 px`);
  return sizes.length;
}

// Presses Tab until the focused element matches `selector` (and holds `text`, when
// given): what a person without a mouse does to reach it.
async function tabTo(page, selector, text) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press("Tab");
    const there = await page.evaluate(
      ([s, t]) => {
        const e = document.activeElement;
        return !!e && e.matches(s) && (!t || e.textContent.trim() === t);
      },
      [selector, text],
    );
    if (there) return;
  }
  assert.fail(`Tab never reached ${selector} ${text ?? ""}`);
}

// axe-core's audit of every page `people` (a browser context) can open at its width,
// in a copy of that context that lets the audit's script in past the pages' CSP. Every
// serious or critical violation fails the suite, all of them listed.
async function audit(people, width, paths, colorScheme = "light") {
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    bypassCSP: true,
    colorScheme,
    storageState: await people.storageState(),
  });
  const page = await context.newPage();
  const found = [];
  for (const path of paths) {
    const r = await page.goto(base + path);
    assert.equal(r.status(), 200, path);
    await page.addScriptTag({ path: axeScript });
    const violations = await page.evaluate(async () => {
      const result = await window.axe.run(document, { resultTypes: ["violations"] });
      return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
    found.push(...violations.map((v) => `${path} at ${width} px (${colorScheme}): ${v}`));
  }
  await context.close();
  assert.deepEqual(found, [], `accessibility violations:\n${found.join("\n")}`);
}

// On a desktop the header is one row: its parts, and each link of its navigation, on
// one line (their vertical centres within a few pixels).
async function oneRow(page, what) {
  const centres = await page.evaluate(() =>
    [...document.querySelectorAll("header > *, header nav a")].map((e) => {
      const r = e.getBoundingClientRect();
      return r.top + r.height / 2;
    }),
  );
  const spread = Math.max(...centres) - Math.min(...centres);
  assert.ok(spread < 12, `${what}: the header wraps at 1280 px (centres ${centres.join(", ")})`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let step = "start";
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();

  step = "sign up through the form";
  await page.goto(base + "/");
  assert.match(page.url(), /\/login$/);
  await page.click("text=No account yet? Sign up");
  await page.fill("#email", owner);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/overview$/);
  await page.screenshot({ path: join(shots, "overview-empty.png"), fullPage: true });

  step = "create an API key in the settings, shown once";
  await page.click("nav >> text=Settings");
  await page.fill("#key-name", "gateway");
  await page.check("input[name=read]");
  await page.click("text=Create key");
  const key = (await page.textContent("#new-key")).trim();
  assert.match(key, /^llmlab_/);
  await fits(page, "settings");
  await page.screenshot({ path: join(shots, "settings.png"), fullPage: true });

  step = "send events through the API";
  for (const cost of ["1234.5", "0.06"]) {
    const r = await api("POST", "/api/events/track", key, {
      provider: "openai",
      model: "gpt-4o",
      input_tokens: 1200,
      output_tokens: 350,
      cost_usd: cost,
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
  const haiku = await api("POST", "/api/events/track", key, {
    provider: "anthropic",
    model: "claude-3-haiku",
    input_tokens: 5000,
    output_tokens: 800,
  });
  assert.equal(haiku.status, 201, JSON.stringify(haiku.json));
  // Claude 3 Haiku at $0.25 / $1.25 per million: 5,000 × 0.25 + 800 × 1.25 = 2,250
  // micro-dollars.
  assert.equal(haiku.json.cost_usd, 0.00225);

  step = "the overview's total equals GET /api/costs/summary";
  const now = new Date();
  const month = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}-01`;
  const summary = await api("GET", `/api/costs/summary?start=${month}`, key);
  assert.equal(summary.status, 200);
  // $1,234.50 + $0.06 + $0.00225.
  assert.equal(summary.json.total_cost_usd, 1234.56225);
  await page.goto(base + "/overview?tz=UTC");
  assert.equal((await page.textContent("#total")).trim(), "$1,234.56");
  assert.ok(await page.isVisible("svg.chart"));
  await fits(page, "overview");
  await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });

  step = "explore, recommendations and pricing";
  await page.click("nav >> text=Explore");
  await page.fill("#provider", "openai");
  await page.click("form.filters >> text=Show");
  const explored = await api("GET", "/api/costs/summary?provider=openai", key);
  assert.equal(explored.json.total_cost_usd, 1234.56);
  assert.equal((await page.textContent("#explore-total")).trim(), "$1,234.56");
  await fits(page, "explore");
  await page.screenshot({ path: join(shots, "explore.png"), fullPage: true });
  await page.click("nav >> text=Recommendations");
  assert.ok((await page.textContent("main")).includes("Cheaper models"));
  await page.click("nav >> text=Pricing");
  await page.fill("#q", "haiku");
  await page.click("text=Search");
  assert.ok((await page.textContent("main")).includes("anthropic/claude-3-haiku"));
  await fits(page, "pricing");
  await page.screenshot({ path: join(shots, "pricing.png"), fullPage: true });

  step = "the events page shows each price";
  await page.click("nav >> text=Events");
  assert.ok((await page.textContent("table.events")).includes("sent by the client"));
  await fits(page, "events");
  await page.screenshot({ path: join(shots, "events.png"), fullPage: true });

  step = "create and delete a budget by form";
  await page.click("nav >> text=Budgets");
  await page.fill("#name", "Monthly cap");
  await page.fill("#amount", "2000");
  await page.click("text=Create budget");
  await page.waitForURL(/\/budgets$/);
  assert.ok((await page.textContent("ul.budgets")).includes("Monthly cap"));
  await fits(page, "budgets");
  await page.screenshot({ path: join(shots, "budgets.png"), fullPage: true });
  await page.click("text=Delete Monthly cap");
  await page.waitForURL(/\/budgets$/);
  assert.ok(!(await page.textContent("main")).includes("Monthly cap"));

  step = "a form POST without the CSRF token is refused";
  const forged = await page.request.post(base + "/budgets", {
    form: { name: "forged", amount_usd: "1", period: "daily" },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);

  step = "switch workspaces";
  const login = await api("POST", "/api/auth/login", null, { email: owner, password });
  const token = login.json.token;
  const team = await api("POST", "/api/workspaces", token, { name: "Team" });
  assert.equal(team.status, 201);
  await page.goto(base + "/overview");
  await page.selectOption("#ws", String(team.json.id));
  await page.waitForURL(/ws=/);
  assert.equal(await page.$eval("#ws", (s) => s.selectedOptions[0].textContent.trim()), "Team (owner)");
  assert.equal((await page.textContent("#total")).trim(), "$0.00");

  step = "a viewer joins by accepting an invitation";
  const signup = await api("POST", "/api/auth/signup", null, { email: viewer, password });
  assert.equal(signup.status, 201);
  const invited = await api("POST", `/api/workspaces/${team.json.id}/members`, token, {
    email: viewer,
    role: "viewer",
  });
  assert.equal(invited.status, 202);
  const other = await browser.newContext({ viewport: { width: 375, height: 800 } });
  const theirs = await other.newPage();
  await theirs.goto(base + "/login");
  await theirs.fill("#email", viewer);
  await theirs.fill("#password", password);
  await theirs.click("button[type=submit]");
  await theirs.waitForURL(/\/overview$/);
  await theirs.goto(base + "/invitations");
  await theirs.click("text=Join Team as viewer");
  await theirs.waitForURL(new RegExp(`/overview\\?ws=${team.json.id}$`));

  step = "a viewer sees no edit controls";
  const budgets = await theirs.goto(`${base}/budgets?ws=${team.json.id}`);
  assert.equal(budgets.status(), 200);
  assert.equal((await theirs.textContent("main h1")).trim(), "Budgets");
  assert.equal(await theirs.locator("text=Create budget").count(), 0);
  await fits(theirs, "/budgets");
  await theirs.screenshot({ path: join(shots, "budgets-viewer-375px.png"), fullPage: true });

  step = "every page fits a 375 px phone";
  for (const path of ["/overview", "/explore", "/events", "/budgets", "/recommendations", "/pricing", "/reconciliation", "/channels", "/settings", "/invitations"]) {
    const r = await theirs.goto(`${base}${path}?ws=${team.json.id}`);
    assert.equal(r.status(), 200, path);
    await fits(theirs, path);
    const labels = await legible(theirs, path);
    if (path === "/overview") assert.ok(labels > 0, "the overview's chart has labels");
  }
  for (const path of ["/overview", "/explore", "/events", "/budgets", "/settings"]) {
    await theirs.goto(`${base}${path}`);
    await fits(theirs, `${path} of the viewer's own workspace`);
  }

  step = "the keyboard alone: sign in, open Budgets, create a budget";
  const keys = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await keys.goto(base + "/login");
  await tabTo(keys, "#email");
  await keys.keyboard.type(owner);
  await tabTo(keys, "#password");
  await keys.keyboard.type(password);
  await keys.keyboard.press("Enter");
  await keys.waitForURL(/\/overview$/);
  await tabTo(keys, 'nav a[href="/budgets"]');
  await keys.keyboard.press("Enter");
  await keys.waitForURL(/\/budgets$/);
  await tabTo(keys, "#name");
  await keys.keyboard.type("Keyboard");
  await tabTo(keys, "#amount");
  await keys.keyboard.type("42");
  await tabTo(keys, "#period");
  await keys.keyboard.press("w");
  await tabTo(keys, "button", "Create budget");
  // The form posts to the page's own address: wait for its answer, not for the URL.
  await Promise.all([
    keys.waitForResponse((r) => r.url().endsWith("/budgets") && r.request().method() === "POST"),
    keys.keyboard.press("Enter"),
  ]);
  await keys.waitForLoadState();
  const listed = await api("GET", "/api/budgets", token);
  const made = listed.json.budgets.find((b) => b.name === "Keyboard");
  assert.ok(made, `the budget made with the keyboard: ${JSON.stringify(listed)}`);
  assert.equal(made.period, "weekly");
  assert.equal(made.amount_usd, 42);

  step = "no serious or critical accessibility violation (axe-core)";
  const pages = ["/overview", "/explore", "/events", "/budgets", "/recommendations", "/pricing", "/reconciliation", "/channels", "/settings", "/invitations"];
  await audit(await browser.newContext(), 1280, ["/login", "/signup"]);
  await audit(context, 1280, pages);
  await audit(context, 1280, pages, "dark");
  await audit(other, 375, pages.map((p) => `${p}?ws=${team.json.id}`));

  step = "sign out";
  await page.click("text=Sign out");
  await page.waitForURL(/\/login$/);
  await page.goto(base + "/overview");
  assert.match(page.url(), /\/login$/);

  console.log("browser: every dashboard check passed");
} catch (e) {
  console.error(`browser: failed at "${step}": ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
