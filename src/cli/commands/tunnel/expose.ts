import * as v from "valibot";
import { arg, defineCommand, option } from "../../define.ts";
import { UsageError } from "../../../errors.ts";

export default defineCommand({
  path: ["tunnel", "expose"],
  group: "Networking & edge",
  dryRun: "plan",
  summary: "publish a port of the VM at https://<name>.<zone> through the VM's Cloudflare tunnel",
  description:
    "Adds an ingress rule to the VM tunnel's remotely managed configuration (cloudflared picks it up live, no\n" +
    "restart) and a proxied CNAME <name>.<zone> → <tunnel-id>.cfargotunnel.com marked as devx's. The URL is\n" +
    "printed only once both exist and Cloudflare routes it. Host names stay one level under the zone, where Universal\n" +
    "SSL applies. The default name is <vm>-<port>-<owner id>: your owner id (made once on this machine) keeps it\n" +
    "unique among teammates who share the Cloudflare account and the VM name. Rules and records of others are kept.\n" +
    "Needs an API token with Account:Cloudflare Tunnel:Edit, Zone:DNS:Edit and Zone:Zone:Read.\n" +
    "--basic-auth puts a small Cloudflare Worker on <host>/* that answers 401 unless the credentials match; it is\n" +
    "in place before the DNS record exists. It holds only SHA-256(user:pass) as a secret binding and needs\n" +
    "Account:Workers Scripts:Edit and Zone:Workers Routes:Edit. Prefer DEVX_BASIC_AUTH_PASSWORD over user:pass on the\n" +
    "command line (shell history).",
  examples: ["devx tunnel expose 3000", "devx tunnel expose 8080 --name api --domain example.dev", "devx tunnel expose 3000 --json | jq -r .url", "DEVX_BASIC_AUTH_PASSWORD=… devx tunnel expose 8080 --name admin --basic-auth alice"],
  options: v.object({
    port: arg("port inside the VM", { placeholder: "port" }),
    name: option("host name label (default: <vm>-<port>-<owner id>, unique to you in a shared account)", { placeholder: "name" }),
    domain: option("zone to publish under (default: vm.cloudflare.zone)", { placeholder: "zone" }),
    basicAuth: option("require HTTP basic auth at Cloudflare's edge; give only the user to read the password from $DEVX_BASIC_AUTH_PASSWORD", { placeholder: "user[:pass]" }),
  }),
  async run(opts, deps) {
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`"${opts.port}" is not a port`, "give a port from 1 to 65535");
    let basicAuth: { user: string; password: string } | undefined;
    if (opts.basicAuth !== undefined) {
      const i = opts.basicAuth.indexOf(":");
      const user = i < 0 ? opts.basicAuth : opts.basicAuth.slice(0, i);
      const password = i < 0 ? deps.env.DEVX_BASIC_AUTH_PASSWORD : opts.basicAuth.slice(i + 1);
      if (!user || !password) throw new UsageError("--basic-auth needs a user and a password", "pass --basic-auth user and set DEVX_BASIC_AUTH_PASSWORD, or --basic-auth user:pass");
      basicAuth = { user, password };
    }
    const { expose } = await import("../../../core/tunnel/expose.ts");
    const { noEmit } = await import("../../../events/types.ts");
    const e = await expose(deps.global.json ? { ...deps, emit: noEmit } : deps, { port, name: opts.name, domain: opts.domain, basicAuth, dryRun: deps.global.dryRun });
    if (deps.global.json) deps.io.out.write(JSON.stringify(e, null, 2) + "\n");
    else if (e.plan) deps.io.out.write(e.plan.length ? `${e.plan.join("\n")}\n` : `${e.url} is already exposed\n`);
    else deps.io.out.write(`${e.url}\n`);
  },
});
