// Starts the gateway (build/ + Workers AI emulator, see scripts/lib/gateway.mjs) for out-of-process
// clients such as tests/python/smoke.py. Prints the base URL (e.g. http://127.0.0.1:40123) as the
// first stdout line once it is ready, then stays up until SIGTERM/SIGINT/SIGHUP or until stdin
// closes (so the server cannot outlive a runner that holds its stdin open). With `--no-stdin`
// stdin is ignored (e.g. when started with </dev/null).
//
//   node tests/python/serve.mjs [--port N] [--no-stdin]
// Env: API_KEYS (default "sk-test-abc123,sk-alice-xyz789"), VERBOSE=1 for workerd logs.
import { startGateway } from "../../scripts/lib/gateway.mjs";

const args = process.argv.slice(2);
const portArg = args.indexOf("--port");
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;
const watchStdin = !args.includes("--no-stdin");

const gw = await startGateway({
  port,
  bindings: { API_KEYS: process.env.API_KEYS ?? "sk-test-abc123,sk-alice-xyz789" },
  verbose: process.env.VERBOSE === "1",
});
process.stdout.write(`${gw.url}\n`);

let stopping = false;
async function stop(why) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`serve.mjs: stopping (${why})\n`);
  const timer = setTimeout(() => process.exit(1), 5000);
  timer.unref();
  try {
    await gw.dispose();
  } finally {
    process.exit(0);
  }
}
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => stop(sig));
if (watchStdin) {
  process.stdin.on("end", () => stop("stdin closed"));
  process.stdin.on("close", () => stop("stdin closed"));
  process.stdin.on("error", () => stop("stdin error"));
  process.stdin.resume();
}
