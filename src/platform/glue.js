// The few lines of JavaScript the Rust worker needs. Values cross the JS/wasm boundary as
// strings and bytes (one call per stream chunk), which is far cheaper than converting objects
// or driving Rust futures per chunk (see ../shared/toolchain.md, "Streaming cost").

/**
 * Calls the Workers AI binding. `optionsJson` is its third argument (the AI Gateway), or "".
 * Returns a ReadableStream, bytes, or the output as a JSON string.
 */
export async function aiRun(ai, model, inputJson, optionsJson, timeoutMs) {
  const inputs = JSON.parse(inputJson);
  return outputOf(await runWithin(ai, model, inputs, optionsJson, timeoutMs));
}

// The prefix Rust recognises (error.rs TIMEOUT_MARK) on a call that outlived UPSTREAM_TIMEOUT_MS.
const TIMEOUT_MARK = "gateway-timeout:";

/** `ai.run`, rejected with a marked error if it has not answered within `timeoutMs` (0: no limit). */
function runWithin(ai, model, inputs, optionsJson, timeoutMs) {
  const options = optionsJson ? JSON.parse(optionsJson) : undefined;
  const run = ai.run(model, inputs, options);
  if (!timeoutMs) return run;
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${TIMEOUT_MARK} ${model} did not answer within ${timeoutMs} ms (UPSTREAM_TIMEOUT_MS).`)),
      timeoutMs,
    );
  });
  return Promise.race([run, expired]).finally(() => clearTimeout(timer));
}

/**
 * Runs a model whose input is a multipart form (flux-2): `fieldsJson` is a list of
 * [name, value] pairs. The form is serialised by a Response, which also gives its boundary.
 */
export async function aiRunForm(ai, model, fieldsJson, optionsJson, timeoutMs) {
  const form = new FormData();
  for (const [name, value] of JSON.parse(fieldsJson)) form.append(name, value);
  const encoded = new Response(form);
  const multipart = { body: encoded.body, contentType: encoded.headers.get("content-type") };
  return outputOf(await runWithin(ai, model, { multipart }, optionsJson, timeoutMs));
}

function outputOf(output) {
  if (output instanceof ReadableStream || output instanceof Uint8Array) return output;
  if (output instanceof ArrayBuffer) return new Uint8Array(output);
  return JSON.stringify(output ?? null);
}

/** All bytes of a stream (an image model's PNG answer). */
export async function readBytes(stream) {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The binding's model list as JSON, or "" when this binding has no `models()`. */
export async function aiModels(ai) {
  if (typeof ai.models !== "function") return "";
  return JSON.stringify(await ai.models({ per_page: 1000 }));
}

/**
 * The request's method, URL and the headers named in `names` (routes.rs
 * `RequestHeader::IN_HEAD`) as lines: method, URL, then a name line and a value line per header
 * present. HTTP forbids line breaks in all of them. One call instead of one per header read; a
 * `get` per name instead of iterating every header, which made an array and two strings per
 * header (~55 K instructions more per request).
 */
export function requestHead(request, names) {
  const headers = request.headers;
  let head = `${request.method}\n${request.url}\n`;
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) head += `${name}\n${value}\n`;
  }
  return head;
}

/** One header the head does not carry; undefined when absent. */
export const requestHeader = (request, name) => request.headers.get(name) ?? undefined;

/** Response headers from `head`: a name line and a value line per header. */
function headersOf(head) {
  const headers = new Headers();
  const lines = head.split("\n");
  for (let i = 0; i + 1 < lines.length; i += 2) headers.set(lines[i], lines[i + 1]);
  return headers;
}

/**
 * The gateway's answer (http.rs): `head` holds its headers (the Rust side leaves out values that
 * `Headers` would refuse); the body is `stream`, else a copy of `bytes` (a view into wasm memory,
 * which is reused once the call returns), else none. (Headers set one by one, or a plain object:
 * a list of [name, value] pairs cost ~40 K more instructions, converted by the runtime element by
 * element.)
 */
export function respond(status, head, bytes, stream) {
  const body = stream ?? (bytes.length ? bytes.slice() : null);
  return new Response(body, { status, headers: headersOf(head) });
}

/** The same for a text body, in one string: the head, a NUL, then the text. */
export function respondText(status, headAndText) {
  const cut = headAndText.indexOf("\0");
  const headers = headersOf(headAndText.slice(0, cut));
  return new Response(headAndText.slice(cut + 1), { status, headers });
}

/** Reports `promise`'s outcome to `onSettled(id, fulfilled, value)` (promise.rs). */
export function watchPromise(promise, id, onSettled) {
  promise.then(
    (value) => onSettled(id, true, value),
    (error) => onSettled(id, false, error),
  );
}

/** `env[name]`, or undefined when it is null or absent. */
export const bindingOf = (env, name) => env[name] ?? undefined;

/** The message of anything thrown, as the binding's errors carry their code in it. */
export function errorMessage(error) {
  if (error && typeof error === "object" && "message" in error) return String(error.message);
  return String(error);
}

const encoder = new TextEncoder();

// Streams the gateway made → a promise settled when each ends or is cancelled. The fetch entry
// hands it to ctx.waitUntil: without it workerd never runs a stream's cancel() after the client
// disconnects, so its translator (and the request's log line) would never be released.
const settledStreams = new WeakMap();

/** The promise a stream of ours settles when it ends or is cancelled; undefined for others. */
export const settledOf = (stream) => settledStreams.get(stream);

function settling() {
  let settle;
  const settled = new Promise((resolve) => (settle = resolve));
  return { settled, settle };
}

const toBytes = (value) => (typeof value === "string" ? encoder.encode(value) : value);

/**
 * Pipes `upstream` through `translator` (a Rust object with push(bytes) -> bytes,
 * finish() -> bytes, fail(message) -> bytes, storedRecord() -> string and free()).
 * With a KV namespace `kv`, a completed stream's record is stored under `key` before the
 * client's stream closes (a stored Responses API response).
 *
 * Resolves once the translator has produced its first output, so that an upstream failure before
 * the client would see anything rejects here and becomes an HTTP error, not a 200 stream with only
 * an error event. After that a pump writes each translated chunk into a workerd-native
 * IdentityTransformStream: a write resolves only when the client has taken the chunk, so nothing
 * is read from upstream ahead of the client and memory stays flat however long the stream is.
 * (A JS ReadableStream or TransformStream costs about 15 µs more CPU per chunk than this.)
 */
export async function translateStream(upstream, translator, kv, key, ttlSeconds, timeoutMs) {
  const reader = upstream.getReader();
  let abandoned = false; // set when the first event took too long or the client went away
  const store = async () => {
    const record = kv ? translator.storedRecord() : "";
    if (!record) return;
    try {
      await kv.put(key, record, { expirationTtl: ttlSeconds });
    } catch (error) {
      console.error(`could not store ${key}: ${errorMessage(error)}`);
    }
  };
  // The next bytes for the client: reads (and translates) until there is output or an end.
  const next = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (abandoned) return { out: new Uint8Array(0), done: true };
      if (done) {
        const out = translator.finish();
        await store();
        return { out, done: true };
      }
      const out = translator.push(toBytes(value));
      if (out.length) return { out, done: false };
    }
  };
  let first;
  let timer;
  try {
    // UPSTREAM_TIMEOUT_MS bounds the wait for the first event too, not only for the stream.
    const expired = () =>
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${TIMEOUT_MARK} the stream sent no event within ${timeoutMs} ms (UPSTREAM_TIMEOUT_MS).`)),
          timeoutMs,
        );
      });
    first = await (timeoutMs ? Promise.race([next(), expired()]) : next());
  } catch (error) {
    abandoned = true;
    translator.free();
    reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  // The client went away: end a read that may be waiting on a slow upstream, and stop it.
  writer.closed.catch((reason) => {
    abandoned = true;
    reader.cancel(reason).catch(() => {});
  });
  const pump = async () => {
    let step = first;
    try {
      for (;;) {
        // A rejected write means the client went away (cancelled): stop the upstream too.
        if (step.out.length) await writer.write(step.out);
        if (step.done) break;
        try {
          step = await next();
        } catch (error) {
          step = { out: translator.fail(errorMessage(error)), done: true };
          reader.cancel(error).catch(() => {});
        }
      }
      await writer.close();
    } catch (reason) {
      reader.cancel(reason).catch(() => {});
      writer.abort(reason).catch(() => {});
    } finally {
      translator.free();
    }
  };
  settledStreams.set(readable, pump());
  return readable;
}

