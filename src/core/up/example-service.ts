/**
 * The quick start's demo service, so that examples/quickstart runs on a machine with nothing but
 * the devx binary (no node, python or busybox). It is what it looks like: a tiny HTTP server with
 * /health, and an optional upstream it calls on `/` to show the dependency env at work.
 */
export interface ExampleServiceOptions {
  name: string;
  port: number;
  upstream?: string;
  /** seconds before it starts listening, to make a slow dependency visible */
  delay?: number;
  signal: AbortSignal;
  log(line: string): void;
}

export async function runExampleService(o: ExampleServiceOptions): Promise<void> {
  if (o.delay) await Bun.sleep(o.delay * 1000);
  const started = Date.now();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: o.port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/health") return new Response("ok\n");
      if (path !== "/") return new Response("not found\n", { status: 404 });
      let upstream: unknown;
      if (o.upstream) {
        upstream = await fetch(o.upstream, { signal: AbortSignal.timeout(2000) })
          .then((r) => r.json())
          .catch((e: Error) => ({ error: e.message }));
      }
      o.log(`GET / from ${req.headers.get("user-agent") ?? "?"}`);
      return Response.json({ service: o.name, uptimeMs: Date.now() - started, upstream });
    },
  });
  o.log(`${o.name} listening on http://127.0.0.1:${server.port}${o.upstream ? ` (upstream ${o.upstream})` : ""}`);
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) return resolve();
    o.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  o.log(`${o.name} stopping`);
  server.stop(true);
}
