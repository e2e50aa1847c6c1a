// End-to-end: the open model search page, `GET /models/search` (and `/v1/models/search`):
// its JSON form (`Accept: application/json` or `?format=json`, filtered by `q` and `task`), its
// agreement with `GET /v1/models`, and the HTML page itself, driven in Debian's headless
// Chromium through playwright-core (skipped when /usr/bin/chromium is missing; scripts/setup.sh
// installs it with apt-get where it can). Nothing here downloads a browser.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { startGateway, raw, rawJson, API_KEYS, KEY } from "./_support.mjs";

const CHROMIUM = "/usr/bin/chromium";
function playwrightInstalled() {
  try {
    createRequire(import.meta.url).resolve("playwright-core");
    return true;
  } catch {
    return false;
  }
}
const chromiumSkip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} not found: install Debian's chromium (bash scripts/setup.sh does it with apt-get) to run the browser test`
  : !playwrightInstalled()
    ? "playwright-core is not installed: run bash scripts/setup.sh (npm ci)"
    : false;
const SCREENSHOT = "/tmp/models-search.png";

const CAPABILITIES = ["tools", "reasoning", "vision", "json_mode"];
const ENDPOINTS = ["/v1/chat/completions", "/v1/embeddings", "/v1/images/generations", "/v1/audio/transcriptions", "/v1/audio/speech", "/v1/moderations"];
const FLUX = "@cf/black-forest-labs/flux-1-schnell";

let gw;
let all; // every entry, unfiltered, from the JSON form
before(async () => {
  gw = await startGateway({ bindings: { API_KEYS } });
  const r = await rawJson(gw, "/models/search?format=json", { auth: false });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  all = r.json.data;
});
after(() => gw?.dispose());

/** The JSON form for a query string, without a key. */
async function search(params, path = "/models/search") {
  const qs = new URLSearchParams({ ...params, format: "json" });
  const r = await rawJson(gw, `${path}?${qs}`, { auth: false });
  assert.equal(r.status, 200, `${path}?${qs}: ${r.text.slice(0, 300)}`);
  assert.match(r.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(r.json.object, "list");
  return r.json.data;
}
const ids = (entries) => entries.map((e) => e.id);

/** The entries embedded in the HTML page's `#models` script element. */
function embedded(html) {
  const m = /<script id="models" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, "the page keeps <script id=\"models\" type=\"application/json\">");
  return JSON.parse(m[1]);
}

