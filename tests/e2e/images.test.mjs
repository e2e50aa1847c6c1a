// End-to-end: POST /v1/images/generations through the official `openai` SDK (`images.generate`)
// and raw fetch for the error cases, against the Workers AI emulator. The emulator paints one solid
// colour per (model, seed, prompt), so distinct seeds give distinct bytes; it answers a JPEG for
// flux-1-schnell and PNGs for flux-2 and the SDXL family, and it writes the seed it received into
// a comment in the image (JPEG COM / PNG tEXt), which the tests read back.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { OpenAI, startGateway, client, schema, rawJson, checkErrorBody, thrown, API_KEYS } from "./_support.mjs";

const FLUX1 = "@cf/black-forest-labs/flux-1-schnell";
const FLUX2 = ["@cf/black-forest-labs/flux-2-klein-4b", "@cf/black-forest-labs/flux-2-klein-9b", "@cf/black-forest-labs/flux-2-dev"];
const SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0";
const SD_FAMILY = [SDXL, "@cf/bytedance/stable-diffusion-xl-lightning", "@cf/lykon/dreamshaper-8-lcm"];

let gw;
let ai;
before(async () => {
  gw = await startGateway({ bindings: { API_KEYS } });
  ai = client(gw, { timeout: 30_000 });
});
after(() => gw?.dispose());

const generate = (body) => rawJson(gw, "/v1/images/generations", { method: "POST", body });

/** Type and pixel size read from the image bytes (PNG IHDR, JPEG SOFn). */
function imageInfo(bytes) {
  if (bytes.length > 24 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { type: "image/png", format: "png", width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    // Walk the segments to the first start-of-frame marker (C0..CF except C4, C8, CC).
    let i = 2;
    while (i + 9 < bytes.length && bytes[i] === 0xff) {
      const marker = bytes[i + 1];
      const len = bytes.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return { type: "image/jpeg", format: "jpeg", height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7) };
      }
      i += 2 + len;
    }
    return { type: "image/jpeg", format: "jpeg" };
  }
  return { type: "unknown" };
}

/** The `seed=` the emulator wrote into the image's comment ("" when the model got no seed). */
function emulatorSeed(bytes) {
  const m = /workers-ai-emulator model=\S+ seed=(\d*) /.exec(bytes.toString("latin1"));
  assert.ok(m, "emulator comment in the image");
  return m[1];
}

/**
 * Check an ImagesResponse: schema, `created`, one entry per image in the requested form (a
 * `data:` URL whose media type matches the decoded magic bytes, or b64_json), and `output_format`
 * matching the bytes. Returns the decoded images with their info.
 */
function checkImages(r, { n = 1, as = "url", format, width, height, label = "images" } = {}) {
  schema("ImagesResponse", r, label);
  assert.equal(typeof r.created, "number", `${label}: created`);
  assert.ok(Math.abs(r.created - Date.now() / 1000) < 3600, `${label}: created is a unix time in seconds`);
  assert.equal(r.data.length, n, `${label}: one entry per image`);
  const images = r.data.map((d, i) => {
    let bytes;
    let declared;
    if (as === "url") {
      assert.equal(d.b64_json, undefined, `${label}[${i}]: no b64_json when url was asked for`);
      const m = /^data:(image\/[a-z]+);base64,([A-Za-z0-9+/]+=*)$/.exec(d.url ?? "");
      assert.ok(m, `${label}[${i}]: a data: URL with base64, got ${String(d.url).slice(0, 60)}`);
      declared = m[1];
      bytes = Buffer.from(m[2], "base64");
    } else {
      assert.equal(d.url, undefined, `${label}[${i}]: no url when b64_json was asked for`);
      assert.match(d.b64_json ?? "", /^[A-Za-z0-9+/]+=*$/, `${label}[${i}]: b64_json is base64`);
      bytes = Buffer.from(d.b64_json, "base64");
    }
    const info = imageInfo(bytes);
    if (declared) assert.equal(declared, info.type, `${label}[${i}]: the data URL's media type matches the bytes`);
    if (format) assert.equal(info.format, format, `${label}[${i}]: image format`);
    if (width) assert.equal(info.width, width, `${label}[${i}]: width`);
    if (height) assert.equal(info.height, height, `${label}[${i}]: height`);
    return { bytes, ...info };
  });
  assert.equal(r.output_format, images[0].format, `${label}: output_format names the bytes' format`);
  return images;
}

