// Validate values against the official OpenAI OpenAPI spec (OpenAPI 3.1).
//
//   import { validateOpenAI, assertOpenAI, openapiAvailable, openapiSkipReason } from '../support/openapi.mjs';
//   test('x', { skip: !openapiAvailable && openapiSkipReason }, () => {
//     assertOpenAI('CreateChatCompletionResponse', body);
//   });
//
// Spec location: `${SHARED_DIR ?? <repo root>/../shared}/reference/openai-openapi.yaml`.
//
// How it works
// ------------
// * The YAML is parsed once per process (≈2 s with the `yaml` package for the ~3 MB
//   file). Because `node --test` runs every test file in its own process, the parsed
//   `components.schemas` are also cached as JSON in os.tmpdir(), keyed by a SHA-256 of
//   the YAML text (≈50 ms to reload). Set OPENAI_OPENAPI_CACHE=0 to disable the cache.
// * `components.schemas` is normalised into plain JSON Schema 2020-12 (see
//   `normalizeSchema`) and registered once with an Ajv2020 instance under a synthetic
//   $id. `validateOpenAI(name, …)` compiles `{$ref: <id>#/components/schemas/<name>}`
//   lazily, the first time a name is used, and caches it; Ajv compiles only the
//   schemas reachable from that name.
// * Ajv's verdict is authoritative. Only when a value fails does `explain()` walk the
//   schema beside the value to produce readable messages: for anyOf/oneOf it drops
//   branches whose JSON type or discriminator (`type: "..."` tag) cannot match, and
//   otherwise reports the branch that got furthest into the value.
//
// OpenAPI-isms and how they are handled
// -------------------------------------
// * `nullable: true` (an OpenAPI 3.0 keyword, meaningless in 3.1 but used ~110 times
//   in this spec) IS HONOURED: `type` gets "null" added (plus `null` in `enum`), or,
//   without `type`, the schema becomes `anyOf: [schema, {type: "null"}]`. A strict 3.1
//   reading would reject what OpenAI really sends in e.g. every chat.completion.chunk:
//   `choices[].finish_reason: null`, `choices[].logprobs: null`, `usage: null` (those
//   three are written with `nullable: true` in CreateChatCompletionStreamResponse).
// * `discriminator` is NOT passed to Ajv (Ajv's support needs oneOf-only, no anyOf, and
//   `const`/`enum` tags in every branch; the spec uses it with anyOf as well). It does
//   not change the verdict: oneOf/anyOf are validated as plain JSON Schema (which is
//   stricter: oneOf requires exactly one match). It is only used for error messages.
// * 3.0-style boolean `exclusiveMinimum`/`exclusiveMaximum` (7 occurrences, request
//   schemas) are converted to the 2020-12 numeric form.
// * `$recursiveRef: "#"` (2019-09, used by CompoundFilter/BetaCompoundFilter) becomes a
//   `$ref` to the enclosing component; `$recursiveAnchor` is dropped.
// * `$ref` siblings are kept (2020-12 evaluates them); they are only description,
//   title, default, deprecated, nullable and once `type: object` in this spec.
// * Annotations (`description`, `example(s)`, `default`, `deprecated`, `readOnly`,
//   `writeOnly`, every `x-*`) and unknown words are dropped before Ajv sees them. The
//   unknown words found in this spec are typos that carry no validation meaning for a
//   3.1 validator anyway: `optional: true` (CreateTranscriptionResponseJson.logprobs)
//   and `min_items`/`max_items` (GraderScoreModel.range.items). They are NOT turned
//   into minItems/maxItems.
// * Formats are validated with ajv-formats ("full" mode: uri, date, int64, float,
//   double, binary, ...) plus `unixtime` (any finite number >= 0; integer-ness comes
//   from `type`).
// * Everything else (`required`, `additionalProperties`, `enum`, `const`, min/max, ...)
//   is enforced exactly as written.
//
// Known places where the spec (as written) is stricter or looser than real traffic
// --------------------------------------------------------------------------------
// Not loosened here; listed so that a failing e2e test can be triaged quickly.
// * ResponseUsage.input_tokens_details requires BOTH `cached_tokens` and
//   `cache_write_tokens`; OpenAI's Responses API has long returned only
//   `{"cached_tokens": 0}` there. Gateways must emit `cache_write_tokens` to pass.
// * CompletionUsage in CreateChatCompletionResponse / CreateCompletionResponse is not
//   nullable (only the stream chunk's `usage` is) - fine for OpenAI, which always
//   sends usage on non-streamed responses.
// * Response.usage is not nullable and Response.user is string-only, yet OpenAI's own
//   streaming example sends `"usage": null` and `"user": null` inside the in-progress
//   Response of `response.created` / `response.in_progress`. Omit them instead.
// * OutputTextContent and ResponseTextDeltaEvent require `logprobs` (an array); older
//   OpenAI traffic omitted it, current traffic sends `"logprobs": []`.
// * `system_fingerprint` (chat.completion and chunk) is string-only; OpenAI has sent
//   `"system_fingerprint": null` for some models.
// * Embedding.embedding is array-of-number only, so `encoding_format: "base64"`
//   responses (embedding is a base64 string) are rejected by the spec.
// * ChatCompletionResponseMessage requires `role`, `content` AND `refusal` (OpenAI
//   sends `"refusal": null`); CreateChatCompletionResponse.choices[] requires
//   `logprobs` (OpenAI sends `"logprobs": null`); Error requires `param` and `code`
//   (OpenAI sends them as null when absent). Omitting any of these fails validation.
// * `Model` has no `type: object`, so a non-object (e.g. a string) passes `Model`
//   (JSON Schema `properties`/`required` only constrain objects). ListModelsResponse
//   has `type: object` at the top, but each `data[]` item goes through `Model`.
// * `Image` (ImagesResponse.data[]) has no required properties at all.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import YAML from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const addFormats = addFormatsModule.default ?? addFormatsModule;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Repository root (this file lives in <root>/tests/support/). */
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const SHARED_DIR = process.env.SHARED_DIR ?? path.resolve(REPO_ROOT, '..', 'shared');
export const OPENAPI_SPEC_PATH = path.join(SHARED_DIR, 'reference', 'openai-openapi.yaml');
export const openapiAvailable = fs.existsSync(OPENAPI_SPEC_PATH);
export const openapiSkipReason = openapiAvailable
  ? ''
  : `OpenAI OpenAPI spec not found at ${OPENAPI_SPEC_PATH} (set SHARED_DIR to the directory containing reference/openai-openapi.yaml)`;