/**
 * Fetches `url` for the gateway (an image a client named). Resolves to [status, bytes]; bytes is
 * empty when the body is larger than `maxBytes` by its Content-Length (not read then).
 */
export async function fetchBytes(url, maxBytes) {
  const response = await fetch(url, { redirect: "follow" });
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    response.body?.cancel().catch(() => {});
    return [response.status, new Uint8Array(0), true];
  }
  return [response.status, new Uint8Array(await response.arrayBuffer()), false];
}

/** KV reads and writes for stored responses (`kv` is the GATEWAY_KV binding). */
export const kvGet = (kv, key) => kv.get(key);
export const kvPut = (kv, key, value, ttlSeconds) => kv.put(key, value, { expirationTtl: ttlSeconds });
export const kvDelete = (kv, key) => kv.delete(key);

/** A ReadableStream holding `bytes` as one chunk. */
export function streamOf(bytes) {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/**
 * Reads a multipart/form-data request (an audio upload). Resolves to [fieldsJson, fileBytes]:
 * text fields by name (names ending in `[]` collect into lists), and the `file` part's bytes
 * (null when absent). Rejects with a readable message when the body is not a form.
 */
export async function readUploadForm(request) {
  let form;
  try {
    form = await request.formData();
  } catch (error) {
    throw new Error(`the body is not multipart/form-data (${errorMessage(error)})`);
  }
  const fields = {};
  let file = null;
  for (const [name, value] of form) {
    if (typeof value !== "string") {
      if (name === "file") file = value;
      continue;
    }
    if (name.endsWith("[]")) (fields[name] ??= []).push(value);
    else fields[name] = value;
  }
  return [JSON.stringify(fields), file ? new Uint8Array(await file.arrayBuffer()) : null];
}

/** Runs whisper with `{audio: [byte values]}`, its documented input, built here from the bytes. */
export async function aiRunByteList(ai, model, bytes, optionsJson, timeoutMs) {
  return outputOf(await runWithin(ai, model, { audio: Array.from(bytes) }, optionsJson, timeoutMs));
}

/** One request against the Workers Rate Limiting binding: true when allowed. */
export async function rateLimit(limiter, key) {
  const { success } = await limiter.limit({ key });
  return success;
}

/** SHA-256 of a string, as lowercase hex (stored keys are looked up by it, never by the key). */
export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * POSTs `body` to an OpenAI-compatible upstream with the gateway's own key; none of the client's
 * headers are forwarded. Resolves to the upstream's Response, whose status, content type and body
 * stream (never buffered) the gateway answers with. `timeoutMs` bounds the wait for the
 * upstream's headers only, so a long stream is not cut off.
 */
export async function upstreamFetch(url, key, body, timeoutMs) {
  const controller = new AbortController();
  const timer = timeoutMs ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body,
      signal: controller.signal,
    });
  } catch (error) {
    if (controller.signal.aborted)
      throw new Error(`${TIMEOUT_MARK} ${new URL(url).host} did not answer within ${timeoutMs} ms (UPSTREAM_TIMEOUT_MS).`);
    throw new Error(`could not reach ${new URL(url).host}: ${errorMessage(error)}`);
  } finally {
    clearTimeout(timer);
  }
  return response;
}

