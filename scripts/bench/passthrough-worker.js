// Benchmark floor: the thinnest possible worker that calls Workers AI (the same emulator) and
// returns its answer untouched — JSON re-serialised, streams passed through as they are.
export default {
  async fetch(request, env) {
    const body = await request.json();
    const inputs = { messages: body.messages, max_tokens: body.max_tokens ?? 256, stream: body.stream === true };
    const output = await env.AI.run("@cf/meta/llama-3-8b-instruct", inputs);
    if (output instanceof ReadableStream) {
      return new Response(output, { headers: { "content-type": "text/event-stream" } });
    }
    return Response.json(output);
  },
};