/** Response-side schema names the e2e tests are expected to use (all exist in the spec). */
export const KNOWN_RESPONSE_SCHEMAS = Object.freeze([
  'CreateChatCompletionResponse',
  'CreateChatCompletionStreamResponse',
  'CreateCompletionResponse',
  'Response',
  'ResponseStreamEvent',
  'CreateEmbeddingResponse',
  'ImagesResponse',
  'ListModelsResponse',
  'Model',
  'DeleteModelResponse',
  'ErrorResponse',
  'CreateModerationResponse',
  'CreateTranscriptionResponseJson',
  'CreateTranscriptionResponseVerboseJson',
  'CreateTranslationResponseJson',
  'CreateTranslationResponseVerboseJson',
]);

const BASE_ID = 'https://openapi.invalid/openai-openapi.json';
const REF_PREFIX = '#/components/schemas/';

// ---------------------------------------------------------------------------
// Loading & normalisation
// ---------------------------------------------------------------------------

const stats = { parseMs: 0, parseSource: '', normalizeMs: 0, registerMs: 0, compileMs: {} };

let state = null; // { schemas, ajv, ajvAll, validators: Map }

function unavailableError() {
  return new Error(`openapi.mjs: ${openapiSkipReason}`);
}

function loadRawSchemas() {
  const t0 = performance.now();
  const text = fs.readFileSync(OPENAPI_SPEC_PATH, 'utf8');
  const useCache = process.env.OPENAI_OPENAPI_CACHE !== '0';
  const hash = crypto.createHash('sha256').update(text).digest('hex').slice(0, 24);
  const cacheFile = path.join(os.tmpdir(), `openai-openapi-schemas-${hash}.json`);
  let schemas;
  if (useCache) {
    try {
      schemas = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
      stats.parseSource = `cache ${cacheFile}`;
    } catch { /* miss */ }
  }
  if (!schemas) {
    const doc = YAML.parse(text, { maxAliasCount: -1 });
    schemas = doc?.components?.schemas;
    if (!schemas || typeof schemas !== 'object') {
      throw new Error(`openapi.mjs: ${OPENAPI_SPEC_PATH} has no components.schemas`);
    }
    stats.parseSource = 'yaml';
    if (useCache) {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(schemas));
        fs.renameSync(tmp, cacheFile);
      } catch { /* cache is best effort */ }
    }
  }
  stats.parseMs = Math.round(performance.now() - t0);
  return schemas;
}

