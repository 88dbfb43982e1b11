import type { ContainerRuntime } from "../../../../providers/runtime/types.ts";
import { devxLabels, LABEL } from "../../labels.ts";
import { isSecretEntry } from "../env.ts";
import { runImage } from "../../run-image.ts";
import type { NodeRuntime, Running, StartContext } from "./types.ts";

export function containerName(project: string, node: string): string {
  return `devx-${project}-${node}`;
}

/**
 * A container service through the ContainerRuntime interface: devx labels, the resolved host port
 * published on 127.0.0.1 only, output followed into the node's log. The container ends when its
 * log stream ends; stop = the runtime's stop with the grace period, then remove.
 */
export function containerRuntime(runtime: () => Promise<ContainerRuntime>): NodeRuntime {
  return {
    async start(ctx: StartContext): Promise<Running> {
      const rt = await runtime();
      const s = ctx.node.service!;
      const name = containerName(ctx.project, ctx.node.name);
      // A container left by a crashed run would hold the name.
      await rt.remove(name, { force: true }).catch(() => {});
      const containerPort = s.container_port ?? s.port;
      // Secret-looking entries (…PASSWORD, a URL with a password) reach the container through the
      // runtime's environment (`-e NAME`), never its argv.
      const env: Record<string, string> = {};
      const secretEnv: Record<string, string> = {};
      for (const [k, v] of Object.entries(ctx.env)) (isSecretEntry(k, v) ? secretEnv : env)[k] = v;
      if (containerPort !== undefined) env.PORT = String(containerPort);
      await runImage(rt, {
        name,
        image: s.image!,
        command: s.command === undefined ? undefined : Array.isArray(s.command) ? s.command : ["sh", "-c", s.command],
        env,
        secretEnv,
        labels: devxLabels(ctx.project, "service", { [LABEL.service]: ctx.node.name, ...(ctx.runId ? { [LABEL.session]: ctx.runId } : {}) }),
        ports: ctx.port !== undefined && containerPort !== undefined ? [{ hostIp: "127.0.0.1", hostPort: ctx.port, containerPort }] : [],
        volumes: (s.volumes ?? []).flatMap((v) => {
          const [vol, dest] = v.split(":");
          return vol && dest ? [{ name: vol, destination: dest }] : [];
        }),
      }, { what: ctx.node.name, emit: ctx.emit ?? (() => {}), hint: "check the registry is reachable, or point devx.yaml `services[].image` at an image you have" }).catch(async (e: unknown) => {
        // a run that failed after create (a port bind) leaves a created container holding the name
        await rt.remove(name, { force: true }).catch(() => {});
        throw e;
      });
      const exited = (async () => {
        try {
          for await (const l of rt.logs(name, { follow: true })) ctx.line(l, "stdout");
        } catch {
          /* the stream fails when the container is removed under us */
        }
        const info = await rt.inspectContainer(name).catch(() => undefined);
        // the runtime reports no exit code: a container that ended without being stopped counts as failed
        return info?.state === "running" ? 0 : 1;
      })();
      let stopped = false;
      return {
        exited: exited.then(async (code) => {
          if (!stopped) await rt.remove(name, { force: true }).catch(() => {});
          return code;
        }),
        async stop(graceMs) {
          stopped = true;
          await rt.stop(name, Math.ceil(graceMs / 1000)).catch(() => {});
          await rt.remove(name, { force: true }).catch(() => {});
          await exited;
        },
        async exec(check, timeoutMs) {
          const r = await rt.exec(name, check, { timeoutMs });
          return r.code;
        },
      };
    },
  };
}
