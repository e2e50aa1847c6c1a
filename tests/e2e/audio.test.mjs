// End-to-end: POST /v1/audio/transcriptions, /v1/audio/translations (multipart uploads through the
// official `openai` SDK with `toFile`) and /v1/audio/speech, against the Workers AI emulator.
// The emulator "transcribes" printable-ASCII audio bytes as their text (with `[[emu:…]]`
// directives honoured and removed), and times each word 0.35 s long with 0.05 s gaps.
//
// One gateway for the file, with MAX_BODY_BYTES=1000 so the 413 case needs no second gateway;
// every other upload here is far below that.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { toFile } from "openai";
import { OpenAI, startGateway, client, schema, raw, rawJson, checkErrorBody, thrown, API_KEYS, KEY } from "./_support.mjs";

const LIMIT = 1000;

let gw;
let ai;
before(async () => {
  gw = await startGateway({ bindings: { API_KEYS, MAX_BODY_BYTES: String(LIMIT) } });
  ai = client(gw);
});
after(() => gw?.dispose());

const audio = (text, name = "a.mp3") => toFile(Buffer.from(text), name);

/** A multipart upload by hand (fetch + FormData), for what the SDK will not send. */
async function upload(path, fields, file) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) fd.append(k, x);
  if (file !== undefined) fd.set("file", new Blob([file]), "a.mp3");
  const res = await fetch(gw.url + path, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: fd });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { res, status: res.status, headers: res.headers, text, json };
}

/** Parse SRT/VTT cues: [{index?, start, end, text}] with times in ms. */
function cues(body, srt) {
  const sep = srt ? "," : "\\.";
  const re = new RegExp(`(?:^|\\n)(?:(\\d+)\\n)?(\\d\\d):(\\d\\d):(\\d\\d)${sep}(\\d{3}) --> (\\d\\d):(\\d\\d):(\\d\\d)${sep}(\\d{3})\\n([^\\n]+)`, "g");
  const ms = (h, m, s, f) => ((+h * 60 + +m) * 60 + +s) * 1000 + +f;
  return [...body.matchAll(re)].map((m) => ({
    index: m[1] === undefined ? undefined : Number(m[1]),
    start: ms(m[2], m[3], m[4], m[5]),
    end: ms(m[6], m[7], m[8], m[9]),
    text: m[10],
  }));
}