/** The body of a Response as text (an upstream's error, or a whole answer to keep). */
export const responseText = (response) => response.text();

// The response cache without GATEWAY_KV: the Cache API, keyed by a URL that never leaves the
// worker. (It is a no-op on *.workers.dev; KV works everywhere.)
const cacheUrl = (key) => `https://response-cache.openai-to-workers-ai.invalid/${key}`;

/** A cached value (the text put under `key`), or undefined. */
export async function cacheGet(key) {
  const hit = await caches.default.match(cacheUrl(key));
  return hit ? hit.text() : undefined;
}

export async function cachePut(key, value, ttlSeconds) {
  const headers = { "content-type": "application/json", "cache-control": `max-age=${ttlSeconds}` };
  await caches.default.put(cacheUrl(key), new Response(value, { headers }));
}

// An error event in an OpenAI chat stream (`data: {"error":…}`) or a Responses stream.
const FAILED_STREAM = /(^|\n)(data: \{"error":|event: (error|response\.failed)\n)/;

/**
 * Passes `stream` through to the client and, when it ends normally, stores
 * `{...meta, response: {...meta.response, body: <all text>}}` in `kv` under `key` (an idempotent
 * stream, replayed as the same events). A stream that ended with an error event releases the key
 * instead, so a retry runs again. If the client goes away first nothing is stored, and the claim
 * on the key expires by itself.
 */
export function keepStream(stream, kv, key, metaJson, ttlSeconds) {
  const decoder = new TextDecoder();
  let text = "";
  const kept = stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        text += decoder.decode(chunk, { stream: true });
        controller.enqueue(chunk);
      },
      async flush() {
        text += decoder.decode();
        const meta = JSON.parse(metaJson);
        meta.response.body = text;
        try {
          if (FAILED_STREAM.test(text)) await kv.delete(key);
          else await kv.put(key, JSON.stringify(meta), { expirationTtl: ttlSeconds });
        } catch (error) {
          console.error(`could not keep the idempotent stream ${key}: ${errorMessage(error)}`);
        }
      },
    }),
  );
  if (settledStreams.has(stream)) settledStreams.set(kept, settledStreams.get(stream));
  return kept;
}

/**
 * Passes an upstream's stream through unchanged and frees `guard` (which holds the request's log
 * line) when it ends, fails or the client cancels it, so the line is written then. The stream's
 * last 2 KB of text go to `guard.finish` first: its `usage` chunk, if any, is near the end.
 */
export function guardStream(upstream, guard) {
  const reader = upstream.getReader();
  const decoder = new TextDecoder();
  let tail = "";
  let freed = false;
  const { settled, settle } = settling();
  const release = (ended) => {
    if (freed) return;
    freed = true;
    if (ended) guard.finish(tail);
    guard.free();
    settle();
  };
  const stream = new ReadableStream(
    {
      async pull(controller) {
        try {
          const { value, done } = await reader.read();
          if (done) {
            release(true);
            controller.close();
            return;
          }
          tail = (tail + decoder.decode(value, { stream: true })).slice(-2048);
          controller.enqueue(value);
        } catch (error) {
          release(false);
          controller.error(error);
        }
      },
      cancel(reason) {
        release(false);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  settledStreams.set(stream, settled);
  return stream;
}

/** `length` (at most 65,536) random bytes from the runtime's CSPRNG. */
export function randomBytes(length) {
  return crypto.getRandomValues(new Uint8Array(length));
}
