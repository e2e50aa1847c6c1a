// The benchmarks' binding (`makeReplayingAi`): the emulator's answers, recorded and replayed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./_harness.mjs";

let emu;
let replaying;
before(async () => {
  [emu, replaying] = await Promise.all([startEmulator(), startEmulator({ entrypoint: "makeReplayingAi" })]);
});
after(async () => Promise.all([emu?.close(), replaying?.close()]));

const LLAMA = "@cf/meta/llama-3-8b-instruct";
const chat = (stream) => ({ messages: [{ role: "user", content: "Say something. [[emu:tokens=12]]" }], stream });

test("the binding's constructor is named Ai, as workers-rs expects", async () => {
  assert.equal(await replaying.ctor(), "Ai");
});

test("a JSON answer is the emulator's, the first time and when replayed", async () => {
  const expected = await emu.run(LLAMA, chat(false));
  assert.equal(expected.kind, "json");
  for (let i = 0; i < 3; i++) assert.deepEqual(await replaying.run(LLAMA, chat(false)), expected);
});

test("a stream is the emulator's bytes, the first time and when replayed", async () => {
  const expected = await emu.run(LLAMA, chat(true));
  assert.equal(expected.kind, "stream");
  for (let i = 0; i < 3; i++) assert.equal((await replaying.run(LLAMA, chat(true))).text, expected.text);
});

test("errors are the emulator's, and are not recorded", async () => {
  const failing = { messages: [{ role: "user", content: "x [[emu:error=3040]]" }] };
  const expected = await emu.run(LLAMA, failing);
  assert.equal(expected.kind, "error");
  for (let i = 0; i < 2; i++) assert.deepEqual(await replaying.run(LLAMA, failing), expected);
});