// Keywords whose value is a schema / a map of schemas / an array of schemas.
const SUB_SCHEMA = new Set(['items', 'additionalProperties', 'not', 'contains', 'propertyNames', 'if', 'then', 'else', 'unevaluatedProperties', 'unevaluatedItems']);
const SUB_SCHEMA_MAP = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);
const SUB_SCHEMA_ARRAY = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
// Keywords kept verbatim. `title` and `discriminator` are ignored by Ajv (strict: false)
// but used for error messages.
const KEEP = new Set([
  'type', 'enum', 'const', 'required', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'multipleOf', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems', 'minContains',
  'maxContains', 'minProperties', 'maxProperties', 'dependentRequired', '$ref', 'title', 'discriminator',
]);
const ANNOTATIONS = new Set(['description', 'example', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly', '$comment', 'contentEncoding', 'contentMediaType', 'nullable', '$recursiveAnchor', '$schema']);

/** Unknown keywords dropped during normalisation: keyword -> [locations]. */
export const droppedKeywords = new Map();

function normalizeSchema(node, component, where) {
  if (typeof node === 'boolean') return node;
  if (!node || typeof node !== 'object' || Array.isArray(node)) {
    throw new Error(`openapi.mjs: unexpected schema at ${where}: ${JSON.stringify(node)?.slice(0, 100)}`);
  }
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (SUB_SCHEMA.has(k)) out[k] = normalizeSchema(v, component, `${where}/${k}`);
    else if (SUB_SCHEMA_MAP.has(k)) {
      out[k] = {};
      for (const [name, sub] of Object.entries(v)) out[k][name] = normalizeSchema(sub, component, `${where}/${k}/${name}`);
    } else if (SUB_SCHEMA_ARRAY.has(k)) out[k] = v.map((sub, i) => normalizeSchema(sub, component, `${where}/${k}/${i}`));
    else if (k === '$ref') {
      if (typeof v !== 'string' || !v.startsWith(REF_PREFIX)) throw new Error(`openapi.mjs: unsupported $ref ${v} at ${where}`);
      out.$ref = BASE_ID + v;
    } else if (k === '$recursiveRef') {
      if (v !== '#') throw new Error(`openapi.mjs: unsupported $recursiveRef ${v} at ${where}`);
      out.$ref = BASE_ID + REF_PREFIX + component;
    } else if (KEEP.has(k)) out[k] = v;
    else if (ANNOTATIONS.has(k) || k.startsWith('x-')) { /* drop */ }
    else {
      if (!droppedKeywords.has(k)) droppedKeywords.set(k, []);
      droppedKeywords.get(k).push(where);
    }
  }
  // OpenAPI 3.0 boolean exclusiveMinimum/Maximum -> 2020-12 numbers.
  for (const [ex, lim] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']]) {
    if (typeof out[ex] === 'boolean') {
      if (out[ex] && typeof out[lim] === 'number') { out[ex] = out[lim]; delete out[lim]; } else delete out[ex];
    }
  }
  if (node.nullable === true) return makeNullable(out);
  return out;
}

function makeNullable(s) {
  const combined = s.$ref || s.allOf || s.anyOf || s.oneOf || s.not;
  if (s.type !== undefined && !combined) {
    // `type` is the only keyword here that can reject null (properties, items,
    // minLength, ... ignore other types), apart from enum/const handled below.
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.includes('null')) s.type = [...types, 'null'];
    if (Array.isArray(s.enum) && !s.enum.includes(null)) s.enum = [...s.enum, null];
    if ('const' in s && s.const !== null) { s.enum = [s.const, null]; delete s.const; }
    return s;
  }
  const { title, discriminator, ...rest } = s;
  if (discriminator) rest.discriminator = discriminator;
  if (Object.keys(rest).length === 0) return s; // {} already accepts null
  return { ...(title ? { title } : {}), anyOf: [rest, { type: 'null' }] };
}