describe("transcriptions: whisper-1 (whisper-large-v3-turbo, base64 upstream)", () => {
  test("json (the default): {text, usage: duration}", async () => {
    const { data: r, response } = await ai.audio.transcriptions
      .create({ file: await audio("hello there friend"), model: "whisper-1" })
      .withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^application\/json/);
    assert.ok(response.headers.get("x-request-id"));
    schema("CreateTranscriptionResponseJson", r, "json");
    assert.equal(r.text, "hello there friend");
    assert.equal(r.usage.type, "duration");
    assert.equal(typeof r.usage.seconds, "number");
    assert.ok(r.usage.seconds > 0, "duration from the model");
  });

  test("explicit json, and language + prompt are accepted", async () => {
    const r = await ai.audio.transcriptions.create({
      file: await audio("bonjour tout le monde", "b.wav"),
      model: "whisper-1",
      response_format: "json",
      language: "fr",
      prompt: "Vocabulary: Zoë",
      temperature: 0,
    });
    schema("CreateTranscriptionResponseJson", r, "json fr");
    assert.equal(r.text, "bonjour tout le monde");
  });

  test("text: a text/plain body", async () => {
    const { data, response } = await ai.audio.transcriptions
      .create({ file: await audio("hello there"), model: "whisper-1", response_format: "text" })
      .withResponse();
    assert.match(response.headers.get("content-type"), /^text\/plain/);
    assert.equal(typeof data, "string");
    assert.equal(data.trim(), "hello there");
  });

  test("verbose_json: task, language, duration, text, segments (and no words unless asked)", async () => {
    const r = await ai.audio.transcriptions.create({ file: await audio("hello there"), model: "whisper-1", response_format: "verbose_json" });
    schema("CreateTranscriptionResponseVerboseJson", r, "verbose_json");
    assert.equal(r.task, "transcribe");
    assert.equal(typeof r.language, "string");
    assert.ok(r.language.length > 0);
    assert.equal(r.text, "hello there");
    assert.ok(r.duration > 0);
    assert.ok(r.segments.length >= 1);
    r.segments.forEach((s, i) => {
      assert.equal(s.id, i);
      assert.ok(s.end >= s.start);
      assert.ok(Array.isArray(s.tokens));
    });
    assert.equal(r.segments.map((s) => s.text.trim()).join(" "), "hello there");
    assert.equal(r.segments.at(-1).end, r.duration);
    assert.equal(r.words, undefined, "words only with timestamp_granularities including word");
    assert.deepEqual(r.usage, { type: "duration", seconds: r.duration });
  });

  test("verbose_json with timestamp_granularities [word, segment]: words in order", async () => {
    const r = await ai.audio.transcriptions.create({
      file: await audio("one two three"),
      model: "whisper-1",
      response_format: "verbose_json",
      timestamp_granularities: ["word", "segment"],
    });
    schema("CreateTranscriptionResponseVerboseJson", r, "verbose_json words");
    assert.deepEqual(r.words.map((w) => w.word), ["one", "two", "three"]);
    for (let i = 0; i < r.words.length; i++) {
      assert.ok(r.words[i].end > r.words[i].start);
      if (i) assert.ok(r.words[i].start >= r.words[i - 1].end);
    }
    assert.equal(r.words.at(-1).end, r.duration);
    const seg = await ai.audio.transcriptions.create({
      file: await audio("one two three"),
      model: "whisper-1",
      response_format: "verbose_json",
      timestamp_granularities: ["segment"],
    });
    schema("CreateTranscriptionResponseVerboseJson", seg, "verbose_json segments");
    assert.equal(seg.words, undefined);
  });

  test("verbose_json language: the language name, as OpenAI sends it", async () => {
    const en = await ai.audio.transcriptions.create({ file: await audio("hello there"), model: "whisper-1", response_format: "verbose_json" });
    const fr = await ai.audio.transcriptions.create({ file: await audio("bonjour"), model: "whisper-1", response_format: "verbose_json", language: "fr" });
    const tr = await ai.audio.translations.create({ file: await audio("bonjour"), model: "whisper-1", response_format: "verbose_json" });
    assert.equal(tr.language, "english");
    assert.equal(en.language, "english");
    assert.equal(fr.language, "french");
  });

  test("vtt: text/vtt starting with WEBVTT, one cue with the text", async () => {
    const { data, response } = await ai.audio.transcriptions
      .create({ file: await audio("hello there friend"), model: "whisper-1", response_format: "vtt" })
      .withResponse();
    assert.match(response.headers.get("content-type"), /^text\/vtt/);
    assert.ok(data.startsWith("WEBVTT"), JSON.stringify(data.slice(0, 40)));
    const cs = cues(data, false);
    assert.ok(cs.length >= 1, data);
    assert.equal(cs.map((c) => c.text.trim()).join(" "), "hello there friend");
    assert.equal(cs[0].start, 0);
    assert.ok(cs.at(-1).end > 0);
  });

  test("srt: numbered cues with comma milliseconds", async () => {
    const data = await ai.audio.transcriptions.create({ file: await audio("hello there friend"), model: "whisper-1", response_format: "srt" });
    assert.equal(typeof data, "string");
    assert.match(data, /^1\n00:00:00,000 --> 00:00:\d\d,\d{3}\n/);
    assert.doesNotMatch(data, /WEBVTT/);
    assert.doesNotMatch(data, /\d\d:\d\d:\d\d\.\d{3}/, "SRT uses a comma, not a dot");
    const cs = cues(data, true);
    assert.ok(cs.length >= 1);
    cs.forEach((c, i) => assert.equal(c.index, i + 1, "cues numbered from 1"));
    assert.equal(cs.map((c) => c.text.trim()).join(" "), "hello there friend");
    // 3 words: 0.35 s each with 0.05 s gaps in the emulator → ends at 1.150 s.
    assert.equal(cs.at(-1).end, 1150);
  });

  test("srt, vtt and json agree on the duration", async () => {
    const file = () => audio("a b c d e");
    const json = await ai.audio.transcriptions.create({ file: await file(), model: "whisper-1" });
    schema("CreateTranscriptionResponseJson", json, "json");
    const srt = await ai.audio.transcriptions.create({ file: await file(), model: "whisper-1", response_format: "srt" });
    const vtt = await ai.audio.transcriptions.create({ file: await file(), model: "whisper-1", response_format: "vtt" });
    assert.equal(cues(srt, true).at(-1).end, Math.round(json.usage.seconds * 1000));
    assert.equal(cues(vtt, false).at(-1).end, Math.round(json.usage.seconds * 1000));
  });

  test("silent audio (empty transcript): empty text, and subtitles with no empty cue", async () => {
    const json = await ai.audio.transcriptions.create({ file: await audio("   "), model: "whisper-1" });
    schema("CreateTranscriptionResponseJson", json, "silence");
    assert.equal(json.text, "");
    const srt = await ai.audio.transcriptions.create({ file: await audio("   "), model: "whisper-1", response_format: "srt" });
    assert.equal(srt.trim(), "", JSON.stringify(srt));
  });

  test("binary (non-text) audio is uploaded intact", async () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff));
    const r = await ai.audio.transcriptions.create({ file: await toFile(bytes, "a.webm"), model: "whisper-1" });
    schema("CreateTranscriptionResponseJson", r, "binary");
    assert.equal(r.text, "Emulated transcription of 300 bytes of audio.");
  });
});

