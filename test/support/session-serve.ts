import type { Subprocess } from "bun";

export interface ServeReady {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  store: string;
  plane: string;
}

/**
 * `devx session serve` (the binary `bin`) on a free 127.0.0.1 port: resolves with its ready line
 * (`{"ready":true,"url",…}`) once it listens; its stderr is collected into `log`. Shared by the
 * session tests and bench/session.ts.
 */
export async function startServe(bin: string, args: string[], env: Record<string, string>, log: string[]): Promise<ServeReady> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  const proc = Bun.spawn([bin, "session", "serve", "--listen", `127.0.0.1:${port}`, ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  void (async () => {
    const r = proc.stderr.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      log.push(new TextDecoder().decode(value));
    }
  })();
  const reader = proc.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`devx session serve exited (${await proc.exited}): ${log.join("")}`);
    line += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const ready = JSON.parse(line.split("\n")[0]!) as { ready: boolean; url: string; store: string; plane: string };
  if (!ready.ready) throw new Error(`devx session serve is not ready: ${line}`);
  return { proc, url: ready.url, store: ready.store, plane: ready.plane };
}

/** The session image for `bin` (built offline on the test Debian base; cached by content). */
export async function sessionImage(bin: string): Promise<string> {
  const { ensureBase, BASE_IMAGE } = await import("../../scripts/build-test-images.ts");
  const { buildSessionImage } = await import("../../scripts/build-session-image.ts");
  await ensureBase();
  return buildSessionImage({ base: BASE_IMAGE, binary: bin });
}
