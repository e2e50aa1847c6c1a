// Node-side loader for the Workers AI emulator (emulator/ai-emulator.js).
//
//   import { emulatorModuleSource, emulatorWorker } from "./emulator/load.mjs";
//   new Miniflare({ workers: [
//     { name: "gateway", modules: true, scriptPath: "build/index.js", wrappedBindings: { AI: { scriptName: "ai-emulator" } } },
//     emulatorWorker(),            // = { name: "ai-emulator", modules: [{ type: "ESModule", path: "ai-emulator.js", contents }] }
//   ]});
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const EMULATOR_DIR = dirname(fileURLToPath(import.meta.url));
export const CATALOGUE_PATH = join(EMULATOR_DIR, "catalogue.json");
export const MODULE_PATH = join(EMULATOR_DIR, "ai-emulator.js");

/** The catalogue the emulator serves (emulator/catalogue.json, built by scripts/gen-emulator-catalogue.mjs). */
export function loadCatalogue() {
  return JSON.parse(readFileSync(CATALOGUE_PATH, "utf8"));
}

/**
 * The emulator's ES module source with the catalogue inlined: line 1 of ai-emulator.js
 * (`const CATALOGUE = …;`) is replaced by `const CATALOGUE = [ …json… ];`.
 * @param {{catalogue?: object[]}} [opts] override the catalogue (e.g. extra test models)
 */
export function emulatorModuleSource(opts = {}) {
  const catalogue = opts.catalogue ?? loadCatalogue();
  const src = readFileSync(MODULE_PATH, "utf8");
  const nl = src.indexOf("\n");
  const first = src.slice(0, nl);
  if (!/^const CATALOGUE = /.test(first)) throw new Error("ai-emulator.js: line 1 must declare `const CATALOGUE = …;`");
  // Non-ASCII escaped: workerd reads a module given as a string as Latin-1, which would garble
  // descriptions such as "OpenAI’s".
  const json = JSON.stringify(catalogue).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `const CATALOGUE = ${json};` + src.slice(nl);
}

/** A miniflare worker definition for the emulator (use with `wrappedBindings: { AI: { scriptName: name } }`). */
export function emulatorWorker(name = "ai-emulator", opts = {}) {
  return { name, modules: [{ type: "ESModule", path: "ai-emulator.js", contents: emulatorModuleSource(opts) }] };
}