describe("transcriptions: @cf/openai/whisper (byte list upstream)", () => {
  test("json, text and verbose_json with words", async () => {
    const model = "@cf/openai/whisper";
    const json = await ai.audio.transcriptions.create({ file: await audio("hello there"), model });
    schema("CreateTranscriptionResponseJson", json, "whisper json");
    assert.equal(json.text, "hello there");
    assert.equal(json.usage.type, "duration");
    const text = await ai.audio.transcriptions.create({ file: await audio("hello there"), model, response_format: "text" });
    assert.equal(text.trim(), "hello there");
    const verbose = await ai.audio.transcriptions.create({
      file: await audio("hello there"),
      model,
      response_format: "verbose_json",
      timestamp_granularities: ["word"],
    });
    schema("CreateTranscriptionResponseVerboseJson", verbose, "whisper verbose_json");
    assert.equal(verbose.text, "hello there");
    assert.deepEqual(verbose.words.map((w) => w.word), ["hello", "there"]);
    assert.equal(verbose.duration, verbose.words.at(-1).end);
  });

  test("binary audio survives the byte list", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const r = await ai.audio.transcriptions.create({ file: await toFile(bytes, "a.wav"), model: "@cf/openai/whisper" });
    schema("CreateTranscriptionResponseJson", r, "whisper binary");
    assert.equal(r.text, "Emulated transcription of 256 bytes of audio.");
  });

  test("srt and vtt are built from the text when the model gives no segments", async () => {
    const srt = await ai.audio.transcriptions.create({ file: await audio("hello there"), model: "@cf/openai/whisper", response_format: "srt" });
    assert.deepEqual(cues(srt, true).map((c) => [c.index, c.text]), [[1, "hello there"]]);
    const vtt = await ai.audio.transcriptions.create({ file: await audio("hello there"), model: "@cf/openai/whisper", response_format: "vtt" });
    assert.ok(vtt.startsWith("WEBVTT"));
    assert.equal(cues(vtt, false)[0].text, "hello there");
  });
});

describe("translations", () => {
  test("whisper-1 json and verbose_json (task translate, language english)", async () => {
    const r = await ai.audio.translations.create({ file: await audio("bonjour le monde"), model: "whisper-1" });
    schema("CreateTranslationResponseJson", r, "translation json");
    assert.equal(typeof r.text, "string");
    assert.equal(r.text, "bonjour le monde"); // the emulator does not translate
    const v = await ai.audio.translations.create({ file: await audio("bonjour"), model: "whisper-1", response_format: "verbose_json" });
    schema("CreateTranslationResponseVerboseJson", v, "translation verbose_json");
    assert.equal(v.task, "translate");
    assert.equal(v.language, "english");
    const text = await ai.audio.translations.create({ file: await audio("bonjour"), model: "whisper-1", response_format: "text" });
    assert.equal(text.trim(), "bonjour");
  });

  test("@cf/openai/whisper cannot translate: 400 on param model", async () => {
    const r = await upload("/v1/audio/translations", { model: "@cf/openai/whisper" }, "bonjour");
    assert.equal(r.status, 400);
    const e = checkErrorBody(r.json);
    assert.equal(e.param, "model");
    assert.match(e.message, /translat/);
    const err = await thrown(async () => ai.audio.translations.create({ file: await audio("x"), model: "@cf/openai/whisper" }));
    assert.ok(err instanceof OpenAI.BadRequestError);
  });
});