function setup() {
  if (state) return state;
  if (!openapiAvailable) throw unavailableError();
  const raw = loadRawSchemas();

  let t0 = performance.now();
  const schemas = {};
  for (const [name, s] of Object.entries(raw)) schemas[name] = normalizeSchema(s, name, name);
  stats.normalizeMs = Math.round(performance.now() - t0);

  t0 = performance.now();
  const opts = { strict: false, allowUnionTypes: true, validateFormats: true, allErrors: false, messages: true };
  const ajv = new Ajv2020({ ...opts, validateSchema: false });
  const ajvAll = new Ajv2020({ ...opts, allErrors: true });
  for (const a of [ajv, ajvAll]) {
    addFormats(a);
    a.addFormat('unixtime', { type: 'number', validate: (n) => Number.isFinite(n) && n >= 0 });
    a.addFormat('binary', true);
  }
  ajv.addSchema({ $id: BASE_ID, components: { schemas } });
  stats.registerMs = Math.round(performance.now() - t0);

  state = { schemas, ajv, ajvAll, validators: new Map(), checks: new WeakMap(), locals: new WeakMap() };
  return state;
}

/** Names of all component schemas in the spec. */
export function listOpenAISchemas() {
  return Object.keys(setup().schemas);
}

export function hasOpenAISchema(name) {
  return Object.hasOwn(setup().schemas, name);
}

/** Timing information: YAML/cache load, normalisation, and per-schema compile times (ms). */
export function openapiStats() {
  return structuredClone(stats);
}

function getValidator(name) {
  const st = setup();
  let v = st.validators.get(name);
  if (v) return v;
  if (!Object.hasOwn(st.schemas, name)) {
    const close = Object.keys(st.schemas).filter((n) => n.toLowerCase().includes(String(name).toLowerCase())).slice(0, 10);
    throw new Error(`openapi.mjs: no schema named ${JSON.stringify(name)} in components.schemas${close.length ? ` (similar: ${close.join(', ')})` : ''}`);
  }
  const t0 = performance.now();
  v = st.ajv.compile({ $ref: BASE_ID + REF_PREFIX + name });
  stats.compileMs[name] = Math.round(performance.now() - t0);
  st.validators.set(name, v);
  return v;
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * Validate `value` against components.schemas[schemaName].
 * @returns {string[]} [] when valid, else readable messages ("<instancePath>: <message>"),
 *   deduplicated, deepest (most specific) first.
 */
export function validateOpenAI(schemaName, value) {
  const validate = getValidator(schemaName);
  if (validate(value)) return [];
  const st = state;
  const errs = [];
  try {
    explain(st, st.schemas[schemaName], value, '', errs);
  } catch (e) {
    errs.push({ path: '', msg: `(error explainer failed: ${e.stack})` });
  }
  if (errs.length === 0) {
    // Should not happen; fall back to Ajv's own first error.
    for (const e of validate.errors ?? []) errs.push({ path: e.instancePath, msg: formatAjvMessage(e) });
  }
  return finish(errs);
}

/** Throw if `value` does not validate against `schemaName`. */
export function assertOpenAI(schemaName, value, label = '') {
  const errors = validateOpenAI(schemaName, value);
  if (errors.length === 0) return;
  const head = `${label ? `${label}: ` : ''}value does not match OpenAI schema ${schemaName}`;
  const err = new Error(`${head}:\n${errors.map((e) => `  - ${e}`).join('\n')}\nvalue: ${trimmedJson(value)}`);
  err.schemaName = schemaName;
  err.validationErrors = errors;
  throw err;
}

/** Compact JSON for messages: long arrays/strings elided, total capped. */
export function trimmedJson(value, maxChars = 2000) {
  const seen = new WeakSet();
  const shrink = (v, depth) => {
    if (typeof v === 'string') return v.length > 200 ? `${v.slice(0, 200)}…(+${v.length - 200} chars)` : v;
    if (!v || typeof v !== 'object') return v;
    if (seen.has(v)) return '[circular]';
    seen.add(v);
    if (depth > 8) return Array.isArray(v) ? '[…]' : '{…}';
    if (Array.isArray(v)) {
      const out = v.slice(0, 8).map((x) => shrink(x, depth + 1));
      if (v.length > 8) out.push(`…(+${v.length - 8} more items)`);
      return out;
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shrink(x, depth + 1)]));
  };
  let s;
  try { s = JSON.stringify(shrink(value, 0)); } catch (e) { s = `<unserialisable: ${e.message}>`; }
  if (s === undefined) s = String(value);
  return s.length > maxChars ? `${s.slice(0, maxChars)}…(+${s.length - maxChars} chars)` : s;
}

