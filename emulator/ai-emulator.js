const CATALOGUE = globalThis.__EMULATOR_CATALOGUE__ ?? [];
// ^ line 1 is replaced by emulator/load.mjs (emulatorModuleSource) with the inlined catalogue.
//
// Local Workers AI emulator: a stand-in for `env.AI`, loaded by miniflare as a wrapped binding.
// ONE self-contained ES module, no imports (workerd wrapped-binding modules must be single modules).
// Default export: (env) => new Ai(env). See emulator/README.md for the steering convention.

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Documented Workers AI errors (cloudflare-docs workers-ai/platform/errors.mdx), plus 5006 and 3030. */
const ERRORS = {
  5007: { http: 400, msg: (c) => `No such model ${c.model} or task` },
  5004: { http: 400, msg: () => "Invalid data type for base64 input: string" },
  3039: { http: 400, msg: () => "Finetune is missing required files (model.safetensors and config.json) " },
  3003: { http: 400, msg: () => "Request is missing headers or body: body" },
  5018: { http: 403, msg: () => "The account is not allowed to access this model" },
  5016: { http: 403, msg: () => "User has not agreed to Llama3.2 model terms" },
  3023: { http: 403, msg: () => "Service unavailable for account" },
  3041: { http: 403, msg: () => "The account is not allowed to access this model" },
  5019: { http: 405, msg: () => "Request trying to use deprecated SDK version" },
  5005: { http: 405, msg: (c) => `The model ${c.model} does not support LoRa inference` },
  3042: { http: 404, msg: () => "The model name is invalid" },
  3006: { http: 413, msg: () => "Request is too large" },
  3007: { http: 408, msg: () => "Request timeout" },
  3008: { http: 408, msg: () => "Request was aborted" },
  3036: {
    http: 429,
    msg: () =>
      "You have used up your daily free allocation of 10,000 neurons. Please upgrade to Cloudflare's Workers Paid plan if you would like to continue usage.",
  },
  3040: { http: 429, msg: () => "No more data centers to forward the request to" },
  // Not in the documented table; seen in the wild:
  5006: { http: 400, msg: () => "Error: oneOf at '/' not met" },
  3030: { http: 400, msg: () => "Input prompt contains NSFW content." },
};

class AiError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = "AiError";
    this.code = code;
    this.internalCode = code;
    this.httpCode = ERRORS[code]?.http ?? 500;
  }
}

function codedError(code, ctx = {}) {
  const def = ERRORS[code];
  return new AiError(code, def ? def.msg(ctx) : "Emulated Workers AI error");
}

// ---------------------------------------------------------------------------------------------
// Small utilities (deterministic hashing, base64, sleep)
// ---------------------------------------------------------------------------------------------

const enc = new TextEncoder();
const dec = new TextDecoder();
const FIXED_CREATED = 1767225600; // 2026-01-01T00:00:00Z: fixed so outputs are reproducible

function fnv1a(str) {
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
function hex8(n) {
  return (n >>> 0).toString(16).padStart(8, "0");
}
/** 24 hex chars derived from a string. */
function hashId(str) {
  return hex8(fnv1a(str)) + hex8(fnv1a("a" + str)) + hex8(fnv1a("b" + str));
}
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function stableStringify(v) {
  if (v === undefined) return "null";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(stableStringify).join(",") + "]";
  if (isBinary(v)) return `"<binary:${binaryLength(v)}>"`;
  return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + stableStringify(v[k])).join(",") + "}";
}
function bytesToBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
function base64ToBytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function isBinary(v) {
  return (
    v instanceof ArrayBuffer ||
    ArrayBuffer.isView(v) ||
    (typeof ReadableStream !== "undefined" && v instanceof ReadableStream) ||
    (typeof Blob !== "undefined" && v instanceof Blob) ||
    (typeof FormData !== "undefined" && v instanceof FormData)
  );
}
function binaryLength(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return v.byteLength;
  if (typeof Blob !== "undefined" && v instanceof Blob) return v.size;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Input normalisation: what the real binding sends is JSON.stringify(inputs).
// ---------------------------------------------------------------------------------------------

let warnedMap = false;
/** JSON semantics (Map -> {}, undefined dropped, toJSON honoured) but binary values kept as-is. */
function normalizeInputs(v, inArray = false) {
  if (v === undefined || typeof v === "function" || typeof v === "symbol") return inArray ? null : undefined;
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isFinite(v)) return null;
    if (typeof v === "bigint") return Number(v);
    return v;
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v); // typed arrays -> number[]
  if (isBinary(v)) return v;
  if (v instanceof Map) {
    if (!warnedMap) {
      warnedMap = true;
      console.warn(
        "[ai-emulator] inputs contain a JS Map (serde_wasm_bindgen's default for maps); the real binding JSON-serialises it as {}. Use serialize_maps_as_objects(true).",
      );
    }
    return {};
  }
  if (typeof v.toJSON === "function") return normalizeInputs(v.toJSON(), inArray);
  if (Array.isArray(v)) return v.map((x) => normalizeInputs(x, true));
  const out = {};
  for (const k of Object.keys(v)) {
    const n = normalizeInputs(v[k]);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON-schema validator (subset), real-service wording for 5006 errors
// ---------------------------------------------------------------------------------------------

function typeOfValue(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "object") return "object";
  return typeof v;
}
function typeMatches(t, v, schema) {
  const actual = typeOfValue(v);
  if (t === actual) return true;
  if (t === "number" && actual === "integer") return true;
  if (t === "string" && schema.format === "binary" && isBinary(v)) return true;
  return false;
}
function childPath(path, key) {
  return (path === "/" ? "" : path) + "/" + key;
}

