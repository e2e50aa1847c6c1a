// `npm run dev`: serves the built gateway on http://127.0.0.1:8787 in workerd, offline, with the
// local Workers AI emulator. Keys come from .dev.vars (created from .dev.vars.example).
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, parseDotVars, startGateway } from "./lib/gateway.mjs";

const devVarsPath = join(ROOT, ".dev.vars");
if (!existsSync(devVarsPath)) {
  copyFileSync(join(ROOT, ".dev.vars.example"), devVarsPath);
  console.log("Created .dev.vars from .dev.vars.example");
}
const bindings = parseDotVars(readFileSync(devVarsPath, "utf8"));
const port = Number(process.env.PORT ?? 8787);
const { url, dispose } = await startGateway({
  port,
  bindings,
  verbose: process.env.VERBOSE === "1",
  printLogs: true, // one JSON line per request, as `wrangler tail` would show
});
const key = (bindings.API_KEYS ?? bindings.API_KEY ?? "").split(",")[0].trim();

console.log(`
openai-to-workers-ai is serving on ${url} (workerd, local Workers AI emulator)
  base URL : ${url}/v1
  API key  : ${key}   (from .dev.vars)
  try      : curl ${url}/v1/chat/completions -H "Authorization: Bearer ${key}" \\
               -H "Content-Type: application/json" -d '{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}'
Press Ctrl-C to stop.`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await dispose();
    process.exit(0);
  });
}