// ---------------------------------------------------------------------------
// Error explanation
// ---------------------------------------------------------------------------

function finish(errs) {
  const depth = (p) => (p ? p.split('/').length - 1 : 0);
  const items = errs
    .map((e, i) => (typeof e === 'string' ? { path: '', msg: e, i } : { ...e, i }))
    .sort((a, b) => depth(b.path) - depth(a.path) || a.i - b.i);
  const out = [];
  const seen = new Set();
  for (const e of items) {
    const s = `${e.path || '(root)'}: ${e.msg}`;
    if (!seen.has(s)) { seen.add(s); out.push(s); }
  }
  return out;
}

const ptr = (p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1');

function jsonType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v; // string, boolean, object
}

function resolveRef(st, ref) {
  const name = ref.slice((BASE_ID + REF_PREFIX).length);
  const s = st.schemas[name];
  if (!s) throw new Error(`unresolvable $ref ${ref}`);
  return s;
}

function refName(ref) {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

function check(st, node, value) {
  if (node === true) return true;
  if (node === false) return false;
  let v = st.checks.get(node);
  if (!v) {
    v = st.ajv.compile(node);
    st.checks.set(node, v);
  }
  return v(value);
}

function formatAjvMessage(e) {
  const p = e.params ?? {};
  switch (e.keyword) {
    case 'enum': return `${e.message}: ${p.allowedValues.map((x) => JSON.stringify(x)).join(', ')}`;
    case 'const': return `must be equal to constant ${JSON.stringify(p.allowedValue)}`;
    case 'additionalProperties': return `must NOT have additional property ${JSON.stringify(p.additionalProperty)}`;
    case 'required': return `must have required property ${JSON.stringify(p.missingProperty)}`;
    case 'type': return `must be ${Array.isArray(p.type) ? p.type.join(' or ') : p.type}`;
    default: return e.message;
  }
}

// Keywords that are evaluated "locally" (on this instance, not on children).
const LOCAL_DROP = new Set(['$ref', 'allOf', 'anyOf', 'oneOf', 'not', 'items', 'prefixItems', 'contains', 'title', 'discriminator', 'if', 'then', 'else', 'dependentSchemas', 'unevaluatedProperties', 'unevaluatedItems']);

function localSchema(st, node) {
  let l = st.locals.get(node);
  if (l) return l;
  l = {};
  for (const [k, v] of Object.entries(node)) {
    if (LOCAL_DROP.has(k)) continue;
    if (k === 'properties' || k === 'patternProperties') l[k] = Object.fromEntries(Object.keys(v).map((n) => [n, true]));
    else if (k === 'additionalProperties') { if (v === false) l[k] = false; }
    else if (k === 'propertyNames') l[k] = v;
    else l[k] = v;
  }
  const compiled = st.ajvAll.compile(l);
  st.locals.set(node, compiled);
  return compiled;
}

function label(st, branch, i) {
  if (branch && typeof branch === 'object') {
    if (branch.$ref) return refName(branch.$ref);
    if (branch.title) return JSON.stringify(branch.title);
    if (branch.type) return `<${[].concat(branch.type).join('|')}>`;
  }
  return `#${i}`;
}

/** Follow $ref chains to the schema that carries `type`/`properties` (best effort). */
function deref(st, node, depth = 0) {
  while (node && typeof node === 'object' && node.$ref && depth++ < 20) {
    const target = resolveRef(st, node.$ref);
    const { $ref, ...sib } = node;
    node = Object.keys(sib).length ? { ...target, ...sib } : target;
  }
  return node;
}

function possibleTypes(st, node, depth = 0) {
  node = deref(st, node);
  if (node === true || !node || typeof node !== 'object' || depth > 10) return null; // unknown
  if (node === false) return new Set();
  if (node.type) return new Set([].concat(node.type));
  if (node.const !== undefined) return new Set([jsonType(node.const)]);
  if (node.enum) return new Set(node.enum.map(jsonType));
  const alts = node.anyOf ?? node.oneOf;
  if (alts) {
    const s = new Set();
    for (const b of alts) {
      const t = possibleTypes(st, b, depth + 1);
      if (!t) return null;
      t.forEach((x) => s.add(x));
    }
    return s;
  }
  if (node.allOf) {
    for (const b of node.allOf) { const t = possibleTypes(st, b, depth + 1); if (t) return t; }
  }
  if (node.properties || node.required) return new Set(['object']);
  return null;
}

function typeCompatible(types, value) {
  if (!types) return true;
  const t = jsonType(value);
  return types.has(t) || (t === 'integer' && types.has('number'));
}

/** Values a branch allows for object property `key` if it pins it to constants, else null. */
function tagValues(st, branch, key) {
  const b = deref(st, branch);
  const candidates = [b, ...(b?.allOf ?? []).map((x) => deref(st, x))];
  for (const c of candidates) {
    const p = c?.properties?.[key];
    if (!p || typeof p !== 'object') continue;
    const dp = deref(st, p);
    if (dp.const !== undefined) return [dp.const];
    if (Array.isArray(dp.enum)) return dp.enum;
  }
  return null;
}

function explain(st, node, value, path, out) {
  if (node === true) return;
  if (node === false) { out.push({ path, msg: 'no value is allowed here' }); return; }
  if (check(st, node, value)) return;
  const before = out.length;

  if (node.$ref) {
    explain(st, resolveRef(st, node.$ref), value, path, out);
    const { $ref, title, discriminator, ...sib } = node;
    if (Object.keys(sib).length) explain(st, sib, value, path, out);
    return;
  }

  for (const sub of node.allOf ?? []) explain(st, sub, value, path, out);
  if (node.anyOf) explainAlternatives(st, node, node.anyOf, 'anyOf', value, path, out);
  if (node.oneOf) explainAlternatives(st, node, node.oneOf, 'oneOf', value, path, out);
  if (node.not !== undefined && check(st, node.not, value)) out.push({ path, msg: 'must NOT match the schema in "not"' });

  const local = localSchema(st, node);
  if (!local(value)) {
    for (const e of local.errors) out.push({ path: path + e.instancePath, msg: formatAjvMessage(e) });
  }

  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const props = node.properties ?? {};
    const patterns = Object.keys(node.patternProperties ?? {}).map((p) => [new RegExp(p, 'u'), node.patternProperties[p]]);
    for (const [k, v] of Object.entries(value)) {
      let matched = false;
      if (Object.hasOwn(props, k)) { matched = true; explain(st, props[k], v, `${path}/${ptr(k)}`, out); }
      for (const [re, s] of patterns) if (re.test(k)) { matched = true; explain(st, s, v, `${path}/${ptr(k)}`, out); }
      if (!matched && node.additionalProperties && typeof node.additionalProperties === 'object') {
        explain(st, node.additionalProperties, v, `${path}/${ptr(k)}`, out);
      }
    }
    if (node.propertyNames && typeof node.propertyNames === 'object') {
      for (const k of Object.keys(value)) if (!check(st, node.propertyNames, k)) out.push({ path, msg: `property name ${JSON.stringify(k)} is invalid` });
    }
  } else if (Array.isArray(value)) {
    const prefix = node.prefixItems ?? [];
    value.forEach((v, i) => {
      if (i < prefix.length) explain(st, prefix[i], v, `${path}/${i}`, out);
      else if (node.items !== undefined) explain(st, node.items, v, `${path}/${i}`, out);
    });
    if (node.contains !== undefined && !value.some((v) => check(st, node.contains, v))) {
      out.push({ path, msg: 'must contain at least one item matching "contains"' });
    }
  }

  if (out.length === before) {
    // Nothing more specific found (e.g. if/then/else, unevaluated*): report generically.
    out.push({ path, msg: `does not match schema${node.title ? ` ${JSON.stringify(node.title)}` : ''}` });
  }
}

