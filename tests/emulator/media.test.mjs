// Embeddings, images, speech, safety, image-to-text.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { startEmulator, validateOutput, SKIP_SHARED } from "./_harness.mjs";

let emu;
before(async () => (emu = await startEmulator()));
after(async () => emu?.close());

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test("embeddings: dims, shape, unit length, determinism, schema", { skip: SKIP_SHARED }, async () => {
  const cases = [
    ["@cf/baai/bge-small-en-v1.5", 384],
    ["@cf/baai/bge-base-en-v1.5", 768],
    ["@cf/baai/bge-large-en-v1.5", 1024],
    ["@cf/baai/bge-m3", 1024],
    ["@cf/google/embeddinggemma-300m", 768],
    ["@cf/qwen/qwen3-embedding-0.6b", 1024],
  ];
  for (const [m, d] of cases) {
    const r = await emu.run(m, { text: ["alpha", "beta", "alpha"] });
    assert.equal(r.kind, "json", `${m}: ${JSON.stringify(r.error)}`);
    assert.deepEqual(r.json.shape, [3, d], m);
    assert.equal(r.json.data.length, 3);
    for (const v of r.json.data) assert.ok(Math.abs(norm(v) - 1) < 1e-9, m);
    assert.deepEqual(r.json.data[0], r.json.data[2]);
    assert.notDeepEqual(r.json.data[0], r.json.data[1]);
    assert.equal(validateOutput(m, r.json), null, m);
    const single = await emu.run(m, { text: "alpha" });
    assert.deepEqual(single.json.shape, [1, d]);
    assert.deepEqual(single.json.data[0], r.json.data[0]);
  }
  const bge = await emu.run("@cf/baai/bge-small-en-v1.5", { text: "x", pooling: "cls" });
  assert.equal(bge.json.pooling, "cls");
  assert.equal((await emu.run("@cf/baai/bge-small-en-v1.5", { text: "x" })).json.pooling, "mean");
  const empty = await emu.run("@cf/baai/bge-small-en-v1.5", { text: "" });
  assert.match(empty.error.message, /^5006: /);
});

test("bge-m3: query+contexts ranking, contexts-only embeddings", { skip: SKIP_SHARED }, async () => {
  const m = "@cf/baai/bge-m3";
  const r = await emu.run(m, { query: "q", contexts: [{ text: "a" }, { text: "b" }] });
  assert.equal(r.json.response.length, 2);
  assert.deepEqual(r.json.response.map((x) => x.id).sort(), [0, 1]);
  assert.equal(validateOutput(m, r.json), null);
  const c = await emu.run(m, { contexts: [{ text: "a" }] });
  assert.deepEqual(c.json.shape, [1, 1024]);
  assert.equal(validateOutput(m, c.json), null);
});

