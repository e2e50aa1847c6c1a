// Shared harness for the emulator tests: a tiny JS worker whose `env.AI` is the emulator,
// bound through miniflare's wrappedBindings exactly as the gateway will get it.
import { Miniflare } from "miniflare";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { emulatorWorker } from "../../emulator/load.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, "../..");
export const SHARED_DIR = process.env.SHARED_DIR ? resolve(process.env.SHARED_DIR) : resolve(REPO_ROOT, "../shared");
export const MODELS_DIR = join(SHARED_DIR, "reference", "workers-ai-models");
export const HAVE_SHARED = existsSync(MODELS_DIR);
export const SKIP_SHARED = HAVE_SHARED ? false : `reference schemas not found at ${MODELS_DIR} (set SHARED_DIR)`;

const TEST_WORKER = `
function b64(u8) { let s = ""; for (let i = 0; i < u8.length; i++) s += String.fromCharCode(u8[i]); return btoa(s); }
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/ctor") return Response.json({ name: env.AI.constructor.name });
      if (url.pathname === "/models") return Response.json(await env.AI.models(await request.json()));
      const { model, inputs, options, multipart, audioBytes, rawBinary, collect } = await request.json();
      let inp = inputs;
      if (multipart) {
        const fd = new FormData();
        for (const [k, v] of Object.entries(multipart)) fd.append(k, String(v));
        const r = new Response(fd);
        inp = { ...(inputs ?? {}), multipart: { body: r.body, contentType: r.headers.get("content-type") } };
      }
      if (audioBytes !== undefined) {
        const bytes = new TextEncoder().encode(audioBytes);
        inp = rawBinary ? bytes : { ...(inputs ?? {}), audio: Array.from(bytes) };
      }
      const out = await env.AI.run(model, inp, options);
      if (out instanceof ReadableStream) {
        if (!collect) return new Response(out, { headers: { "x-emu-kind": "stream" } });
        const chunks = [];
        let error = null;
        const reader = out.getReader();
        try {
          for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(b64(value)); }
        } catch (e) { error = { name: e.name, message: e.message }; }
        return Response.json({ chunks, error }, { headers: { "x-emu-kind": "collected" } });
      }
      return Response.json(out, { headers: { "x-emu-kind": "json" } });
    } catch (e) {
      return Response.json({ error: { name: e?.name, message: e?.message ?? String(e) } }, { status: 500, headers: { "x-emu-kind": "error" } });
    }
  },
};`;

/** `entrypoint`: the binding's export, e.g. "makeReplayingAi" (the benchmarks' binding). */
export async function startEmulator({ entrypoint } = {}) {
  const mf = new Miniflare({
    workers: [
      {
        name: "test",
        modules: true,
        script: TEST_WORKER,
        compatibilityDate: "2025-01-01",
        wrappedBindings: { AI: { scriptName: "ai-emulator", ...(entrypoint ? { entrypoint } : {}) } },
      },
      emulatorWorker("ai-emulator"),
    ],
  });
  await mf.ready;
  const post = async (path, body) =>
    mf.dispatchFetch("http://emu" + path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  return {
    mf,
    /** -> {kind:"json", json} | {kind:"stream", bytes:Uint8Array, text} | {kind:"error", error:{name,message}} | {kind:"collected", chunks:Uint8Array[], error} */
    async run(model, inputs, extra = {}) {
      const res = await post("/run", { model, inputs, ...extra });
      const kind = res.headers.get("x-emu-kind");
      if (kind === "stream") {
        const bytes = new Uint8Array(await res.arrayBuffer());
        return { kind, bytes, text: new TextDecoder().decode(bytes) };
      }
      const json = await res.json();
      if (kind === "error") return { kind, error: json.error };
      if (kind === "collected") return { kind, chunks: json.chunks.map((c) => Uint8Array.from(Buffer.from(c, "base64"))), error: json.error };
      return { kind, json };
    },
    async models(params = {}) {
      return (await post("/models", params)).json();
    },
    async ctor() {
      return (await (await post("/ctor", {})).json()).name;
    },
    close: () => mf.dispose(),
  };
}

/** Parses SSE text into frames [{event?, data?, comment?}] (blank-line separated). */
export function parseSse(text) {
  const frames = [];
  for (const block of text.split("\n\n")) {
    if (!block.trim()) continue;
    const f = {};
    for (const line of block.split("\n")) {
      if (line === "") continue;
      if (line.startsWith(":")) f.comment = line.slice(1).trim();
      else if (line.startsWith("event: ")) f.event = line.slice(7);
      else if (line.startsWith("data: ")) f.data = (f.data === undefined ? "" : f.data + "\n") + line.slice(6);
      else throw new Error("bad SSE line: " + JSON.stringify(line));
    }
    frames.push(f);
  }
  return frames;
}
/** data payloads of an SSE stream, parsed; asserts it ends with [DONE]. */
export function sseJson(text) {
  const frames = parseSse(text).filter((f) => f.data !== undefined);
  const last = frames.pop();
  if (!last || last.data !== "[DONE]") throw new Error("stream does not end with data: [DONE]");
  return frames.map((f) => JSON.parse(f.data));
}

// ---- output-schema validation against the documented schemas ----
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });

function oneOfToAnyOf(node) {
  if (Array.isArray(node)) return node.map(oneOfToAnyOf);
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k === "oneOf" ? "anyOf" : k] = oneOfToAnyOf(v);
  return out;
}
export function modelSchema(model) {
  const file = join(MODELS_DIR, model.split("/").pop() + ".json");
  return JSON.parse(readFileSync(file, "utf8")).schema;
}
/**
 * Validates a non-stream output against the model's documented `schema.output`, JSON branches only
 * (binary/event-stream and "Async response" branches dropped). The published schemas use `oneOf`
 * with overlapping branches (e.g. gpt-oss output items), so it is checked with anyOf semantics.
 */
export function validateOutput(model, output) {
  const schema = modelSchema(model).output;
  if (!schema) return null; // e.g. qwq-32b: the published schema is empty
  let json = schema;
  const branches = schema.oneOf ?? schema.anyOf;
  if (branches) {
    const keep = branches.filter((b) => !(b.type === "string" && (b.format === "binary" || b.contentType)) && b.title !== "Async response");
    const { oneOf, anyOf, ...rest } = schema;
    json = { ...rest, anyOf: keep };
  }
  const validateFn = ajv.compile(oneOfToAnyOf(json));
  const ok = validateFn(output);
  return ok ? null : ajv.errorsText(validateFn.errors, { separator: "\n" });
}