function explainAlternatives(st, node, branches, kind, value, path, out) {
  const matching = branches.map((b, i) => [b, i]).filter(([b]) => check(st, b, value));
  if (kind === 'oneOf' && matching.length > 1) {
    out.push({ path, msg: `must match exactly one schema in oneOf, but matches ${matching.map(([b, i]) => label(st, b, i)).join(', ')}` });
    return;
  }
  if (matching.length > 0) return;

  let cands = branches.map((b, i) => ({ b, i, name: label(st, b, i) }));
  const vtype = jsonType(value);
  const typed = cands.filter((c) => typeCompatible(possibleTypes(st, c.b), value));
  if (typed.length === 0) {
    const types = new Set();
    for (const c of cands) for (const t of possibleTypes(st, c.b) ?? []) types.add(t);
    out.push({ path, msg: `must be ${[...types].join(' or ')} (got ${vtype})` });
    return;
  }
  cands = typed;

  // Discriminator (explicit, or an implicit tag such as `type`/`object`/`role`).
  if (vtype === 'object' && cands.length > 1) {
    const keys = node.discriminator?.propertyName ? [node.discriminator.propertyName] : ['type', 'object', 'role'];
    for (const key of keys) {
      const tags = cands.map((c) => tagValues(st, c.b, key));
      if (tags.every((t) => t === null)) continue;
      if (!Object.hasOwn(value, key)) {
        if (node.discriminator) {
          out.push({ path, msg: `must have required property ${JSON.stringify(key)} (discriminator)` });
          return;
        }
        continue;
      }
      const hit = cands.filter((c, j) => tags[j] === null || tags[j].some((t) => t === value[key]));
      if (hit.length === 0) {
        const allowed = [...new Set(tags.flat().filter((t) => t !== undefined))];
        out.push({ path: `${path}/${ptr(key)}`, msg: describeTagMismatch(key, value[key], allowed, kind) });
        return;
      }
      cands = hit;
      break;
    }
  }

  if (cands.length === 1) {
    explain(st, cands[0].b, value, path, out);
    return;
  }
  // Several plausible branches: report the one that got furthest into the value
  // (deepest error path), then the one with fewest errors.
  const depth = (p) => (p ? p.split('/').length : 0);
  let best = null;
  for (const c of cands) {
    const errs = [];
    explain(st, c.b, value, path, errs);
    const score = [Math.max(0, ...errs.map((e) => depth(e.path))), -errs.length];
    if (!best || score[0] > best.score[0] || (score[0] === best.score[0] && score[1] > best.score[1])) best = { c, errs, score };
  }
  out.push(...best.errs);
  out.push({ path, msg: `matches none of the ${cands.length} ${kind} alternatives ${cands.map((c) => c.name).join(', ')}; closest is ${best.c.name} (errors above)` });
}

function describeTagMismatch(key, got, allowed, kind) {
  const shown = allowed.slice(0, 12).map((t) => JSON.stringify(t)).join(', ');
  const more = allowed.length > 12 ? `, … (${allowed.length - 12} more)` : '';
  let hint = '';
  if (typeof got === 'string') {
    const near = allowed
      .filter((t) => typeof t === 'string')
      .map((t) => [t, editDistance(t, got)])
      .sort((a, b) => a[1] - b[1])[0];
    if (near && near[1] <= Math.max(2, Math.floor(got.length / 4))) hint = `; did you mean ${JSON.stringify(near[0])}?`;
  }
  return `no ${kind} alternative has ${key}=${JSON.stringify(got)}${hint} (allowed: ${shown}${more})`;
}

function editDistance(a, b) {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}