describe("images: OpenAI aliases (flux-1-schnell)", () => {
  test("dall-e-3 via the SDK: a JPEG data: URL by default, 1024x1024, output_format jpeg", async () => {
    const { data: r, response } = await ai.images
      .generate({ model: "dall-e-3", prompt: "A lighthouse at dawn", size: "1024x1024", quality: "hd", style: "vivid" })
      .withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /application\/json/);
    assert.ok(response.headers.get("x-request-id"));
    const [img] = checkImages(r, { as: "url", format: "jpeg", width: 1024, height: 1024, label: "dall-e-3" });
    assert.equal(emulatorSeed(img.bytes), "", "flux-1-schnell takes no seed");
  });

  test("dall-e-2 with no model named (the default) and size auto", async () => {
    const r = await generate({ prompt: "A red bicycle", size: "auto" });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    checkImages(r.json, { as: "url", format: "jpeg", width: 1024, height: 1024, label: "default model" });
  });

  test("gpt-image-1 defaults to b64_json", async () => {
    const r = await ai.images.generate({ model: "gpt-image-1", prompt: "A blue teapot" });
    checkImages(r, { as: "b64_json", format: "jpeg", label: "gpt-image-1" });
  });

  test("response_format overrides the default both ways", async () => {
    const b64 = await ai.images.generate({ model: "dall-e-2", prompt: "A cat", response_format: "b64_json" });
    const [a] = checkImages(b64, { as: "b64_json", format: "jpeg", label: "dall-e-2 b64_json" });
    const url = await ai.images.generate({ model: "gpt-image-1", prompt: "A cat", response_format: "url" });
    const [b] = checkImages(url, { as: "url", format: "jpeg", label: "gpt-image-1 url" });
    assert.ok(a.bytes.length > 100);
    assert.equal(b.type, "image/jpeg");
  });

  test("n=2 on flux-1 gives two images (identical in the emulator: flux-1 takes no seed)", async () => {
    const r = await ai.images.generate({ model: "dall-e-2", prompt: "Two apples", n: 2, response_format: "b64_json" });
    const imgs = checkImages(r, { n: 2, as: "b64_json", format: "jpeg", label: "flux-1 n=2" });
    // Real flux-1-schnell is random per run; the emulator is deterministic without a seed.
    assert.deepEqual(imgs[0].bytes, imgs[1].bytes);
  });

  test("other sizes are a 400 on param size (flux-1 makes 1024x1024 only)", async () => {
    for (const size of ["512x512", "1792x1024", "1024x1792", "256x256"]) {
      const r = await generate({ model: "dall-e-3", prompt: "x", size });
      assert.equal(r.status, 400, size);
      const e = checkErrorBody(r.json, size);
      assert.equal(e.param, "size");
      assert.equal(e.type, "invalid_request_error");
      assert.match(e.message, /1024x1024/);
    }
  });

  test("a flux-1 prompt over 2048 characters is a 400 on param prompt", async () => {
    const r = await generate({ model: "dall-e-3", prompt: "a".repeat(2049) });
    assert.equal(r.status, 400);
    assert.equal(checkErrorBody(r.json).param, "prompt");
  });
});

describe("images: flux-2 (multipart upstream)", () => {
  for (const model of FLUX2) {
    test(`${model}: PNG at the requested size`, async () => {
      const r = await ai.images.generate({ model, prompt: "A fox in the snow", size: "1536x1024" });
      const [img] = checkImages(r, { as: "url", format: "png", width: 1536, height: 1024, label: model });
      assert.match(emulatorSeed(img.bytes), /^\d+$/, "flux-2 receives a seed");
    });
  }

  test("n=3: three distinct images from consecutive seeds", async () => {
    const r = await ai.images.generate({ model: FLUX2[0], prompt: "A fox", n: 3, response_format: "b64_json" });
    const imgs = checkImages(r, { n: 3, as: "b64_json", format: "png", width: 1024, height: 1024, label: "flux-2 n=3" });
    const distinct = new Set(imgs.map((i) => i.bytes.toString("base64")));
    assert.equal(distinct.size, 3, "each image has its own bytes");
    const seeds = imgs.map((i) => Number(emulatorSeed(i.bytes)));
    for (let i = 1; i < seeds.length; i++) assert.equal(seeds[i], (seeds[0] + i) % 2 ** 32, `seed of image ${i}`);
  });

  test("two requests get different seeds (random per request)", async () => {
    const a = await ai.images.generate({ model: FLUX2[0], prompt: "Same prompt", response_format: "b64_json" });
    const b = await ai.images.generate({ model: FLUX2[0], prompt: "Same prompt", response_format: "b64_json" });
    assert.notEqual(a.data[0].b64_json, b.data[0].b64_json);
  });
});