/** Returns a list of error strings (empty = valid). */
function validate(schema, value, path = "/") {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return [];
  const errors = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, value, schema))) {
      return [`Type mismatch of '${path}', '${types.join(",")}' not in '${typeOfValue(value)}'`];
    }
  }
  if (schema.enum !== undefined && Array.isArray(schema.enum)) {
    if (!schema.enum.some((e) => stableStringify(e) === stableStringify(value))) {
      errors.push(`Value of '${path}' not in enum '${schema.enum.join(",")}'`);
    }
  }
  if (schema.const !== undefined && stableStringify(schema.const) !== stableStringify(value)) {
    errors.push(`Value of '${path}' does not match const`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum)
      errors.push(`Value of '${path}' (${value}) is less than minimum ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum)
      errors.push(`Value of '${path}' (${value}) is greater than maximum ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum)
      errors.push(`Value of '${path}' (${value}) is not greater than ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum)
      errors.push(`Value of '${path}' (${value}) is not less than ${schema.exclusiveMaximum}`);
  }
  if (typeof value === "string") {
    const len = [...value].length;
    if (typeof schema.minLength === "number" && len < schema.minLength)
      errors.push(`String at '${path}' is shorter than minLength ${schema.minLength}`);
    if (typeof schema.maxLength === "number" && len > schema.maxLength)
      errors.push(`String at '${path}' is longer than maxLength ${schema.maxLength}`);
    if (typeof schema.pattern === "string") {
      let re = null;
      try {
        re = new RegExp(schema.pattern, "u");
      } catch {
        re = null;
      }
      if (re && !re.test(value)) errors.push(`String at '${path}' does not match pattern '${schema.pattern}'`);
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems)
      errors.push(`Array at '${path}' has fewer than minItems ${schema.minItems}`);
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
      errors.push(`Array at '${path}' has more than maxItems ${schema.maxItems}`);
    if (schema.items && typeof schema.items === "object" && !Array.isArray(schema.items)) {
      value.forEach((item, i) => errors.push(...validate(schema.items, item, childPath(path, i))));
    }
  }
  if (value && typeof value === "object" && !Array.isArray(value) && !isBinary(value)) {
    if (Array.isArray(schema.required)) {
      const missing = schema.required.filter((k) => typeof k === "string" && !(k in value));
      if (missing.length) errors.push(`required properties at '${path}' are '${schema.required.join(",")}'`);
    }
    const props = schema.properties && typeof schema.properties === "object" ? schema.properties : {};
    for (const [k, sub] of Object.entries(props)) {
      if (k in value && sub && typeof sub === "object" && !Array.isArray(sub)) {
        errors.push(...validate(sub, value[k], childPath(path, k)));
      }
    }
    if (schema.additionalProperties !== undefined && schema.additionalProperties !== true) {
      for (const k of Object.keys(value)) {
        if (k in props) continue;
        if (schema.additionalProperties === false) {
          errors.push(`Additional or unevaluated properties '${childPath(path, k)}' at '${path}' not allowed`);
        } else if (typeof schema.additionalProperties === "object") {
          errors.push(...validate(schema.additionalProperties, value[k], childPath(path, k)));
        }
      }
    }
  }
  if (Array.isArray(schema.allOf)) {
    for (const sub of schema.allOf) errors.push(...validate(sub, value, path));
  }
  for (const kw of ["oneOf", "anyOf"]) {
    if (!Array.isArray(schema[kw])) continue;
    const branchErrors = schema[kw].map((sub) => {
      // A branch that declares properties but requires none (the docs' "Async Batch" branches lost
      // their `required: ["requests"]`) only matches when at least one declared property is present.
      if (
        sub && typeof sub === "object" && sub.properties && !sub.required &&
        value && typeof value === "object" && !Array.isArray(value) && !isBinary(value) &&
        !Object.keys(sub.properties).some((k) => k in value)
      ) {
        return [`required properties at '${path}' are '${Object.keys(sub.properties).join(",")}'`];
      }
      return validate(sub, value, path);
    });
    // NOTE: oneOf is checked with anyOf semantics: the published schemas have overlapping
    // branches (e.g. "Messages" and the requirement-free "Async Batch"), which the real
    // service obviously accepts.
    if (!branchErrors.some((e) => e.length === 0)) {
      const flat = [...new Set(branchErrors.flat())];
      errors.push(`${kw} at '${path}' not met, 0 matches: ${flat.join(", ")}`);
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Steering directives: [[emu:key]] / [[emu:key=value]]
// ---------------------------------------------------------------------------------------------

const DIRECTIVE_RE = /\[\[emu:([A-Za-z_][A-Za-z0-9_]*)(?:=([^\]]*))?\]\]/g;

function parseDirectives(text) {
  const d = {};
  for (const m of String(text ?? "").matchAll(DIRECTIVE_RE)) d[m[1]] = m[2] === undefined ? true : m[2];
  return d;
}
function stripDirectives(text) {
  return String(text ?? "")
    .replace(DIRECTIVE_RE, " ")
    .replace(/\s+/g, " ")
    .trim();
}
function intDirective(d, key) {
  if (d[key] === undefined || d[key] === true) return undefined;
  const n = Number.parseInt(d[key], 10);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Text of a message content: string, array of parts, or a single part object. */
function contentText(content) {
  if (content == null) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map(contentText).filter(Boolean).join(" ");
  if (typeof content === "object") {
    if (typeof content.text === "string") return content.text;
    if (typeof content.output === "string") return content.output;
    if (typeof content.refusal === "string") return content.refusal;
    if (content.content !== undefined) return contentText(content.content);
  }
  return "";
}

/**
 * Reads a text-generation request (legacy, OpenAI chat, Responses, prompt) into a common form:
 * { turns: [{role, text, toolCallId?}], lastRole, lastUserText, allText, tools }.
 */
function readConversation(inputs) {
  const turns = [];
  if (typeof inputs.instructions === "string") turns.push({ role: "system", text: inputs.instructions });
  if (Array.isArray(inputs.messages)) {
    for (const m of inputs.messages) {
      if (!m || typeof m !== "object") continue;
      turns.push({ role: String(m.role ?? "user"), text: contentText(m.content), toolCallId: m.tool_call_id });
    }
  }
  if (typeof inputs.prompt === "string") turns.push({ role: "user", text: inputs.prompt });
  if (typeof inputs.input === "string") turns.push({ role: "user", text: inputs.input });
  else if (Array.isArray(inputs.input)) {
    for (const item of inputs.input) {
      if (!item || typeof item !== "object") continue;
      const type = item.type ?? "message";
      if (type === "message" || item.role) turns.push({ role: String(item.role ?? "user"), text: contentText(item.content) });
      else if (type === "function_call_output")
        turns.push({ role: "tool", text: contentText(item.output), toolCallId: item.call_id });
      else if (type === "function_call")
        turns.push({ role: "assistant", text: `${item.name ?? ""} ${item.arguments ?? ""}`, isCall: true });
      // reasoning items etc.: not counted
    }
  }
  const last = turns[turns.length - 1];
  const images = imagesIn(inputs);
  let lastUserText = "";
  for (let i = turns.length - 1; i >= 0; i--) {
    if (turns[i].role === "user") {
      lastUserText = turns[i].text;
      break;
    }
  }
  return {
    turns,
    lastRole: last?.role ?? "user",
    lastText: last?.text ?? "",
    lastUserText,
    allText: turns.map((t) => t.text).join(" "),
    images,
  };
}

/**
 * Images a vision model would see: `image_url` parts holding data: URLs (the only URLs Workers
 * AI takes) and Llama 3.2 Vision's top-level `image` bytes. Each as "image/png, 67 bytes".
 */
function imagesIn(inputs) {
  const seen = [];
  const describeDataUrl = (url) => {
    const m = /^data:([^;,]+);base64,(.*)$/s.exec(String(url));
    if (!m) return;
    let length;
    try {
      length = base64ToBytes(m[2]).length;
    } catch {
      throw codedError(5006, { detail: "image data: URL is not valid base64" });
    }
    seen.push(`${m[1]}, ${length} bytes`);
  };
  const lists = [inputs.messages, Array.isArray(inputs.input) ? inputs.input : []];
  for (const list of lists) {
    for (const m of Array.isArray(list) ? list : []) {
      if (!Array.isArray(m?.content)) continue;
      for (const part of m.content) {
        if (part?.type === "image_url") describeDataUrl(part.image_url?.url ?? part.image_url);
        else if (part?.type === "input_image") describeDataUrl(part.image_url);
      }
    }
  }
  if (inputs.image !== undefined) {
    const length = Array.isArray(inputs.image) ? inputs.image.length : binaryLength(inputs.image);
    seen.push(`bytes, ${length} bytes`);
  }
  return seen;
}

/** The text that carries [[emu:…]] directives for any model family. */
function steeringText(inputs, conv) {
  const parts = [];
  if (conv) parts.push(conv.lastUserText);
  else {
    if (typeof inputs.prompt === "string") parts.push(inputs.prompt);
    for (const k of ["text", "queries", "documents", "query"]) {
      const v = inputs[k];
      if (typeof v === "string") parts.push(v);
      else if (Array.isArray(v)) parts.push(...v.filter((x) => typeof x === "string"));
    }
    if (Array.isArray(inputs.contexts)) parts.push(...inputs.contexts.map((c) => c?.text ?? ""));
    if (Array.isArray(inputs.messages)) {
      const users = inputs.messages.filter((m) => m?.role === "user");
      if (users.length) parts.push(contentText(users[users.length - 1].content));
    }
    for (const k of ["initial_prompt", "prefix"]) if (typeof inputs[k] === "string") parts.push(inputs[k]);
  }
  return parts.join(" ");
}

const words = (s) => String(s ?? "").split(/\s+/).filter(Boolean);

// ---------------------------------------------------------------------------------------------
// Catalogue & families
// ---------------------------------------------------------------------------------------------

const BY_NAME = new Map();
for (const e of CATALOGUE) BY_NAME.set(e.name, e);

const REASONING_BY_DEFAULT = /deepseek-r1|qwq|qwen3-30b|glm-4|gpt-oss/;

function familyOf(entry) {
  const n = entry.name;
  const task = entry.task?.name ?? "";
  if (/gpt-oss/.test(n)) return "responses";
  if (/qwen3-30b|glm-4/.test(n)) return "native";
  if (/llama-guard/.test(n)) return "guard";
  if (task === "Text Embeddings") return "embeddings";
  if (task === "Text-to-Image") {
    if (/flux-1/.test(n)) return "flux1";
    if (/flux-2/.test(n)) return "flux2";
    return "png";
  }
  if (task === "Automatic Speech Recognition") return "whisper";
  if (task === "Text-to-Speech") return "tts";
  if (task === "Image-to-Text") return "img2text";
  return "legacy";
}

function shortName(modelId) {
  return modelId.split("/").pop();
}

/** Default max_tokens from the model's input schema (first `max_tokens.default` found), else fallback. */
function schemaDefault(entry, key, fallback) {
  let found;
  const walk = (s) => {
    if (found !== undefined || !s || typeof s !== "object") return;
    if (Array.isArray(s)) return s.forEach(walk);
    if (s.properties?.[key] && s.properties[key].default !== undefined) {
      found = s.properties[key].default;
      return;
    }
    for (const k of ["oneOf", "anyOf", "allOf"]) if (Array.isArray(s[k])) s[k].forEach(walk);
  };
  walk(entry.input_schema);
  return found ?? fallback;
}

// ---------------------------------------------------------------------------------------------
// Answer generation (tokens = whitespace-separated words)
// ---------------------------------------------------------------------------------------------

function answerWords(modelId, conv, d) {
  // `echo_options`: the answer is the binding's third argument (the AI Gateway option), as JSON.
  if (d.echo_options) return ["options:", JSON.stringify(d.options ?? null)];
  const n = intDirective(d, "tokens");
  if (n !== undefined) return Array.from({ length: n }, (_, i) => `w${i + 1}`);
  if (conv.lastRole === "tool" || conv.lastRole === "function") {
    return words(`Tool result received: ${stripDirectives(conv.lastText)}`);
  }
  const echo = words(stripDirectives(conv.lastUserText)).slice(0, 16);
  const seen = conv.images?.length ? ` I see ${conv.images.length} image(s): ${conv.images.join("; ")}.` : "";
  const base = words(`Emulated answer from ${shortName(modelId)}.${seen}`);
  return echo.length ? [...base, "You", "said:", ...echo] : base;
}

function reasoningWords(conv) {
  const echo = words(stripDirectives(conv.lastUserText)).slice(0, 8);
  return words(`The user wrote: ${echo.join(" ") || "nothing"}. I should answer briefly.`);
}

/** Joins words into token pieces whose concatenation is the text. */
function pieces(ws, leadingSpace = false) {
  return ws.map((w, i) => (i > 0 || leadingSpace ? " " : "") + w);
}

function wantsReasoning(entry, inputs, d) {
  if (d.no_reasoning) return false;
  if (d.reasoning) return true;
  if (inputs.chat_template_kwargs && inputs.chat_template_kwargs.enable_thinking === false) return false;
  return REASONING_BY_DEFAULT.test(entry.name);
}

// ---- tools ----

function normalizeTools(tools) {
  if (!Array.isArray(tools)) return [];
  const out = [];
  for (const t of tools) {
    if (!t || typeof t !== "object") continue;
    const f = t.function && typeof t.function === "object" ? t.function : t;
    if (typeof f.name !== "string") continue;
    out.push({ name: f.name, description: f.description ?? "", parameters: f.parameters ?? { type: "object", properties: {} } });
  }
  return out;
}

function genValue(schema, name, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 6) return "Paris";
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  for (const k of ["oneOf", "anyOf", "allOf"]) if (Array.isArray(schema[k]) && schema[k].length) return genValue(schema[k][0], name, depth + 1);
  let t = schema.type;
  if (Array.isArray(t)) t = t.find((x) => x !== "null") ?? t[0];
  if (!t && schema.properties) t = "object";
  switch (t) {
    case "number":
    case "integer": {
      let v = 1;
      if (typeof schema.minimum === "number" && v < schema.minimum) v = schema.minimum;
      if (typeof schema.maximum === "number" && v > schema.maximum) v = schema.maximum;
      return t === "integer" ? Math.ceil(v) : v;
    }
    case "boolean":
      return true;
    case "null":
      return null;
    case "array":
      return [genValue(schema.items, name, depth + 1)];
    case "object":
      return genObject(schema, depth + 1);
    default:
      return "Paris";
  }
}
function genObject(schema, depth = 0) {
  const props = schema?.properties && typeof schema.properties === "object" ? schema.properties : {};
  const req = Array.isArray(schema?.required) ? schema.required.filter((k) => typeof k === "string") : [];
  const keys = req.length ? req : Object.keys(props);
  const out = {};
  for (const k of keys) out[k] = genValue(props[k], k, depth);
  return out;
}

/** Decides which tool calls to make: [{name, arguments(object), id}] or []. */
function planToolCalls(entry, inputs, conv, d, tools, seedKey) {
  if (!tools.length) return [];
  if (conv.lastRole !== "user") return []; // tool results / assistant last: answer in text
  const tc = inputs.tool_choice;
  if (tc === "none") return [];
  let wanted = null;
  let count = 1;
  if (d.tool !== undefined) wanted = d.tool === true ? tools[0].name : d.tool;
  if (d.tools !== undefined) {
    count = Math.max(1, intDirective(d, "tools") ?? 2);
    wanted = wanted ?? tools[0].name;
  }
  if (d.text_and_tool) wanted = wanted ?? tools[0].name;
  if (!wanted && tc && typeof tc === "object") wanted = tc.function?.name ?? tc.name ?? tools[0].name;
  if (!wanted && tc === "required") wanted = tools[0].name;
  if (!wanted) return [];
  let first = tools.findIndex((t) => t.name === wanted);
  if (first < 0) return [];
  const calls = [];
  for (let i = 0; i < count; i++) {
    const tool = tools[(first + i) % tools.length];
    calls.push({
      name: tool.name,
      arguments: genObject(tool.parameters),
      id: "call_" + hashId(`${seedKey}|call|${i}`).slice(0, 24),
    });
  }
  return calls;
}

/** Python-style JSON spacing (what Llama writes when it leaks a call as text). */
function pyJson(v) {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(pyJson).join(", ") + "]";
  return "{" + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ": " + pyJson(x)).join(", ") + "}";
}

/** JSON mode: the schema the caller asked for (response_format / guided_json), or null. */
function jsonModeSchema(inputs) {
  const rf = inputs.response_format;
  if (rf && typeof rf === "object" && (rf.type === "json_object" || rf.type === "json_schema")) {
    if (rf.type === "json_object") return {};
    const js = rf.json_schema;
    if (js && typeof js === "object" && js.schema && typeof js.schema === "object") return js.schema;
    return js && typeof js === "object" ? js : {};
  }
  if (inputs.guided_json !== undefined) return typeof inputs.guided_json === "object" ? inputs.guided_json : {};
  return null;
}
function genJson(schema, answerText) {
  if (!schema || typeof schema !== "object" || (!schema.type && !schema.properties)) return { answer: answerText };
  const v = genValue(schema, "root");
  return v;
}

// ---------------------------------------------------------------------------------------------
// SSE stream plumbing
// ---------------------------------------------------------------------------------------------

const PAD = "abdefghijklmnoprstuvxyz1234567890abdefghijklmnoprstuvxyz1234567890";
const pad = (i, key) => PAD.slice(0, 1 + ((fnv1a(key + "|" + i) >>> 3) % 50));
const sse = (obj) => `data: ${typeof obj === "string" ? obj : JSON.stringify(obj)}\n\n`;
const sseEvent = (event, obj) => `event: ${event}\ndata: ${JSON.stringify(obj)}\n\n`;

/**
 * frames: array of SSE text frames (each ends with a blank line).
 * Applies heartbeat / malformed / chunk / delay / fail_after directives.
 */
function makeStream(frames, d) {
  let list = frames.slice();
  if (d.malformed) {
    const mid = Math.max(1, Math.floor(list.length / 2));
    list.splice(mid, 0, 'data: {"response":"broken\n\n');
  }
  if (d.heartbeat) {
    const out = [];
    list.forEach((f, i) => {
      if (i % 3 === 1) out.push(": ping\n\n");
      if (i % 3 === 2) out.push("\n");
      out.push(f);
    });
    list = out;
  }
  let chunks = list.map((f) => enc.encode(f));
  const chunkSize = intDirective(d, "chunk");
  if (chunkSize && chunkSize > 0) {
    const all = concatBytes(chunks);
    chunks = [];
    for (let i = 0; i < all.length; i += chunkSize) chunks.push(all.slice(i, i + chunkSize));
  }
  return bytesStream(chunks, d);
}

function bytesStream(chunks, d = {}) {
  const delay = intDirective(d, "delay") ?? 0;
  const failAfter = intDirective(d, "fail_after");
  const failCode = intDirective(d, "fail_code") ?? 3007;
  let i = 0;
  return new ReadableStream({
    async pull(controller) {
      if (failAfter !== undefined && i >= failAfter) {
        controller.error(codedError(failCode));
        return;
      }
      if (i >= chunks.length) {
        controller.close();
        return;
      }
      if (delay) await sleep(delay);
      controller.enqueue(chunks[i++]);
    },
  });
}

function concatBytes(list) {
  const total = list.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of list) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Family: legacy text ({response, tool_calls, usage})
// ---------------------------------------------------------------------------------------------

function usageOf(promptTokens, completionTokens) {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

function toolCallTokens(call) {
  return 1 + words(JSON.stringify(call.arguments).replace(/[{}",:]/g, " ")).length;
}

function legacyText(entry, inputs, d, seedKey) {
  const modelId = entry.name;
  const conv = readConversation(inputs);
  const tools = normalizeTools(inputs.tools);
  const promptTokens = words(stripDirectives(conv.allText)).length;
  const maxTokens = typeof inputs.max_tokens === "number" ? inputs.max_tokens : schemaDefault(entry, "max_tokens", 256);
  const calls = planToolCalls(entry, inputs, conv, d, tools, seedKey);
  const withText = calls.length === 0 || d.text_and_tool;

  // Token pieces of `response` (reasoning first, in <think>…</think>)
  let toks = [];
  if (withText) {
    const reasoning = wantsReasoning(entry, inputs, d);
    if (reasoning) toks.push("<think>", ...pieces(reasoningWords(conv), true), "\n</think>\n\n");
    const ans = answerWords(modelId, conv, d);
    toks.push(...pieces(ans));
  }
  if (d.leak_tool && tools.length && conv.lastRole === "user") {
    const tool = tools.find((t) => t.name === (typeof d.tool === "string" ? d.tool : tools[0].name)) ?? tools[0];
    toks = pieces(words(pyJson({ name: tool.name, parameters: genObject(tool.parameters) })));
    calls.length = 0;
  }
  toks = toks.slice(0, Math.max(0, maxTokens));
  const response = toks.join("");
  const completionTokens = toks.length + calls.reduce((n, c) => n + toolCallTokens(c), 0);
  const usage = usageOf(promptTokens, completionTokens);
  const openaiForm = d.tool_format === "openai";
  const toolCallsOut = calls.map((c) =>
    openaiForm
      ? { id: c.id, type: "function", function: { name: c.name, arguments: JSON.stringify(c.arguments) } }
      : { name: c.name, arguments: c.arguments },
  );

  const jsonSchema = jsonModeSchema(inputs);
  if (jsonSchema) {
    // JSON mode: `response` is an object; JSON mode does not stream (answered as JSON even with stream:true).
    const obj = genJson(jsonSchema, stripDirectives(answerWords(modelId, conv, d).join(" ")));
    return { response: obj, ...(tools.length ? { tool_calls: [] } : {}), usage };
  }

  if (inputs.stream === true && !d.json_reply) {
    const frames = [];
    frames.push(sse({ response: "", tool_calls: [], p: pad(0, seedKey) }));
    toks.forEach((t, i) => frames.push(sse({ response: t, tool_calls: [], p: pad(i + 1, seedKey) })));
    calls.forEach((c, ci) => {
      if (!openaiForm) {
        frames.push(sse({ response: "", tool_calls: [{ name: c.name, arguments: c.arguments }], p: pad(1000 + ci, seedKey) }));
      } else {
        frames.push(sse({ tool_calls: [{ id: c.id, type: "function", index: ci, function: { name: c.name } }] }));
        for (const frag of fragments(JSON.stringify(c.arguments))) {
          frames.push(sse({ tool_calls: [{ index: ci, function: { arguments: frag } }] }));
        }
      }
    });
    frames.push(sse({ response: "", usage }));
    frames.push(sse("[DONE]"));
    return makeStream(frames, d);
  }
  const out = { response };
  if (tools.length || calls.length) out.tool_calls = toolCallsOut;
  out.usage = usage;
  return out;
}

/** Splits a string into ~10-char fragments (deterministic). */
function fragments(s, size = 10) {
  const out = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out.length ? out : [""];
}

// ---------------------------------------------------------------------------------------------
// Family: OpenAI-native chat (qwen3-30b-a3b-fp8, glm-4.7-flash; gpt-oss with `messages`)
// ---------------------------------------------------------------------------------------------

function reasoningField(entry) {
  // qwen3 and gpt-oss: `reasoning_content`; glm-4.7-flash: `reasoning` (guess: newer vLLM field name;
  // the glm schema names neither).
  return /glm-/.test(entry.name) ? "reasoning" : "reasoning_content";
}

/** Shared planning for chat-completion and Responses outputs. */
function planText(entry, inputs, d, seedKey, maxTokens) {
  const conv = readConversation(inputs);
  const tools = normalizeTools(inputs.tools);
  const promptTokens = words(stripDirectives(conv.allText)).length;
  const calls = planToolCalls(entry, inputs, conv, d, tools, seedKey);
  const withText = calls.length === 0 || !!d.text_and_tool;
  let budget = Math.max(0, maxTokens);
  let reasoningToks = [];
  if (wantsReasoning(entry, inputs, d) && (withText || calls.length)) {
    reasoningToks = pieces(reasoningWords(conv));
  }
  const reasoningFull = reasoningToks.length;
  reasoningToks = reasoningToks.slice(0, budget);
  budget -= reasoningToks.length;
  let contentToks = [];
  let truncated = reasoningToks.length < reasoningFull;
  if (withText) {
    const jsonSchema = jsonModeSchema(inputs);
    const all = jsonSchema
      ? pieces(words(JSON.stringify(genJson(jsonSchema, stripDirectives(answerWords(entry.name, conv, d).join(" "))))))
      : pieces(answerWords(entry.name, conv, d));
    contentToks = all.slice(0, budget);
    if (contentToks.length < all.length) truncated = true;
    budget -= contentToks.length;
  }
  const toolToks = truncated ? 0 : calls.reduce((n, c) => n + toolCallTokens(c), 0);
  const finalCalls = truncated ? [] : calls;
  const finish = truncated ? "length" : finalCalls.length ? "tool_calls" : "stop";
  const completionTokens = reasoningToks.length + contentToks.length + toolToks;
  return {
    conv,
    tools,
    promptTokens,
    reasoningToks,
    contentToks,
    calls: finalCalls,
    finish,
    completionTokens,
    reasoningTokens: reasoningToks.length,
  };
}

function chatCompletion(entry, inputs, d, seedKey) {
  const isGlm = /glm-/.test(entry.name);
  const maxTokens =
    typeof inputs.max_completion_tokens === "number"
      ? inputs.max_completion_tokens
      : typeof inputs.max_tokens === "number"
        ? inputs.max_tokens
        : schemaDefault(entry, "max_tokens", 4096) ?? 4096;
  const p = planText(entry, inputs, d, seedKey, maxTokens);
  const id = "chatcmpl-" + hashId(seedKey);
  const model = entry.name;
  const rField = reasoningField(entry);
  const usage = usageOf(p.promptTokens, p.completionTokens);
  if (p.reasoningTokens) usage.completion_tokens_details = { reasoning_tokens: p.reasoningTokens };
  const content = p.contentToks.join("");
  const toolCalls = p.calls.map((c) => ({
    id: c.id,
    type: "function",
    function: { name: c.name, arguments: JSON.stringify(c.arguments) },
  }));

  if (inputs.stream === true && !d.json_reply) {
    const base = { id, object: "chat.completion.chunk", created: FIXED_CREATED, model };
    const chunk = (delta, finish = null, extra = {}) =>
      sse({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
    const frames = [chunk({ role: "assistant", content: "" })];
    for (const t of p.reasoningToks) frames.push(chunk({ [rField]: t }));
    for (const t of p.contentToks) frames.push(chunk({ content: t }));
    p.calls.forEach((c, i) => {
      frames.push(
        chunk({ tool_calls: [{ index: i, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] }),
      );
      for (const frag of fragments(JSON.stringify(c.arguments))) {
        frames.push(chunk({ tool_calls: [{ index: i, function: { arguments: frag } }] }));
      }
    });
    const includeUsage = inputs.stream_options && inputs.stream_options.include_usage === true;
    if (includeUsage) {
      frames.push(chunk({}, p.finish));
      frames.push(sse({ ...base, choices: [], usage }));
    } else {
      // Usage is still sent, on the final chunk (documented guess: Workers AI always reports usage).
      frames.push(chunk({}, p.finish, { usage }));
    }
    frames.push(sse("[DONE]"));
    return makeStream(frames, d);
  }

  const message = { role: "assistant", content: p.calls.length && !content ? (isGlm ? null : "") : content };
  if (isGlm) message.refusal = null;
  if (p.reasoningToks.length) message[rField] = p.reasoningToks.join("");
  if (toolCalls.length) message.tool_calls = toolCalls;
  const out = {
    id,
    object: "chat.completion",
    created: FIXED_CREATED,
    model,
    choices: [{ index: 0, message, finish_reason: p.finish, logprobs: null, ...(isGlm ? {} : { stop_reason: null }) }],
    usage,
  };
  if (!isGlm) out.prompt_logprobs = null;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Family: Responses-style (gpt-oss-20b / -120b)
// ---------------------------------------------------------------------------------------------

function responsesFamily(entry, inputs, d, seedKey) {
  if (Array.isArray(inputs.messages)) return chatCompletion(entry, inputs, d, seedKey); // Messages_Output
  if (typeof inputs.prompt === "string" && inputs.input === undefined) return legacyText(entry, inputs, d, seedKey); // Prompt_Output
  const maxTokens =
    typeof inputs.max_output_tokens === "number" ? inputs.max_output_tokens : typeof inputs.max_tokens === "number" ? inputs.max_tokens : 4096;
  const p = planText(entry, inputs, d, seedKey, maxTokens);
  const h = hashId(seedKey);
  const respId = "resp_" + h;
  const reasoningItem = p.reasoningToks.length
    ? { id: "rs_" + h, type: "reasoning", summary: [], content: [{ type: "reasoning_text", text: p.reasoningToks.join("") }] }
    : null;
  const text = p.contentToks.join("");
  const messageItem =
    p.contentToks.length || !p.calls.length
      ? {
          id: "msg_" + h,
          type: "message",
          status: p.finish === "length" ? "incomplete" : "completed",
          role: "assistant",
          content: [{ type: "output_text", text, annotations: [] }],
        }
      : null;
  const callItems = p.calls.map((c, i) => ({
    id: "fc_" + hashId(seedKey + "|fc|" + i),
    type: "function_call",
    status: "completed",
    call_id: c.id,
    name: c.name,
    arguments: JSON.stringify(c.arguments),
  }));
  const output = [reasoningItem, messageItem, ...callItems].filter(Boolean);
  const usage = {
    input_tokens: p.promptTokens,
    output_tokens: p.completionTokens,
    total_tokens: p.promptTokens + p.completionTokens,
    output_tokens_details: { reasoning_tokens: p.reasoningTokens },
  };
  const incomplete = p.finish === "length";
  const response = {
    id: respId,
    object: "response",
    created_at: FIXED_CREATED,
    model: entry.name,
    status: incomplete ? "incomplete" : "completed",
    ...(incomplete ? { incomplete_details: { reason: "max_output_tokens" } } : {}),
    output,
    usage,
  };
  if (!(inputs.stream === true && !d.json_reply)) return response;

  // Stream: the OpenAI Responses event stream (guess: Cloudflare documents Responses for gpt-oss
  // as non-streaming only), ending with `data: [DONE]`.
  let seq = 0;
  const frames = [];
  const ev = (type, body) => frames.push(sseEvent(type, { type, sequence_number: seq++, ...body }));
  const shell = { ...response, status: "in_progress", output: [], usage: null };
  delete shell.incomplete_details;
  ev("response.created", { response: shell });
  ev("response.in_progress", { response: shell });
  output.forEach((item, oi) => {
    if (item.type === "reasoning") {
      ev("response.output_item.added", { output_index: oi, item: { ...item, content: [] } });
      ev("response.content_part.added", { item_id: item.id, output_index: oi, content_index: 0, part: { type: "reasoning_text", text: "" } });
      for (const t of p.reasoningToks)
        ev("response.reasoning_text.delta", { item_id: item.id, output_index: oi, content_index: 0, delta: t });
      ev("response.reasoning_text.done", { item_id: item.id, output_index: oi, content_index: 0, text: item.content[0].text });
      ev("response.content_part.done", { item_id: item.id, output_index: oi, content_index: 0, part: item.content[0] });
      ev("response.output_item.done", { output_index: oi, item });
    } else if (item.type === "message") {
      ev("response.output_item.added", { output_index: oi, item: { ...item, status: "in_progress", content: [] } });
      ev("response.content_part.added", {
        item_id: item.id,
        output_index: oi,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [] },
      });
      for (const t of p.contentToks)
        ev("response.output_text.delta", { item_id: item.id, output_index: oi, content_index: 0, delta: t, logprobs: [] });
      ev("response.output_text.done", { item_id: item.id, output_index: oi, content_index: 0, text, logprobs: [] });
      ev("response.content_part.done", { item_id: item.id, output_index: oi, content_index: 0, part: item.content[0] });
      ev("response.output_item.done", { output_index: oi, item });
    } else {
      ev("response.output_item.added", { output_index: oi, item: { ...item, status: "in_progress", arguments: "" } });
      for (const frag of fragments(item.arguments))
        ev("response.function_call_arguments.delta", { item_id: item.id, output_index: oi, delta: frag });
      ev("response.function_call_arguments.done", { item_id: item.id, output_index: oi, name: item.name, arguments: item.arguments });
      ev("response.output_item.done", { output_index: oi, item });
    }
  });
  ev(incomplete ? "response.incomplete" : "response.completed", { response });
  frames.push(sse("[DONE]"));
  return makeStream(frames, d);
}

// ---------------------------------------------------------------------------------------------
// Family: embeddings
// ---------------------------------------------------------------------------------------------

const EMBED_DIMS = {
  "@cf/baai/bge-small-en-v1.5": 384,
  "@cf/baai/bge-base-en-v1.5": 768,
  "@cf/baai/bge-large-en-v1.5": 1024,
  "@cf/baai/bge-m3": 1024,
  "@cf/google/embeddinggemma-300m": 768,
  "@cf/qwen/qwen3-embedding-0.6b": 1024,
};
function embedDims(entry) {
  const p = (entry.properties ?? []).find((x) => x.property_id === "output_dimensions");
  if (p && Number(p.value) > 0) return Number(p.value);
  return EMBED_DIMS[entry.name] ?? 768;
}
function embedVector(text, dims, modelId) {
  const rnd = mulberry32(fnv1a(modelId + "|" + text));
  const v = new Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    const x = rnd() * 2 - 1;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dims; i++) v[i] = v[i] / norm;
  return v;
}
const asList = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function embeddings(entry, inputs) {
  const dims = embedDims(entry);
  const m = entry.name;
  const emb = (list) => list.map((t) => embedVector(String(t), dims, m));
  if (/bge-m3/.test(m)) {
    if (Array.isArray(inputs.contexts)) {
      const ctx = inputs.contexts.map((c) => String(c?.text ?? ""));
      if (typeof inputs.query === "string") {
        const q = embedVector(inputs.query, dims, m);
        const scored = ctx.map((t, id) => {
          const v = embedVector(t, dims, m);
          let dot = 0;
          for (let i = 0; i < dims; i++) dot += q[i] * v[i];
          return { id, score: (dot + 1) / 2 };
        });
        scored.sort((a, b) => b.score - a.score || a.id - b.id);
        return { response: scored };
      }
      return { response: emb(ctx), shape: [ctx.length, dims], pooling: "cls" };
    }
    const list = asList(inputs.text);
    return { shape: [list.length, dims], data: emb(list), pooling: "cls" };
  }
  if (/qwen3-embedding/.test(m)) {
    const list = inputs.text !== undefined ? asList(inputs.text) : [...asList(inputs.queries), ...asList(inputs.documents)];
    return { data: emb(list), shape: [list.length, dims] };
  }
  const list = asList(inputs.text);
  if (/embeddinggemma/.test(m)) return { data: emb(list), shape: [list.length, dims] };
  return { shape: [list.length, dims], data: emb(list), pooling: inputs.pooling ?? "mean" };
}

// ---------------------------------------------------------------------------------------------
// Images: tiny valid PNG (palette, fixed-Huffman deflate) and baseline JPEG (solid colour)
// ---------------------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

class BitWriter {
  constructor() {
    this.bytes = [];
    this.cur = 0;
    this.n = 0;
  }
  /** LSB-first (deflate data elements). */
  bitsLSB(value, count) {
    for (let i = 0; i < count; i++) this.bit((value >>> i) & 1);
  }
  /** MSB-first (deflate Huffman codes). */
  bitsMSB(code, len) {
    for (let i = len - 1; i >= 0; i--) this.bit((code >>> i) & 1);
  }
  bit(b) {
    this.cur |= b << this.n;
    if (++this.n === 8) {
      this.bytes.push(this.cur);
      this.cur = 0;
      this.n = 0;
    }
  }
  finish() {
    if (this.n) this.bytes.push(this.cur);
    return Uint8Array.from(this.bytes);
  }
}

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
function fixedLitLen(w, sym) {
  if (sym <= 143) w.bitsMSB(0x30 + sym, 8);
  else if (sym <= 255) w.bitsMSB(0x190 + sym - 144, 9);
  else if (sym <= 279) w.bitsMSB(sym - 256, 7);
  else w.bitsMSB(0xc0 + sym - 280, 8);
}
/** zlib stream of `n` zero bytes: one literal then distance-1 matches (fixed Huffman). */
function zlibZeros(n) {
  const w = new BitWriter();
  w.bitsLSB(1, 1); // BFINAL
  w.bitsLSB(1, 2); // BTYPE=01 fixed
  let left = n;
  if (left > 0) {
    fixedLitLen(w, 0);
    left--;
  }
  while (left >= 3) {
    const len = Math.min(258, left);
    const useLen = left - len > 0 && left - len < 3 ? len - 3 : len; // never leave a remainder of 1-2
    let idx = LEN_BASE.length - 1;
    while (LEN_BASE[idx] > useLen) idx--;
    if (useLen === 258) idx = 28;
    else if (idx === 28) idx = 27;
    fixedLitLen(w, 257 + idx);
    w.bitsLSB(useLen - LEN_BASE[idx], LEN_EXTRA[idx]);
    w.bitsMSB(0, 5); // distance code 0 = distance 1
    left -= useLen;
  }
  while (left-- > 0) fixedLitLen(w, 0);
  fixedLitLen(w, 256); // end of block
  const data = w.finish();
  // Adler-32 of n zero bytes: a = 1, b = n (mod 65521)
  const a = 1;
  const b = n % 65521;
  const adler = ((b << 16) | a) >>> 0;
  const out = new Uint8Array(2 + data.length + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  out.set(data, 2);
  new DataView(out.buffer).setUint32(2 + data.length, adler);
  return out;
}
function pngChunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(enc.encode(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
/** Solid-colour PNG (1-bit palette), valid and tiny even at 1024x1024. */
function makePng(width, height, rgb, note) {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 3; // palette
  const rowBytes = 1 + Math.ceil(width / 8);
  return concatBytes([
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("PLTE", Uint8Array.from(rgb)),
    pngChunk("tEXt", enc.encode("Comment\0" + note)),
    pngChunk("IDAT", zlibZeros(rowBytes * height)),
    pngChunk("IEND", new Uint8Array(0)),
  ]);
}

/** Solid-colour baseline JPEG (3 components, 8x8 MCUs, quant table of 1s, minimal Huffman tables). */
function makeJpeg(width, height, rgb, note) {
  const [r, g, b] = rgb;
  const Y = 0.299 * r + 0.587 * g + 0.114 * b;
  const Cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
  const Cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
  const dcs = [Y, Cb, Cr].map((v) => Math.round(8 * (Math.max(0, Math.min(255, v)) - 128)));
  const seg = (marker, body) => {
    const out = new Uint8Array(4 + body.length);
    out[0] = 0xff;
    out[1] = marker;
    out[2] = (body.length + 2) >> 8;
    out[3] = (body.length + 2) & 0xff;
    out.set(body, 4);
    return out;
  };
  // DC table: standard luminance DC code lengths, symbols 0..11
  const dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
  const dcVals = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  // Canonical codes for the DC table
  const dcCodes = [];
  {
    let code = 0;
    let k = 0;
    for (let len = 1; len <= 16; len++) {
      for (let i = 0; i < dcBits[len - 1]; i++) dcCodes[dcVals[k++]] = { code: code++, len };
      code <<= 1;
    }
  }
  // AC table: a single symbol (0x00 = EOB) with code "0"
  const acBits = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const bits = [];
  const put = (code, len) => {
    for (let i = len - 1; i >= 0; i--) bits.push((code >>> i) & 1);
  };
  const mcusX = Math.ceil(width / 8);
  const mcusY = Math.ceil(height / 8);
  const pred = [0, 0, 0];
  for (let m = 0; m < mcusX * mcusY; m++) {
    for (let c = 0; c < 3; c++) {
      const diff = dcs[c] - pred[c];
      pred[c] = dcs[c];
      const mag = Math.abs(diff);
      const cat = mag === 0 ? 0 : 32 - Math.clz32(mag);
      put(dcCodes[cat].code, dcCodes[cat].len);
      if (cat) put(diff > 0 ? diff : diff + (1 << cat) - 1, cat);
      put(0, 1); // EOB
    }
  }
  while (bits.length % 8) bits.push(1);
  const scan = [];
  for (let i = 0; i < bits.length; i += 8) {
    let byte = 0;
    for (let j = 0; j < 8; j++) byte = (byte << 1) | bits[i + j];
    scan.push(byte);
    if (byte === 0xff) scan.push(0x00);
  }
  const sof = [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0];
  return concatBytes([
    Uint8Array.from([0xff, 0xd8]),
    seg(0xe0, Uint8Array.from([0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0])),
    seg(0xfe, enc.encode(note)),
    seg(0xdb, Uint8Array.from([0x00, ...new Array(64).fill(1)])),
    seg(0xc0, Uint8Array.from(sof)),
    seg(0xc4, Uint8Array.from([0x00, ...dcBits, ...dcVals])),
    seg(0xc4, Uint8Array.from([0x10, ...acBits, 0x00])),
    seg(0xda, Uint8Array.from([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0])),
    Uint8Array.from(scan),
    Uint8Array.from([0xff, 0xd9]),
  ]);
}

function imageColour(key) {
  const h = fnv1a(key);
  return [h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff];
}
function clampDim(v, def) {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) return def;
  return Math.min(2048, Math.max(8, Math.round(n)));
}

async function readMultipart(mp) {
  const body = mp.body;
  const contentType = String(mp.contentType ?? "");
  if (typeof FormData !== "undefined" && body instanceof FormData) return body;
  const res = new Response(body, { headers: { "content-type": contentType } });
  try {
    return await res.formData();
  } catch {
    throw new AiError(5006, "Error: could not parse multipart body (check multipart.contentType and its boundary)");
  }
}
async function formString(form, key) {
  const v = form.get(key);
  if (v == null) return undefined;
  if (typeof v === "string") return v;
  return await v.text();
}

// ---------------------------------------------------------------------------------------------
// Speech
// ---------------------------------------------------------------------------------------------

/** "Transcribes" audio: printable ASCII bytes are read back as text (handy in tests). */
function transcribe(bytes) {
  let printable = bytes.length > 0;
  for (let i = 0; i < bytes.length && printable; i++) {
    const b = bytes[i];
    if (!(b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) printable = false;
  }
  const raw = printable ? dec.decode(bytes) : "";
  const text = printable ? stripDirectives(raw) : `Emulated transcription of ${bytes.length} bytes of audio.`;
  return { text, directives: parseDirectives(raw) };
}
function vttTime(t) {
  const ms = Math.round(t * 1000);
  const h = Math.floor(ms / 3600000);
  const m = Math.floor((ms % 3600000) / 60000);
  const s = Math.floor((ms % 60000) / 1000);
  const pad2 = (x, n = 2) => String(x).padStart(n, "0");
  return `${pad2(h)}:${pad2(m)}:${pad2(s)}.${pad2(ms % 1000, 3)}`;
}
function wordTimings(text) {
  return words(text).map((w, i) => ({ word: w, start: +(i * 0.4).toFixed(2), end: +(i * 0.4 + 0.35).toFixed(2) }));
}
function vttOf(text, end) {
  return `WEBVTT\n\n${vttTime(0)} --> ${vttTime(end)}\n${text}\n\n`;
}

/** A silent MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, mono, 417 bytes, all-zero side info). */
function silentMp3(frames) {
  const frame = new Uint8Array(417);
  frame.set([0xff, 0xfb, 0x90, 0xc0]);
  const out = new Uint8Array(417 * frames);
  for (let i = 0; i < frames; i++) out.set(frame, i * 417);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The binding
// ---------------------------------------------------------------------------------------------

class Ai {
  constructor(env) {
    this.env = env ?? {};
  }

  async models(params = {}) {
    let list = CATALOGUE.map(({ input_schema, ...rest }) => structuredClone(rest));
    const search = params?.search ? String(params.search).toLowerCase() : "";
    if (search)
      list = list.filter((m) => m.name.toLowerCase().includes(search) || String(m.description).toLowerCase().includes(search));
    if (params?.task) {
      const t = String(params.task).toLowerCase();
      list = list.filter((m) => m.task?.name?.toLowerCase() === t || m.task?.id === params.task);
    }
    if (params?.author) {
      const a = String(params.author).toLowerCase();
      list = list.filter((m) => m.name.toLowerCase().split("/")[1] === a);
    }
    return list;
  }

  async run(model, inputs, options = {}) {
    const entry = typeof model === "string" ? BY_NAME.get(model) : undefined;
    if (!entry) throw codedError(5007, { model });
    const family = familyOf(entry);
    // Top-level binary input (whisper's raw-audio form) is passed through untouched.
    let input = isBinary(inputs) ? inputs : normalizeInputs(inputs ?? {});

    // Validation against the documented input schema
    if (entry.input_schema) {
      const errors = validate(entry.input_schema, input, "/");
      if (errors.length) throw new AiError(5006, "Error: " + errors.join(", "));
    }

    // flux-2: parse the multipart form first (it carries the prompt)
    let form = null;
    if (family === "flux2") {
      if (!input.multipart || typeof input.multipart !== "object")
        throw new AiError(5006, "Error: required properties at '/' are 'multipart'");
      form = await readMultipart(input.multipart);
      input = {
        prompt: (await formString(form, "prompt")) ?? "",
        width: await formString(form, "width"),
        height: await formString(form, "height"),
        seed: await formString(form, "seed"),
        steps: await formString(form, "steps"),
      };
      if (!input.prompt) throw new AiError(5006, "Error: required properties at '/' are 'prompt'");
    }

    const isText = family === "legacy" || family === "native" || family === "responses" || family === "guard";
    const conv = isText ? readConversation(input) : null;
    let d = parseDirectives(steeringText(input, conv));

    // whisper: directives may travel inside text-like audio bytes
    let audioBytes = null;
    if (family === "whisper") {
      if (typeof input.audio === "string") {
        try {
          audioBytes = base64ToBytes(input.audio);
        } catch {
          throw codedError(5004);
        }
      } else if (Array.isArray(input.audio)) audioBytes = Uint8Array.from(input.audio.map((x) => x & 0xff));
      else if (input instanceof ArrayBuffer) audioBytes = new Uint8Array(input);
      else if (ArrayBuffer.isView(input)) audioBytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      else audioBytes = new Uint8Array(0);
      d = { ...d, ...transcribe(audioBytes).directives };
    }

    // `only_model=TEXT`: faults hit only models whose id contains TEXT, so a fallback can succeed.
    if (d.only_model !== undefined && !entry.name.includes(String(d.only_model))) {
      for (const fault of ["error", "fail_after", "fail_code", "delay", "malformed"]) delete d[fault];
    }
    if (d.echo_options) d.options = options;
    if (d.error !== undefined) {
      const code = Number.parseInt(d.error, 10);
      throw codedError(Number.isFinite(code) ? code : 3040, { model });
    }
    // Seed for ids/padding: directives are left out, so adding e.g. [[emu:chunk=7]] keeps the bytes.
    // Stream or not gives the same ids.
    const { stream: _s, stream_options: _so, ...keyInput } = isBinary(input) ? { input } : input;
    const seedKey = entry.name + "|" + stableStringify(keyInput).replace(/\s*\[\[emu:[^\]]*\]\]/g, "");
    const delay = intDirective(d, "delay") ?? 0;
    const isStream = input.stream === true && !d.json_reply;
    if (delay && !isStream) await sleep(delay);

    switch (family) {
      case "legacy":
        return legacyText(entry, input, d, seedKey);
      case "native":
        return chatCompletion(entry, input, d, seedKey);
      case "responses":
        return responsesFamily(entry, input, d, seedKey);
      case "guard": {
        const promptTokens = words(stripDirectives(conv.allText)).length;
        let cats = [];
        if (d.unsafe !== undefined) cats = d.unsafe === true ? ["S1"] : String(d.unsafe).split(",").map((s) => s.trim()).filter(Boolean);
        const safe = d.unsafe === undefined;
        return { response: { safe, categories: safe ? [] : cats }, usage: usageOf(promptTokens, safe ? 1 : 1 + cats.length) };
      }
      case "embeddings":
        return embeddings(entry, input);
      case "flux1":
      case "flux2":
      case "png": {
        const prompt = String(input.prompt ?? "");
        if (d.nsfw) throw codedError(3030);
        const seed = input.seed ?? "";
        const w = clampDim(input.width, 1024);
        const h = clampDim(input.height, 1024);
        const note = `workers-ai-emulator model=${entry.name} seed=${seed} prompt=${hex8(fnv1a(prompt))}`;
        const rgb = imageColour(`${entry.name}|${seed}|${stripDirectives(prompt)}`);
        if (family === "flux1") return { image: bytesToBase64(makeJpeg(w, h, rgb, note)) };
        if (family === "flux2") return { image: bytesToBase64(makePng(w, h, rgb, note)) };
        return bytesStream([makePng(w, h, rgb, note)], d);
      }
      case "whisper": {
        const { text } = transcribe(audioBytes);
        const ws = wordTimings(text);
        const end = ws.length ? ws[ws.length - 1].end : 0;
        if (/large-v3-turbo/.test(entry.name)) {
          return {
            transcription_info: {
              language: input.language ?? "en",
              language_probability: 1,
              duration: end,
              duration_after_vad: end,
            },
            text,
            word_count: ws.length,
            segments: ws.length
              ? [
                  {
                    start: 0,
                    end,
                    text,
                    temperature: 0,
                    avg_logprob: -0.1,
                    compression_ratio: 1,
                    no_speech_prob: 0.01,
                    words: ws,
                  },
                ]
              : [],
            vtt: vttOf(text, end),
          };
        }
        return { text, word_count: ws.length, words: ws, vtt: vttOf(text, end) };
      }
      case "tts": {
        const n = Math.min(200, Math.max(4, 2 * words(stripDirectives(input.prompt)).length));
        return { audio: bytesToBase64(silentMp3(n)) };
      }
      case "img2text": {
        const n = Array.isArray(input.image) ? input.image.length : binaryLength(input.image);
        return { description: `Emulated description of an image of ${n} bytes. ${stripDirectives(input.prompt ?? "")}`.trim() };
      }
      default:
        throw codedError(5007, { model });
    }
  }
}

export { Ai, AiError, validate };
export default function makeAi(env) {
  return new Ai(env);
}

// ---------------------------------------------------------------------------------------------
// Benchmark binding (`wrappedBindings: { AI: { scriptName, entrypoint: "makeReplayingAi" } }`):
// the emulator's own answer to each distinct input, recorded the first time it is asked and
// replayed after that. The benchmarks run the emulator in the same workerd thread as the worker
// they measure, and its JavaScript (schema validation, directives, the answer's words) costs more
// CPU than the gateway adds; that cost also moved by ±10 µs between processes, as V8 happened to
// optimise it, which drowned the figure being measured. Replayed, an answer costs the same few
// microseconds in every process, and its bytes are still the emulator's. (On Cloudflare the
// binding's work does not run on the Worker's CPU at all.)

// Across every binding object of this isolate. Bounded: a benchmark asks a few inputs.
const recorded = new Map();
const MAX_RECORDED = 64;

function replay(answer) {
  if (answer.json !== undefined) return JSON.parse(answer.json);
  // Fresh copies: a reader may take ownership of the bytes it is given.
  return new ReadableStream({
    start(controller) {
      for (const chunk of answer.chunks) controller.enqueue(chunk.slice());
      controller.close();
    },
  });
}

const isPlainJson = (value) =>
  Array.isArray(value) || (value !== null && Object.getPrototypeOf(value) === Object.prototype);

/** What `output` will be replayed from, or undefined for outputs not replayed (bytes). */
async function record(output) {
  if (isPlainJson(output)) return { json: JSON.stringify(output) };
  if (!(output instanceof ReadableStream)) return undefined;
  const chunks = [];
  const reader = output.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { chunks };
    chunks.push(typeof value === "string" ? new TextEncoder().encode(value) : value);
  }
}

// Named `Ai` as well, as workers-rs checks the binding's constructor name (the floor fixtures).
const EmulatorAi = Ai;
const ReplayingAi = class Ai {
  constructor(env) {
    this.emulator = new EmulatorAi(env);
  }

  async run(model, inputs, options) {
    const key = `${model}\n${JSON.stringify(inputs)}\n${JSON.stringify(options ?? null)}`;
    let answer = recorded.get(key);
    if (!answer) {
      // Errors are not recorded: each call that fails asks the emulator again. (A stream is read
      // whole first, so one that fails part-way fails here, before any of its bytes.)
      const output = await this.emulator.run(model, inputs, options);
      answer = await record(output);
      if (!answer) return output;
      if (recorded.size < MAX_RECORDED) recorded.set(key, answer);
    }
    return replay(answer);
  }

  models(params) {
    return this.emulator.models(params);
  }
};

export function makeReplayingAi(env) {
  return new ReplayingAi(env);
}