describe("GET /models/search (HTTP)", () => {
  test("serves the HTML page without an API key, on both paths, data filled in", async () => {
    for (const path of ["/models/search", "/v1/models/search"]) {
      const r = await raw(gw, path, { auth: false, headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get("content-type") ?? "", /^text\/html/, path);
      const html = await r.text();
      assert.ok(!html.includes("__MODELS_JSON__"), `${path}: the placeholder is replaced`);
      assert.match(html, /<title>Models · openai-to-workers-ai<\/title>/);
      for (const id of ['id="q"', 'id="task"', 'id="count"']) assert.ok(html.includes(id), `${path}: ${id}`);
      assert.deepEqual(embedded(html), all, `${path}: the page carries every entry, unfiltered`);
    }
  });

  test("the page makes no external requests (no http(s) URL in src/href attributes)", async () => {
    const html = await (await raw(gw, "/models/search", { auth: false })).text();
    const page = html.replace(/<script id="models"[\s\S]*?<\/script>/, "");
    assert.deepEqual(page.match(/\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//gi) ?? [], []);
    assert.ok(!/@import|url\(\s*["']?(?:https?:)?\/\//i.test(page), "no external CSS");
    assert.ok(page.length < 12_500, `the page without data stays small (${page.length} bytes)`);
  });

  test("a `<` in the data cannot close the script element", async () => {
    const html = await (await raw(gw, "/models/search", { auth: false })).text();
    const m = /<script id="models" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
    assert.ok(!m[1].includes("<"), "`<` is escaped as \\u003c");
  });

  test("JSON via the Accept header and via ?format=json, without a key", async () => {
    const viaAccept = await rawJson(gw, "/models/search", { auth: false, headers: { accept: "application/json" } });
    assert.equal(viaAccept.status, 200);
    assert.match(viaAccept.headers.get("content-type") ?? "", /application\/json/);
    assert.equal(viaAccept.json.object, "list");
    assert.deepEqual(viaAccept.json.data, all);
    assert.deepEqual(await search({}, "/v1/models/search"), all);
  });

  test("entries have the documented shape", () => {
    assert.ok(all.length >= 20, `expected a catalogue, got ${all.length} entries`);
    assert.equal(new Set(ids(all)).size, all.length, "ids are unique");
    for (const e of all) {
      const label = e.id;
      assert.deepEqual(Object.keys(e).sort(), ["aliases", "capabilities", "context_window", "created", "description", "endpoint", "id", "owned_by", "task"], label);
      for (const k of ["id", "task", "description", "owned_by"]) assert.equal(typeof e[k], "string", `${label}.${k}`);
      assert.ok(e.id && e.task && e.owned_by, `${label}: id, task, owned_by are not empty`);
      assert.ok(Number.isInteger(e.created) && e.created >= 0, `${label}.created`);
      assert.ok(Array.isArray(e.aliases) && e.aliases.every((a) => typeof a === "string" && a), `${label}.aliases`);
      assert.ok(e.capabilities.every((c) => CAPABILITIES.includes(c)), `${label}.capabilities ${e.capabilities}`);
      assert.equal(new Set(e.capabilities).size, e.capabilities.length, `${label}: capabilities unique`);
      assert.ok(e.context_window === null || (Number.isInteger(e.context_window) && e.context_window > 0), `${label}.context_window`);
      // Image-to-Text has no gateway endpoint: null.
      if (e.task === "Image-to-Text") assert.equal(e.endpoint, null, `${label}.endpoint`);
      else assert.ok(ENDPOINTS.includes(e.endpoint), `${label}.endpoint ${e.endpoint}`);
    }
    const aliases = all.flatMap((e) => e.aliases);
    assert.equal(new Set(aliases).size, aliases.length, "an alias names one model");
    for (const task of ["Text Generation", "Text Embeddings", "Text-to-Image"]) assert.ok(all.some((e) => e.task === task), task);
  });

  test("descriptions are readable text (no UTF-8 read as Latin-1)", () => {
    const garbled = all.filter((e) => /[\u0080-\u009f]/.test(e.description)).map((e) => e.id);
    assert.deepEqual(garbled, []);
  });

  test("q=dall-e-3 gives exactly flux-1-schnell, which lists that alias (case-insensitive)", async () => {
    for (const q of ["dall-e-3", "DALL-E-3", "  dall-e-3  "]) {
      const data = await search({ q });
      assert.deepEqual(ids(data), [FLUX], q);
      assert.ok(data[0].aliases.includes("dall-e-3"));
      assert.equal(data[0].endpoint, "/v1/images/generations");
    }
  });

  test("task=Text-to-Image gives only (and every) image model (case-insensitive)", async () => {
    const want = ids(all.filter((e) => e.task === "Text-to-Image"));
    assert.ok(want.length >= 2);
    for (const task of ["Text-to-Image", "text-to-image"]) {
      const data = await search({ task });
      assert.ok(data.every((e) => e.task === "Text-to-Image" && e.endpoint === "/v1/images/generations"), task);
      assert.deepEqual(ids(data), want, task);
    }
    assert.deepEqual(await search({ task: "Text-to-Image", q: "dall-e-3" }).then(ids), [FLUX]);
    assert.deepEqual(await search({ task: "Text Embeddings", q: "dall-e-3" }), []);
  });

  test("q=nothing-matches and an unknown task give []", async () => {
    assert.deepEqual(await search({ q: "nothing-matches" }), []);
    assert.deepEqual(await search({ task: "Not a task" }), []);
  });

  test("every word must match the id, an alias, the description, the task or a capability", async () => {
    const words = (q) => q.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const matches = (e, q) => words(q).every((w) =>
      [e.id, e.description, e.task, ...e.aliases, ...e.capabilities].some((f) => f.toLowerCase().includes(w)));
    for (const q of ["qwen tools", "embedding", "META Instruct", "json_mode", "vision tools", "reasoning gpt-oss", "gpt-4", "speech", "text generation 8b"]) {
      const data = await search({ q });
      assert.deepEqual(ids(data), ids(all.filter((e) => matches(e, q))), q);
      assert.ok(data.length > 0, `${q} matches something`);
    }
  });

  test("the search entries and GET /v1/models name the same models", async () => {
    const listed = await rawJson(gw, "/v1/models");
    assert.equal(listed.status, 200);
    const names = [...ids(all), ...all.flatMap((e) => e.aliases)].sort();
    assert.deepEqual(listed.json.data.map((m) => m.id).sort(), names);
    for (const m of listed.json.data) {
      const e = all.find((x) => x.id === m.id);
      if (e) assert.deepEqual({ created: m.created, owned_by: m.owned_by }, { created: e.created, owned_by: e.owned_by }, m.id);
    }
  });

  test("every entry id and every alias is accepted by GET /v1/models/{id}", async () => {
    const names = all.flatMap((e) => [e.id, ...e.aliases]);
    await Promise.all(names.map(async (name) => {
      const r = await rawJson(gw, `/v1/models/${encodeURIComponent(name)}`);
      assert.equal(r.status, 200, `${name}: ${r.text.slice(0, 200)}`);
      assert.equal(r.json.id, name);
      assert.equal(r.json.object, "model");
    }));
  });

  test("MODEL_ALIASES additions show up as aliases (and are searchable)", async () => {
    const custom = await startGateway({
      bindings: { API_KEYS, MODEL_ALIASES: JSON.stringify({ "house-model": "@cf/meta/llama-3-8b-instruct" }) },
    });
    try {
      const r = await rawJson(custom, "/models/search?format=json&q=house-model", { auth: false });
      assert.equal(r.status, 200);
      assert.deepEqual(ids(r.json.data), ["@cf/meta/llama-3-8b-instruct"]);
      assert.ok(r.json.data[0].aliases.includes("house-model"));
      assert.ok(r.json.data[0].aliases.includes("gpt-3.5-turbo"), "built-in aliases stay");
    } finally {
      await custom.dispose();
    }
  });

  // A minimal request to an entry's endpoint with the entry's id as `model`.
  async function callEndpoint(e) {
    if (e.endpoint === "/v1/audio/transcriptions") {
      const form = new FormData();
      form.set("model", e.id);
      // 0.1 s of silence, 16 kHz mono 16-bit PCM.
      const pcm = new Uint8Array(3200);
      const wav = new Uint8Array(44 + pcm.length);
      const v = new DataView(wav.buffer);
      wav.set(new TextEncoder().encode("RIFF"), 0);
      v.setUint32(4, 36 + pcm.length, true);
      wav.set(new TextEncoder().encode("WAVEfmt "), 8);
      [[16, 16, 4], [20, 1, 2], [22, 1, 2], [24, 16000, 4], [28, 32000, 4], [32, 2, 2], [34, 16, 2]]
        .forEach(([at, value, size]) => (size === 4 ? v.setUint32(at, value, true) : v.setUint16(at, value, true)));
      wav.set(new TextEncoder().encode("data"), 36);
      v.setUint32(40, pcm.length, true);
      form.set("file", new Blob([wav], { type: "audio/wav" }), "silence.wav");
      const res = await fetch(gw.url + e.endpoint, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: form });
      const text = await res.text();
      let json;
      try { json = JSON.parse(text); } catch {}
      return { status: res.status, text, json };
    }
    const body = {
      "/v1/chat/completions": { messages: [{ role: "user", content: "hi [[emu:tokens=2]] [[emu:no_reasoning]]" }] },
      "/v1/embeddings": { input: "hello" },
      "/v1/images/generations": { prompt: "a lighthouse at dusk" },
      "/v1/audio/speech": { input: "hello", voice: "alloy" },
      "/v1/moderations": { input: "hello" },
    }[e.endpoint];
    return rawJson(gw, e.endpoint, { method: "POST", body: { model: e.id, ...body } });
  }
  async function rejectedByTheirEndpoint(entries) {
    const rejected = [];
    await Promise.all(entries.map(async (e) => {
      const r = await callEndpoint(e);
      if (r.status !== 200) rejected.push(`${e.id} (${e.task}) at ${e.endpoint}: ${r.status} ${r.json?.error?.message ?? r.text.slice(0, 160)}`);
    }));
    return rejected.sort();
  }

  test("every entry (but Image-to-Text) is accepted as `model` by the endpoint it names", async () => {
    const entries = all.filter((e) => e.task !== "Image-to-Text");
    assert.ok(entries.length >= 20);
    assert.deepEqual(await rejectedByTheirEndpoint(entries), []);
  });

  test("Image-to-Text entries name no endpoint, and chat refuses them with a clear 400", async () => {
    const entries = all.filter((e) => e.task === "Image-to-Text");
    assert.ok(entries.length >= 1);
    for (const e of entries) {
      assert.equal(e.endpoint, null);
      const r = await rawJson(gw, "/v1/chat/completions", { method: "POST", body: { model: e.id, messages: [{ role: "user", content: "hi" }] } });
      assert.equal(r.status, 400, e.id);
      assert.match(r.json.error.message, /Image-to-Text/);
    }
  });

  test("every endpoint an entry names is served (a route, not a 404)", async () => {
    const missing = [];
    for (const endpoint of new Set(all.map((e) => e.endpoint).filter(Boolean))) {
      const model = all.find((e) => e.endpoint === endpoint).id;
      const r = await rawJson(gw, endpoint, { method: "POST", body: { model } });
      if (r.status === 404 && r.json?.error?.code !== "model_not_found") missing.push(`${endpoint} (${r.json?.error?.code})`);
    }
    assert.deepEqual(missing, []);
  });
});

describe("the search page in headless Chromium", { skip: chromiumSkip }, () => {
  let browser;
  let context;
  let page;
  const problems = []; // console errors, page errors, failed or external requests
  let total;

  before(async () => {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
    const origin = new URL(gw.url).origin;
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
    page = await context.newPage();
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) problems.push(`external request: ${r.url()}`); });
    page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    total = all.length;
  });
  after(async () => {
    await browser?.close();
  });

  const open = (query = "") => page.goto(`${gw.url}/models/search${query}`, { waitUntil: "load" });
  const shownIds = () => page.$$eval("#rows tr:not([hidden]) .id code", (els) => els.map((e) => e.textContent));
  const count = () => page.textContent("#count");
  const query = () => Object.fromEntries(new URL(page.url()).searchParams);

  test("loads: title, count and one row per model", async () => {
    await open();
    assert.equal(await page.title(), "Models · openai-to-workers-ai");
    assert.equal(await count(), `${total} of ${total} models`);
    assert.deepEqual(await shownIds(), ids(all));
    assert.equal(await page.locator("#rows tr").count(), total);
    assert.equal(await page.isVisible("#empty"), false);
    const row = page.locator("#rows tr", { has: page.locator("code", { hasText: "@cf/qwen/qwen3-30b-a3b-fp8" }) });
    assert.deepEqual(await row.locator(".b").allTextContents(), ["tools", "reasoning", "json mode"]);
    assert.match(await row.textContent(), /gpt-4o/);
    assert.equal(await row.locator(".ep").textContent(), "/v1/chat/completions");
    assert.equal(await row.locator("td.num").textContent(), "32,768");
    const options = await page.$$eval("#task option", (os) => os.map((o) => o.textContent));
    assert.equal(options[0], "All tasks");
    assert.deepEqual(options.slice(1), [...new Set(all.map((e) => e.task))].sort());
    for (const sel of ["#q", "#task"]) {
      assert.ok(await page.$eval(sel, (el) => el.labels.length > 0 && el.labels[0].textContent.trim().length > 0), `${sel} has a label`);
    }
    assert.ok(await page.$$eval("#caps input", (els) => els.length === 4 && els.every((el) => el.labels.length === 1)), "capability checkboxes are labelled");
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  test("typing filters live: dall-e shows only flux-1-schnell, and the URL follows", async () => {
    await open();
    await page.locator("#q").pressSequentially("dall-e");
    assert.deepEqual(await shownIds(), [FLUX]);
    assert.equal(await count(), `1 of ${total} models`);
    assert.deepEqual(query(), { q: "dall-e" });
    const row = page.locator("#rows tr:not([hidden])");
    assert.match(await row.textContent(), /dall-e-3/);
    assert.equal(await row.locator(".ep").textContent(), "/v1/images/generations");
  });

  test("the page filters exactly as the server does", async () => {
    await open();
    for (const q of ["qwen tools", "embedding", "META Instruct", "json_mode", "reasoning gpt-oss", "gpt-4", "text generation 8b", "nothing-matches"]) {
      await page.fill("#q", q);
      assert.deepEqual(await shownIds(), ids(await search({ q })), q);
    }
  });

  test("choosing a task shows only that task", async () => {
    await open();
    await page.selectOption("#task", "Text Embeddings");
    const want = ids(await search({ task: "Text Embeddings" }));
    assert.ok(want.length >= 2);
    assert.deepEqual(await shownIds(), want);
    const tasks = await page.$$eval("#rows tr:not([hidden]) td:nth-child(2)", (els) => els.map((e) => e.textContent));
    assert.ok(tasks.every((t) => t === "Text Embeddings"), tasks.join());
    assert.equal(await count(), `${want.length} of ${total} models`);
    assert.deepEqual(query(), { task: "Text Embeddings" });
    await page.fill("#q", "large");
    assert.deepEqual(await shownIds(), ids(await search({ task: "Text Embeddings", q: "large" })));
    assert.deepEqual(query(), { q: "large", task: "Text Embeddings" });
  });

  test("capability checkboxes narrow the list and go into the URL", async () => {
    await open();
    await page.check("#caps input[value=vision]");
    await page.check("#caps input[value=tools]");
    const want = ids(all.filter((e) => e.capabilities.includes("vision") && e.capabilities.includes("tools")));
    assert.ok(want.length >= 1);
    assert.deepEqual(await shownIds(), want);
    assert.deepEqual(query(), { cap: "tools,vision" });
    await open("?cap=tools,vision");
    assert.deepEqual(await shownIds(), want);
    assert.ok(await page.isChecked("#caps input[value=vision]"));
  });

  test("?q=embedding pre-fills the box and filters; ?task= is matched case-insensitively", async () => {
    await open("?q=embedding");
    assert.equal(await page.inputValue("#q"), "embedding");
    const want = ids(await search({ q: "embedding" }));
    assert.deepEqual(await shownIds(), want);
    assert.equal(await count(), `${want.length} of ${total} models`);
    assert.equal(await page.getAttribute("#json", "href"), "?q=embedding&format=json");
    await open("?task=text-to-image&q=dall-e-3");
    assert.equal(await page.inputValue("#task"), "Text-to-Image");
    assert.deepEqual(await shownIds(), [FLUX]);
    assert.deepEqual(query(), { q: "dall-e-3", task: "Text-to-Image" });
  });

  test("nothing matching shows the empty state, and its link shows everything again", async () => {
    await open("?q=nothing-matches");
    assert.deepEqual(await shownIds(), []);
    assert.equal(await count(), `0 of ${total} models`);
    assert.ok(await page.isVisible("#empty"));
    assert.match(await page.textContent("#empty"), /No model matches/);
    assert.equal(await page.isVisible("#results"), false);
    await page.click("#reset");
    assert.equal(await count(), `${total} of ${total} models`);
    assert.equal(await page.isVisible("#empty"), false);
    assert.deepEqual(query(), {});
    assert.equal(await page.evaluate(() => document.activeElement.id), "q");
  });

  test("`/` focuses the search box (and is not typed into it)", async () => {
    await open();
    await page.click("h1");
    assert.notEqual(await page.evaluate(() => document.activeElement.id), "q");
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement.id), "q");
    assert.equal(await page.inputValue("#q"), "");
    await page.keyboard.type("whisper/");
    assert.equal(await page.inputValue("#q"), "whisper/", "inside the box `/` is an ordinary character");
  });

  test("the copy button copies the model id", async () => {
    await open("?q=dall-e-3");
    const button = page.getByRole("button", { name: `Copy model id ${FLUX}` });
    await button.click();
    await page.waitForFunction(() => document.querySelector("#rows tr:not([hidden]) button.copy").textContent === "Copied");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), FLUX);
  });

  test("dark colour scheme and a narrow screen", async () => {
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await open();
    const light = await bg();
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await bg();
    assert.notEqual(dark, light);
    const lum = (c) => c.match(/\d+/g).slice(0, 3).reduce((a, b) => a + Number(b), 0);
    assert.ok(lum(dark) < lum(light), `dark background ${dark} is darker than ${light}`);
    await page.screenshot({ path: SCREENSHOT.replace(".png", "-dark.png"), fullPage: false });
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 390, height: 844 });
    await open("?task=Text-to-Image");
    assert.deepEqual(await shownIds(), ids(all.filter((e) => e.task === "Text-to-Image")), "hidden rows stay hidden in the narrow layout");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at 390 px (overflow ${overflow}px)`);
    await page.screenshot({ path: SCREENSHOT.replace(".png", "-narrow.png"), fullPage: false });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test("no console errors, failed requests or external requests", () => {
    assert.deepEqual(problems, []);
  });
});
