#!/usr/bin/env node
// Builds emulator/catalogue.json from Cloudflare's documented Workers AI model schemas.
//
//   node scripts/gen-emulator-catalogue.mjs            (reads ../shared/reference/workers-ai-models)
//   SHARED_DIR=/path/to/shared node scripts/gen-emulator-catalogue.mjs
//
// Each entry is the model's catalogue record as `env.AI.models()` returns it
// (id, source, name, description, task, created_at, tags, properties) plus
// `input_schema` (the documented `schema.input`, with prose `description`
// keywords removed to keep the file small). The emulator validates inputs
// against `input_schema` and strips it from `models()` answers.
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sharedDir = process.env.SHARED_DIR ? resolve(process.env.SHARED_DIR) : resolve(repoRoot, "../shared");
const modelsDir = join(sharedDir, "reference", "workers-ai-models");
const outFile = join(repoRoot, "emulator", "catalogue.json");

if (!existsSync(modelsDir)) {
  console.error(`gen-emulator-catalogue: ${modelsDir} not found (set SHARED_DIR)`);
  process.exit(1);
}

// Keywords whose value is a sub-schema / a map or list of sub-schemas.
const SCHEMA_MAP_KEYS = new Set(["properties", "patternProperties", "definitions", "$defs"]);
const SCHEMA_LIST_KEYS = new Set(["oneOf", "anyOf", "allOf", "prefixItems"]);
const SCHEMA_KEYS = new Set(["items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"]);

/** Drops prose (`description`, `title` stays: it names oneOf branches) from a JSON schema, keeping property names intact. */
function slimSchema(node) {
  if (Array.isArray(node)) return node.map(slimSchema);
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "description" && typeof v === "string") continue;
    if (SCHEMA_MAP_KEYS.has(k) && v && typeof v === "object" && !Array.isArray(v)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, slimSchema(sub)]));
    } else if (SCHEMA_LIST_KEYS.has(k) && Array.isArray(v)) {
      out[k] = v.map(slimSchema);
    } else if (SCHEMA_KEYS.has(k)) {
      out[k] = slimSchema(v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

const files = readdirSync(modelsDir).filter((f) => f.endsWith(".json")).sort();
const entries = [];
for (const file of files) {
  const doc = JSON.parse(readFileSync(join(modelsDir, file), "utf8"));
  const entry = {
    id: doc.id,
    source: doc.source ?? 1,
    name: doc.name,
    description: doc.description ?? "",
    task: doc.task,
    created_at: doc.created_at ?? null,
    tags: doc.tags ?? [],
    properties: doc.properties ?? [],
  };
  const input = doc.schema?.input;
  if (input && typeof input === "object" && Object.keys(input).length > 0) entry.input_schema = slimSchema(input);
  entries.push(entry);
}
entries.sort((a, b) => a.name.localeCompare(b.name));

// One entry per line: small diffs, still valid JSON.
const text = "[\n" + entries.map((e) => JSON.stringify(e)).join(",\n") + "\n]\n";
writeFileSync(outFile, text);
console.log(`gen-emulator-catalogue: wrote ${entries.length} models to ${outFile} (${text.length} bytes)`);
