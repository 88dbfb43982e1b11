import * as v from "valibot";
import { defineCommand, list, number, option, optionWithDefault } from "../../define.ts";
import { UsageError } from "../../../errors.ts";

export default defineCommand({
  path: ["session", "serve"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "run the sessions' control plane: HTTP API, runner proxy, sandboxes on this machine's podman",
  description:
    "Serves /api/v1 (API tokens from `devx session token create`) and routes /s/<id>/… to each session's runner.\n" +
    "Sessions run as podman containers from --image (build one with `bun scripts/build-session-image.ts`); their\n" +
    "workspace is a labelled volume kept across stop/start and removed with the session — or, with --relay, pushed\n" +
    "to the team's bucket at stop (incrementally, verified before the sandbox goes; a failed push keeps the sandbox\n" +
    "as persist-failed and is retried) and pulled at start. See docs/sessions.md.",
  examples: ["devx session serve --image localhost/devx-session:abc123", "devx session serve --relay s3://team-bucket/devx-sessions --workspace-key-file ~/.config/devx/session.key", "devx session serve --listen 127.0.0.1:7420 --store redis://127.0.0.1:6379"],
  options: v.object({
    listen: optionWithDefault("address to listen on", "127.0.0.1:7420", { placeholder: "host:port" }),
    store: option("where sessions and tokens are kept: sqlite (the state directory) or redis://host:port (also DEVX_SESSION_STORE)", { placeholder: "sqlite|redis://…" }),
    image: option("image of the `default` template (a session image with devx in it)", { placeholder: "image" }),
    authLimit: number("failed authentications per client address per minute before 429 (shared by replicas)", { placeholder: "n", min: 1, max: 1_000_000, default: 20 }),
    watchInterval: optionWithDefault("how often sandboxes are checked (idle stops, crashes, orphans)", "10s", { placeholder: "duration" }),
    relay: option("the team's bucket for workspaces: s3://bucket/prefix, gs://bucket/prefix or file:///dir (also DEVX_SESSION_RELAY); without one a workspace lives in its volume only", { placeholder: "uri" }),
    workspaceKeyFile: option("a file of at least 32 secret bytes: workspaces are encrypted in the bucket under keys derived from it (every replica needs the same file)", { placeholder: "path", complete: "files" }),
    checkpointInterval: optionWithDefault("with --relay: push a running session's workspace this often, so a crash loses at most this much", "10m", { placeholder: "duration" }),
    exclude: list("paths never pushed to the bucket, gitignore-style (default node_modules)", { placeholder: "pattern" }),
  }),
  async run(opts, deps) {
    const { openStore, storeLabel } = await import("./context.ts");
    const listen = /^(.+):(\d{1,5})$/.exec(opts.listen);
    if (!listen || Number(listen[2]) > 65535) throw new UsageError(`bad --listen "${opts.listen}"`, "use host:port, e.g. 127.0.0.1:7420");
    const { parseDuration } = await import("../../../config/duration.ts");
    const watchMs = parseDuration(opts.watchInterval);
    if (watchMs === undefined || watchMs < 100) throw new UsageError(`bad --watch-interval "${opts.watchInterval}"`, "use a duration such as 10s");
    const checkpointMs = parseDuration(opts.checkpointInterval);
    if (checkpointMs === undefined || checkpointMs < 1000) throw new UsageError(`bad --checkpoint-interval "${opts.checkpointInterval}"`, "use a duration such as 10m (at least 1s)");
    if (opts.image !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/.test(opts.image)) throw new UsageError(`bad --image "${opts.image}"`, "an image reference such as localhost/devx-session:abc123");
    const relayUri = opts.relay ?? deps.env.DEVX_SESSION_RELAY;
    if (opts.dryRun) {
      const plan = { listen: opts.listen, store: storeLabel(deps, opts.store), image: opts.image ?? null, relay: relayUri ?? null };
      deps.io.out.write(deps.global.json ? JSON.stringify({ plan }) + "\n" : `would serve the session control plane on http://${opts.listen} (store: ${plan.store}${opts.image ? `, default template image ${opts.image}` : ""}; workspaces ${relayUri ? `pushed to ${relayUri}` : "in their volumes only"})\n`);
      return 0;
    }
    const { join } = await import("node:path");
    const { hostname } = await import("node:os");
    const { SessionController } = await import("../../../core/session/controller.ts");
    const { startControlPlane } = await import("../../../core/session/server.ts");
    const { bucketPersistence, volumeOnlyPersistence } = await import("../../../core/session/persistence.ts");
    let persistence = volumeOnlyPersistence;
    if (relayUri) {
      const { openRelay } = await import("../../../../providers/relay/index.ts");
      const relay = openRelay(relayUri, { env: deps.env, exec: deps.exec });
      await relay.check();
      let key: Buffer | undefined;
      if (opts.workspaceKeyFile) {
        const { readFile } = await import("node:fs/promises");
        key = await readFile(opts.workspaceKeyFile).catch((e: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot read --workspace-key-file ${opts.workspaceKeyFile}: ${e.code ?? e.message}`, "make one with: head -c 32 /dev/urandom > key && chmod 600 key");
        });
        if (key.length < 32) throw new UsageError(`--workspace-key-file ${opts.workspaceKeyFile} holds ${key.length} bytes, fewer than 32`, "make one with: head -c 32 /dev/urandom > key && chmod 600 key");
      }
      persistence = bucketPersistence(relay, { key, excludes: opts.exclude.length ? opts.exclude : undefined });
    }
    const { PodmanSessionBackend } = await import("../../../../providers/session/podman.ts");
    const store = (await openStore(deps, opts.store))!;
    // this control plane's sandboxes carry its store's name (replicas on one store share it)
    const { createHash } = await import("node:crypto");
    const plane = createHash("sha256").update(storeLabel(deps, opts.store)).digest("hex").slice(0, 12);
    if (opts.image) await store.putTemplate({ name: "default", image: opts.image, description: "the image given to devx session serve --image", created: new Date().toISOString() });
    else if (!(await store.getTemplate("default"))) deps.emit({ type: "warning", message: "no `default` template: creating a session needs --image once (or a template)", hint: "bun scripts/build-session-image.ts prints an image" });
    const controller = new SessionController({
      store,
      backend: new PodmanSessionBackend({ exec: deps.exec, secretsDir: join(deps.paths.state, "sessions", "secrets"), plane }),
      persistence,
      emit: deps.emit,
      holder: `${hostname()}:${process.pid}`,
      now: () => new Date(),
      bucketPrefix: "sessions",
      checkpointEveryMs: relayUri ? checkpointMs : undefined,
    });
    let cp: ReturnType<typeof startControlPlane>;
    try {
      cp = startControlPlane({ controller, hostname: listen[1]!, port: Number(listen[2]), authFailuresPerMinute: opts.authLimit });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") throw new UsageError(`${opts.listen} is in use`, "pick another --listen port");
      throw e;
    }
    // the one line on stdout: whoever started it learns the URL (useful with port 0)
    deps.io.out.write(`${JSON.stringify({ ready: true, url: cp.url, store: store.kind, plane })}\n`);
    let watching = false;
    const timer = setInterval(() => {
      if (watching) return;
      watching = true;
      controller.watch().catch((e) => deps.emit({ type: "warning", message: `watch: ${(e as Error).message}` })).finally(() => (watching = false));
    }, watchMs);
    await new Promise<void>((resolve) => {
      if (deps.signal.aborted) resolve();
      deps.signal.addEventListener("abort", () => resolve(), { once: true });
      // stop cleanly on SIGTERM/SIGINT: the sandboxes keep running and are found again by label
      process.once("SIGTERM", () => resolve());
      process.once("SIGINT", () => resolve());
    });
    clearInterval(timer);
    await cp.stop();
    await store.close();
    return 0;
  },
});