describe("transcriptions: errors", () => {
  test("no file part (or an empty one) is a 400 on param file", async () => {
    for (const file of [undefined, ""]) {
      const r = await upload("/v1/audio/transcriptions", { model: "whisper-1" }, file);
      assert.equal(r.status, 400, JSON.stringify(file));
      assert.equal(checkErrorBody(r.json).param, "file");
    }
  });

  test("a JSON body instead of multipart is a 400 saying to send multipart/form-data", async () => {
    const r = await rawJson(gw, "/v1/audio/transcriptions", { method: "POST", body: { model: "whisper-1", file: "aGVsbG8=" } });
    assert.equal(r.status, 400);
    const e = checkErrorBody(r.json);
    assert.equal(e.type, "invalid_request_error");
    assert.match(e.message, /multipart\/form-data/);
    assert.match(e.message, /file/);
  });

  test("a bad response_format is a 400 on param response_format", async () => {
    for (const f of ["mp3", "xml", "JSON"]) {
      const r = await upload("/v1/audio/transcriptions", { model: "whisper-1", response_format: f }, "hi");
      assert.equal(r.status, 400, f);
      assert.equal(checkErrorBody(r.json, f).param, "response_format");
    }
  });

  test("a chat model, a missing model and an unknown model", async () => {
    for (const model of ["gpt-4", "tts-1", "text-embedding-3-small"]) {
      const r = await upload("/v1/audio/transcriptions", { model }, "hi");
      assert.equal(r.status, 400, model);
      assert.equal(checkErrorBody(r.json, model).param, "model");
    }
    const none = await upload("/v1/audio/transcriptions", {}, "hi");
    assert.equal(none.status, 400);
    assert.equal(checkErrorBody(none.json).param, "model");
    const err = await thrown(async () => ai.audio.transcriptions.create({ file: await audio("hi"), model: "whisper-9" }));
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.code, "model_not_found");
  });

  test("directives in the audio: [[emu:error=3040]] is a 429 with Retry-After (both models)", async () => {
    for (const model of ["whisper-1", "@cf/openai/whisper"]) {
      const r = await upload("/v1/audio/transcriptions", { model }, "hi [[emu:error=3040]]");
      assert.equal(r.status, 429, model);
      assert.equal(checkErrorBody(r.json, model).code, "rate_limit_exceeded");
      assert.match(r.headers.get("retry-after") ?? "", /^\d+$/);
    }
    const err = await thrown(async () => ai.audio.transcriptions.create({ file: await audio("hi [[emu:error=3040]]"), model: "whisper-1" }));
    assert.ok(err instanceof OpenAI.RateLimitError);
  });

  test("directives in the audio are removed from the transcript", async () => {
    const r = await ai.audio.transcriptions.create({ file: await audio("hi there [[emu:delay=1]]"), model: "whisper-1" });
    schema("CreateTranscriptionResponseJson", r, "directives");
    assert.equal(r.text, "hi there");
  });

  test("an upload over MAX_BODY_BYTES is a 413", async () => {
    const big = Buffer.alloc(5000, 0x61);
    const r = await upload("/v1/audio/transcriptions", { model: "whisper-1" }, big);
    assert.equal(r.status, 413);
    const e = checkErrorBody(r.json);
    assert.equal(e.code, "request_too_large");
    assert.match(e.message, new RegExp(String(LIMIT)));
    const err = await thrown(async () => ai.audio.transcriptions.create({ file: await toFile(big, "big.mp3"), model: "whisper-1" }));
    assert.equal(err.status, 413);
  });

  test("an oversized upload without Content-Length (chunked) is a 413 too", async () => {
    const fd = new FormData();
    fd.set("model", "whisper-1");
    fd.set("file", new Blob([Buffer.alloc(5000, 0x61)]), "big.mp3");
    const req = new Request("http://x/", { method: "POST", body: fd });
    const bytes = new Uint8Array(await req.arrayBuffer());
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += 700) c.enqueue(bytes.subarray(i, i + 700));
        c.close();
      },
    });
    const res = await raw(gw, "/v1/audio/transcriptions", { method: "POST", body, headers: { "content-type": req.headers.get("content-type") } });
    const json = await res.json();
    assert.equal(res.status, 413);
    assert.equal(checkErrorBody(json).code, "request_too_large");
  });
});

