// Load UI workflows into a running ComfyUI's real frontend in headless Chromium and report, per
// workflow, what the frontend made of it. Used by tests/test_real_comfyui.py; by hand:
//
//   node tools/comfyui_frontend.mjs PLAYWRIGHT_CORE_DIR http://127.0.0.1:8188 workflows/identify.json ...
//
// PLAYWRIGHT_CORE_DIR: the playwright-core package folder (tools/comfyui_host.py browser prints it).
// Chromium is Debian's /usr/bin/chromium (no browser download); every request to a host other than
// the ComfyUI server is blocked. Prints one JSON object on stdout:
//   {"workflows": {path: {missing: [node types not registered], dialogs: [texts of open dialogs
//                          and error toasts],
//                          errors: [page and console errors while loading it],
//                          prompt: app.graphToPrompt().output}},
//    "startup_errors": [page and console errors before the first workflow]}
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [playwrightDir, serverUrl, ...workflowPaths] = process.argv.slice(2);
const { chromium } = await import(pathToFileURL(join(playwrightDir, "index.mjs")).href);
const server = new URL(serverUrl);
const userDataDir = mkdtempSync(join(tmpdir(), "comfyui-frontend-"));
const startupErrors = [];
let errors = startupErrors;
const results = {};

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1600, height: 1000 },
});
try {
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.host === server.host || url.protocol === "data:" || url.protocol === "blob:") return route.continue();
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.stack || err.message}`.slice(0, 600)));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/net::ERR_FAILED|Failed to load resource/.test(msg.text())) {
      errors.push(`console: ${msg.text()}`);
    }
  });
  await page.goto(serverUrl, { waitUntil: "domcontentloaded", timeout: 120000 });
  await page.waitForFunction(() => window.app && window.app.graph && window.LiteGraph &&
    Object.keys(window.LiteGraph.registered_node_types).length > 50, null, { timeout: 120000 });
  const closeDialogs = async () => {
    await page.evaluate(() => {
      for (const b of document.querySelectorAll(".p-dialog .p-dialog-close-button, .p-dialog-header-close")) b.click();
    });
    await page.waitForTimeout(200);
  };
  await page.waitForTimeout(1000);
  await closeDialogs(); // a first-start dialog (templates, release notes) is not the workflow's
  for (const path of workflowPaths) {
    const workflow = JSON.parse(readFileSync(path, "utf8"));
    errors = [];
    const result = await page.evaluate(async (wf) => {
      await window.app.loadGraphData(wf);
      const registered = window.LiteGraph.registered_node_types;
      const missing = wf.nodes.map((n) => n.type).filter((t) => !(t in registered));
      const { output } = await window.app.graphToPrompt();
      return { missing, prompt: output };
    }, workflow);
    await page.waitForTimeout(500); // dialogs open asynchronously
    result.dialogs = await page.evaluate(() =>
      [...document.querySelectorAll(".p-dialog, .comfy-modal, .p-toast-message-error")]
        .filter((d) => d.offsetParent !== null || getComputedStyle(d).display !== "none" && d.getClientRects().length)
        .map((d) => d.innerText.trim().slice(0, 500)));
    result.errors = errors;
    results[path] = result;
    await closeDialogs();
  }
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify({ workflows: results, startup_errors: startupErrors }) + "\n");