function pngInfo(bytes) {
  const buf = Buffer.from(bytes);
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let o = 8;
  const chunks = {};
  const idat = [];
  while (o < buf.length) {
    const len = buf.readUInt32BE(o);
    const type = buf.subarray(o + 4, o + 8).toString("latin1");
    const data = buf.subarray(o + 8, o + 8 + len);
    const crc = buf.readUInt32BE(o + 8 + len);
    assert.equal(crc, crc32(buf.subarray(o + 4, o + 8 + len)), `CRC of ${type}`);
    if (type === "IDAT") idat.push(data);
    chunks[type] = data;
    o += 12 + len;
  }
  const width = chunks.IHDR.readUInt32BE(0);
  const height = chunks.IHDR.readUInt32BE(4);
  const raw = inflateSync(Buffer.concat(idat)); // zlib checks the Adler-32
  assert.equal(raw.length, height * (1 + Math.ceil(width / 8)));
  assert.ok("IEND" in chunks);
  return { width, height, palette: [...chunks.PLTE] };
}
function crc32(b) {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
function jpegInfo(bytes) {
  const b = Buffer.from(bytes);
  assert.deepEqual([b[0], b[1]], [0xff, 0xd8]);
  assert.deepEqual([b.at(-2), b.at(-1)], [0xff, 0xd9]);
  let o = 2;
  const info = {};
  while (o < b.length) {
    assert.equal(b[o], 0xff);
    const marker = b[o + 1];
    const len = b.readUInt16BE(o + 2);
    if (marker === 0xc0) info.height = b.readUInt16BE(o + 5), (info.width = b.readUInt16BE(o + 7));
    if (marker === 0xfe) info.comment = b.subarray(o + 4, o + 2 + len).toString();
    if (marker === 0xda) break;
    o += 2 + len;
  }
  return info;
}

test("flux-1-schnell: base64 JPEG, varies with prompt; NSFW -> 3030", { skip: SKIP_SHARED }, async () => {
  const m = "@cf/black-forest-labs/flux-1-schnell";
  const a = await emu.run(m, { prompt: "a red fox", steps: 4 });
  assert.equal(validateOutput(m, a.json), null);
  const info = jpegInfo(Buffer.from(a.json.image, "base64"));
  assert.deepEqual([info.width, info.height], [1024, 1024]);
  assert.match(info.comment, /workers-ai-emulator/);
  const b = await emu.run(m, { prompt: "a blue fox" });
  assert.notEqual(a.json.image, b.json.image);
  const n = await emu.run(m, { prompt: "something [[emu:nsfw]]" });
  assert.equal(n.error.message, "3030: Input prompt contains NSFW content.");
});

test("flux-2: multipart form in, base64 PNG out with the requested size and seed", async () => {
  const m = "@cf/black-forest-labs/flux-2-klein-4b";
  const a = await emu.run(m, {}, { multipart: { prompt: "a cat", width: 256, height: 128, seed: 7 } });
  assert.equal(a.kind, "json", JSON.stringify(a.error));
  const info = pngInfo(Buffer.from(a.json.image, "base64"));
  assert.deepEqual([info.width, info.height], [256, 128]);
  const b = await emu.run(m, {}, { multipart: { prompt: "a cat", width: 256, height: 128, seed: 8 } });
  assert.notDeepEqual(pngInfo(Buffer.from(b.json.image, "base64")).palette, info.palette);
  const c = await emu.run(m, {}, { multipart: { width: 256 } });
  assert.match(c.error.message, /^5006: .*'prompt'/);
});

test("stable-diffusion-xl / dreamshaper: a stream of PNG bytes", async () => {
  for (const m of ["@cf/stabilityai/stable-diffusion-xl-base-1.0", "@cf/bytedance/stable-diffusion-xl-lightning", "@cf/lykon/dreamshaper-8-lcm"]) {
    const r = await emu.run(m, { prompt: "a lighthouse", width: 512, height: 768, seed: 3 });
    assert.equal(r.kind, "stream", m);
    const info = pngInfo(r.bytes);
    assert.deepEqual([info.width, info.height], [512, 768]);
  }
  const big = await emu.run("@cf/stabilityai/stable-diffusion-xl-base-1.0", { prompt: "big" });
  assert.ok(big.bytes.length < 4096, "1024x1024 PNG stays tiny");
  pngInfo(big.bytes);
});

test("whisper: number[] audio; text-like bytes are echoed as the transcript", { skip: SKIP_SHARED }, async () => {
  const m = "@cf/openai/whisper";
  const r = await emu.run(m, {}, { audioBytes: "hello from the emulator" });
  assert.equal(r.json.text, "hello from the emulator");
  assert.equal(r.json.word_count, 4);
  assert.equal(r.json.words.length, 4);
  assert.match(r.json.vtt, /^WEBVTT/);
  assert.equal(validateOutput(m, r.json), null);
  const bin = await emu.run(m, { audio: [0, 255, 1, 2] });
  assert.match(bin.json.text, /Emulated transcription of 4 bytes/);
});

test("whisper-large-v3-turbo: base64 audio, segments; bad base64 -> 5004", { skip: SKIP_SHARED }, async () => {
  const m = "@cf/openai/whisper-large-v3-turbo";
  const r = await emu.run(m, { audio: Buffer.from("turbo words here").toString("base64") });
  assert.equal(r.json.text, "turbo words here");
  assert.equal(r.json.segments[0].words.length, 3);
  assert.equal(validateOutput(m, r.json), null);
  const bad = await emu.run(m, { audio: "***not base64***" });
  assert.match(bad.error.message, /^5004: /);
  const num = await emu.run(m, { audio: [1, 2, 3] });
  assert.match(num.error.message, /^5006: Error: Type mismatch of '\/audio', 'string' not in 'array'/);
});

test("melotts: base64 MP3 made of valid MPEG frames", { skip: SKIP_SHARED }, async () => {
  const m = "@cf/myshell-ai/melotts";
  const r = await emu.run(m, { prompt: "say something nice", lang: "en" });
  assert.equal(validateOutput(m, r.json), null);
  const mp3 = Buffer.from(r.json.audio, "base64");
  assert.equal(mp3.length % 417, 0);
  for (let o = 0; o < mp3.length; o += 417) assert.deepEqual([...mp3.subarray(o, o + 3)], [0xff, 0xfb, 0x90]);
});

test("llama-guard-3-8b: safe by default, unsafe=S1,S10", { skip: SKIP_SHARED }, async () => {
  const m = "@cf/meta/llama-guard-3-8b";
  let r = await emu.run(m, { messages: [{ role: "user", content: "hello" }] });
  assert.deepEqual(r.json.response, { safe: true, categories: [] });
  assert.equal(validateOutput(m, r.json), null);
  r = await emu.run(m, { messages: [{ role: "user", content: "bad [[emu:unsafe=S1,S10]]" }] });
  assert.deepEqual(r.json.response, { safe: false, categories: ["S1", "S10"] });
  r = await emu.run(m, { messages: [{ role: "system", content: "x" }] });
  assert.match(r.error.message, /^5006: .*not in enum/);
});

test("image-to-text (llava, uform): {description}", async () => {
  for (const m of ["@cf/llava-hf/llava-1.5-7b-hf", "@cf/unum/uform-gen2-qwen-500m"]) {
    const r = await emu.run(m, { image: [1, 2, 3, 4], prompt: "what is it?" });
    assert.match(r.json.description, /Emulated description of an image of 4 bytes/);
  }
});