describe("speech: tts-1 (melotts)", () => {
  const isMp3 = (b) => (b[0] === 0xff && (b[1] & 0xe0) === 0xe0) || b.subarray(0, 3).toString("latin1") === "ID3";

  test("SDK: audio/mpeg bytes starting with an MP3 frame sync or ID3", async () => {
    const res = await ai.audio.speech.create({ model: "tts-1", input: "Hello world", voice: "alloy" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^audio\/mpeg/);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.ok(bytes.length > 100, `${bytes.length} bytes`);
    assert.ok(isMp3(bytes), `MP3 start, got ${bytes.subarray(0, 4).toString("hex")}`);
    assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xfb], "MPEG-1 Layer III frame sync");
  });

  test("tts-1-hd, response_format mp3, voice/speed/instructions are accepted", async () => {
    const res = await ai.audio.speech.create({ model: "tts-1-hd", input: "Hello there", voice: "nova", response_format: "mp3", speed: 1.25, instructions: "Cheerful" });
    assert.match(res.headers.get("content-type"), /^audio\/mpeg/);
    assert.ok(isMp3(Buffer.from(await res.arrayBuffer())));
  });

  test("longer input gives longer audio", async () => {
    const short = Buffer.from(await (await ai.audio.speech.create({ model: "tts-1", input: "Hi there", voice: "alloy" })).arrayBuffer());
    const long = Buffer.from(await (await ai.audio.speech.create({ model: "tts-1", input: "word ".repeat(40), voice: "alloy" })).arrayBuffer());
    assert.ok(long.length > short.length, `${long.length} > ${short.length}`);
  });

  test("the melotts `lang` extension is accepted", async () => {
    const res = await ai.audio.speech.create({ model: "tts-1", input: "Bonjour tout le monde", voice: "alloy", lang: "fr" });
    assert.equal(res.status, 200);
    assert.ok(isMp3(Buffer.from(await res.arrayBuffer())));
  });

  test("bad requests are 400s naming the param", async () => {
    for (const [body, param] of [
      [{ model: "tts-1", input: "hi", voice: "alloy", response_format: "wav" }, "response_format"],
      [{ model: "tts-1", input: "hi", voice: "alloy", response_format: "opus" }, "response_format"],
      [{ model: "tts-1", input: "hi", voice: "alloy", stream_format: "sse" }, "stream_format"],
      [{ model: "tts-1", input: "", voice: "alloy" }, "input"],
      [{ model: "tts-1", input: "   ", voice: "alloy" }, "input"],
      [{ model: "tts-1", voice: "alloy" }, "input"],
      [{ model: "gpt-4", input: "hi", voice: "alloy" }, "model"],
      [{ model: "whisper-1", input: "hi", voice: "alloy" }, "model"],
      [{ input: "hi", voice: "alloy" }, "model"],
    ]) {
      const r = await rawJson(gw, "/v1/audio/speech", { method: "POST", body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text.slice(0, 200)}`);
      assert.match(r.headers.get("content-type"), /application\/json/);
      assert.equal(checkErrorBody(r.json, JSON.stringify(body)).param, param, JSON.stringify(body));
    }
    const err = await thrown(() => ai.audio.speech.create({ model: "tts-1", input: "hi", voice: "alloy", response_format: "wav" }));
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.param, "response_format");
  });

  test("stream_format audio (the default) is accepted", async () => {
    const res = await ai.audio.speech.create({ model: "tts-1", input: "Hello", voice: "alloy", stream_format: "audio" });
    assert.equal(res.status, 200);
  });

  test("an unknown model is a 404, [[emu:error=3040]] a 429", async () => {
    const nf = await rawJson(gw, "/v1/audio/speech", { method: "POST", body: { model: "tts-9", input: "hi", voice: "alloy" } });
    assert.equal(nf.status, 404);
    assert.equal(checkErrorBody(nf.json).code, "model_not_found");
    const rl = await rawJson(gw, "/v1/audio/speech", { method: "POST", body: { model: "tts-1", input: "hi [[emu:error=3040]]", voice: "alloy" } });
    assert.equal(rl.status, 429);
    assert.equal(checkErrorBody(rl.json).code, "rate_limit_exceeded");
  });
});