describe("images: stable diffusion family (PNG bytes upstream)", () => {
  for (const model of SD_FAMILY) {
    test(`${model}: PNG at the requested size`, async () => {
      const r = await ai.images.generate({ model, prompt: "A mountain lake", size: "512x768", negative_prompt: "people" });
      checkImages(r, { as: "url", format: "png", width: 512, height: 768, label: model });
    });
  }

  test("n=4 on SDXL: four distinct images", async () => {
    const r = await ai.images.generate({ model: SDXL, prompt: "A mountain lake", n: 4, size: "256x256", response_format: "b64_json" });
    const imgs = checkImages(r, { n: 4, as: "b64_json", format: "png", width: 256, height: 256, label: "sdxl n=4" });
    assert.equal(new Set(imgs.map((i) => i.bytes.toString("base64"))).size, 4);
    assert.equal(new Set(imgs.map((i) => emulatorSeed(i.bytes))).size, 4, "four seeds");
  });

  test("n=10 (the maximum) works", async () => {
    const r = await generate({ model: SDXL, prompt: "Ten", n: 10, size: "256x256", response_format: "b64_json" });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    const imgs = checkImages(r.json, { n: 10, as: "b64_json", format: "png", label: "n=10" });
    assert.equal(new Set(imgs.map((i) => i.bytes.toString("base64"))).size, 10);
  });

  test("2048x2048 (the largest) comes back whole, as a data: URL and as b64_json", async () => {
    const url = await ai.images.generate({ model: SDXL, prompt: "Big", size: "2048x2048" });
    const [a] = checkImages(url, { as: "url", format: "png", width: 2048, height: 2048, label: "2048 url" });
    const b64 = await ai.images.generate({ model: SDXL, prompt: "Big", size: "2048x2048", response_format: "b64_json", n: 2 });
    const [b] = checkImages(b64, { n: 2, as: "b64_json", format: "png", width: 2048, height: 2048, label: "2048 b64" });
    // The PNG ends with its IEND chunk: nothing was cut.
    for (const img of [a, b]) assert.equal(img.bytes.subarray(-8, -4).toString("latin1"), "IEND");
  });

  test("sides outside 256..2048 and malformed sizes are a 400 on param size", async () => {
    for (const size of ["100x100", "255x512", "4096x1024", "2049x2048", "0x0", "big", "1024x", "x1024", "1024*1024", "-512x512"]) {
      const r = await generate({ model: SDXL, prompt: "x", size });
      assert.equal(r.status, 400, `${size}: ${r.text.slice(0, 200)}`);
      assert.equal(checkErrorBody(r.json, size).param, "size", size);
    }
  });
});

describe("images: errors", () => {
  test("[[emu:nsfw]] (Workers AI 3030) is a 400 content_policy_violation on prompt", async () => {
    for (const model of ["dall-e-3", FLUX2[0], SDXL]) {
      const r = await generate({ model, prompt: "Something explicit [[emu:nsfw]]" });
      assert.equal(r.status, 400, model);
      const e = checkErrorBody(r.json, model);
      assert.equal(e.code, "content_policy_violation", model);
      assert.equal(e.param, "prompt", model);
      assert.equal(e.type, "invalid_request_error");
    }
    const err = await thrown(() => ai.images.generate({ model: "dall-e-3", prompt: "x [[emu:nsfw]]" }));
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.code, "content_policy_violation");
  });

  test("[[emu:error=3040]] is a 429 with Retry-After", async () => {
    const r = await generate({ model: "dall-e-3", prompt: "x [[emu:error=3040]]" });
    assert.equal(r.status, 429);
    assert.equal(checkErrorBody(r.json).code, "rate_limit_exceeded");
    assert.match(r.headers.get("retry-after") ?? "", /^\d+$/);
    const err = await thrown(() => ai.images.generate({ model: FLUX2[0], prompt: "x [[emu:error=3040]]", n: 2 }));
    assert.ok(err instanceof OpenAI.RateLimitError);
  });

  test("bad requests are 400s naming the param", async () => {
    for (const [body, param] of [
      [{ model: "dall-e-3" }, "prompt"],
      [{ model: "dall-e-3", prompt: "   " }, "prompt"],
      [{ prompt: "x", n: 0 }, "n"],
      [{ prompt: "x", n: 11 }, "n"],
      [{ prompt: "x", n: -1 }, "n"],
      [{ prompt: "x", n: "2" }, "n"],
      [{ prompt: "x", response_format: "png" }, "response_format"],
      [{ prompt: "x", response_format: "URL" }, "response_format"],
      [{ prompt: "x", model: "gpt-4" }, "model"],
      [{ prompt: "x", model: "text-embedding-3-small" }, "model"],
      [{ prompt: "x", model: "whisper-1" }, "model"],
    ]) {
      const r = await generate(body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text.slice(0, 200)}`);
      assert.equal(checkErrorBody(r.json, JSON.stringify(body)).param, param, JSON.stringify(body));
    }
    const bad = await rawJson(gw, "/v1/images/generations", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
    assert.equal(bad.status, 400);
    checkErrorBody(bad.json, "bad JSON");
  });

  test("an unknown model is a 404 model_not_found", async () => {
    const r = await generate({ prompt: "x", model: "dall-e-9" });
    assert.equal(r.status, 404);
    assert.equal(checkErrorBody(r.json).code, "model_not_found");
    const err = await thrown(() => ai.images.generate({ model: "nope-model", prompt: "x" }));
    assert.ok(err instanceof OpenAI.NotFoundError);
  });

  test("GET on images/generations is a 405", async () => {
    const r = await rawJson(gw, "/v1/images/generations");
    assert.equal(r.status, 405);
    checkErrorBody(r.json);
  });

  test("images/edits and images/variations are 501 endpoint_not_supported", async () => {
    for (const path of ["/v1/images/edits", "/v1/images/variations"]) {
      const r = await rawJson(gw, path, { method: "POST", body: { prompt: "x" } });
      assert.equal(r.status, 501, path);
      const e = checkErrorBody(r.json, path);
      assert.equal(e.code, "endpoint_not_supported");
      assert.match(e.message, new RegExp(path.slice(4)));
    }
  });
});
