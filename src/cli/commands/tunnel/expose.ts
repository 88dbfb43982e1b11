import * as v from "valibot";
import { arg, defineCommand, option } from "../../define.ts";
import { UsageError } from "../../../errors.ts";

export default defineCommand({
  path: ["tunnel", "expose"],
  group: "Networking & edge",
  summary: "publish a port of the VM at https://<name>.<zone> through the VM's Cloudflare tunnel",
  description:
    "Adds an ingress rule to the VM tunnel's remotely managed configuration (cloudflared picks it up live, no\n" +
    "restart) and a proxied CNAME <name>.<zone> → <tunnel-id>.cfargotunnel.com marked as devx's. The URL is\n" +
    "printed only once both exist. Host names stay one level under the zone, where Universal SSL applies.\n" +
    "Needs an API token with Account:Cloudflare Tunnel:Edit, Zone:DNS:Edit and Zone:Zone:Read.",
  examples: ["devx tunnel expose 3000", "devx tunnel expose 8080 --name api --domain example.dev", "devx tunnel expose 3000 --json | jq -r .url"],
  options: v.object({
    port: arg("port inside the VM", { placeholder: "port" }),
    name: option("host name label (default: <vm>-<port>)", { placeholder: "name" }),
    domain: option("zone to publish under (default: vm.cloudflare.zone)", { placeholder: "zone" }),
  }),
  async run(opts, deps) {
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`"${opts.port}" is not a port`, "give a port from 1 to 65535");
    const { expose } = await import("../../../core/tunnel/ops.ts");
    const { noEmit } = await import("../../../events/types.ts");
    const e = await expose(deps.global.json ? { ...deps, emit: noEmit } : deps, { port, name: opts.name, domain: opts.domain });
    if (deps.global.json) deps.io.out.write(JSON.stringify(e, null, 2) + "\n");
    else deps.io.out.write(`${e.url}\n`);
  },
});
