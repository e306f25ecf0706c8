// Measures the web UI's gzipped bundle and its first paints on loopback, against a static-HTML floor.
//
//   node bench/first-paint.mjs [--url http://127.0.0.1:8000/] [--runs 15]
//
// Each run is a fresh browser context (empty cache), so every run pays for the full bundle.
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "@playwright/test";

/** The same browser flags as the end-to-end tests (playwright.config.ts). */
const CHROMIUM_ARGS = JSON.parse(
  readFileSync(new URL("../chromium-args.json", import.meta.url), "utf8"),
);
const STATIC_DIR = new URL("../../src/contextiq/static/", import.meta.url).pathname;
const BUDGET_KB = 300;

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1] : fallback;
}

function bundleSizes() {
  const assets = join(STATIC_DIR, "assets");
  const sizes = { js: 0, jsGzip: 0, css: 0, cssGzip: 0 };
  for (const name of readdirSync(assets)) {
    const bytes = readFileSync(join(assets, name));
    const kind = name.endsWith(".js") ? "js" : name.endsWith(".css") ? "css" : null;
    if (!kind) continue;
    sizes[kind] += bytes.length;
    sizes[`${kind}Gzip`] += gzipSync(bytes, { level: 9 }).length;
  }
  return sizes;
}

/** The floor: a page with text and no script, from a bare Node server on the same loopback. */
function startStaticFloor() {
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>floor</title></head>' +
    "<body><h1>Context IQ</h1><p>Static text, no script.</p></body></html>";
  const server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(html);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, url: `http://127.0.0.1:${server.address().port}/` }),
    ),
  );
}

/** First contentful paint, largest contentful paint, and the app's own "rendered" mark. */
async function measure(browser, url, waitFor) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__lcp = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__lcp = entry.startTime;
    }).observe({ type: "largest-contentful-paint", buffered: true });
  });
  await page.goto(url, { waitUntil: "load" });
  if (waitFor) await page.getByRole("button", { name: waitFor }).waitFor();
  await page.waitForTimeout(150);
  const timing = await page.evaluate(() => {
    const fcp = performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null;
    const app = performance.getEntriesByName("contextiq:app-rendered")[0]?.startTime ?? null;
    return { fcp, lcp: window.__lcp || null, app };
  });
  await context.close();
  return timing;
}

function stats(values) {
  const sorted = values.filter((v) => v !== null).sort((a, b) => a - b);
  const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: pick(0.5), p90: pick(0.9), max: sorted[sorted.length - 1] };
}

const url = option("url", "http://127.0.0.1:8000/");
const runs = Number(option("runs", "15"));
const sizes = bundleSizes();
const floor = await startStaticFloor();
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: CHROMIUM_ARGS,
});

// One warm-up each, so process start-up is not charged to the first run.
await measure(browser, floor.url, null);
await measure(browser, url, "Fetch Recommendations");
const app = [];
const base = [];
for (let i = 0; i < runs; i += 1) {
  base.push(await measure(browser, floor.url, null));
  app.push(await measure(browser, url, "Fetch Recommendations"));
}
await browser.close();
floor.server.close();

const kb = (bytes) => (bytes / 1024).toFixed(1);
const ms = (value) => (value === undefined || value === null ? "n/a" : value.toFixed(0));
const appFcp = stats(app.map((t) => t.fcp));
const appLcp = stats(app.map((t) => t.lcp));
const appMark = stats(app.map((t) => t.app));
const baseFcp = stats(base.map((t) => t.fcp));

console.log(
  `bundle: JS ${kb(sizes.js)} kB (${kb(sizes.jsGzip)} kB gzip), CSS ${kb(sizes.css)} kB (${kb(sizes.cssGzip)} kB gzip)`,
);
console.log(
  `JS gzip vs ${BUDGET_KB} kB budget: ${((sizes.jsGzip / 1024 / BUDGET_KB) * 100).toFixed(1)}%`,
);
console.log(`runs: ${runs} fresh contexts each, url ${url}`);
console.log("metric                         median    p90    max  (ms)");
const row = (label, s) =>
  console.log(
    `${label.padEnd(30)} ${ms(s.median).padStart(6)} ${ms(s.p90).padStart(6)} ${ms(s.max).padStart(6)}`,
  );
row("floor: static HTML FCP", baseFcp);
row("UI: first contentful paint", appFcp);
row("UI: largest contentful paint", appLcp);
row("UI: app rendered (mark)", appMark);
console.log(`UI LCP / static-HTML FCP (median): ${(appLcp.median / baseFcp.median).toFixed(2)}x`);
