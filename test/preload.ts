/**
 * Loaded by bunfig.toml before any test file: every test runs hermetically. DEVX_HOME, HOME and
 * the XDG dirs point at a fresh temp dir; cloud credentials and KUBECONFIG are removed, so no test
 * can reach a real account or cluster by accident.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = mkdtempSync(join(tmpdir(), "devx-test-"));
process.env.DEVX_HOME = join(root, "devx");
process.env.HOME = join(root, "home");
process.env.XDG_CONFIG_HOME = join(root, "home", ".config");
process.env.XDG_STATE_HOME = join(root, "home", ".local", "state");
process.env.XDG_CACHE_HOME = join(root, "home", ".cache");
for (const k of Object.keys(process.env)) {
  if (/^(AWS_|GOOGLE_|GCLOUD_|CLOUDSDK_|CLOUDFLARE_|CF_|TS_|TAILSCALE_)/.test(k) || k === "KUBECONFIG" || k === "DEVX_RELAY" || k === "DEVX_PROVIDER" || k === "DEVX_PROFILE" || k === "DEVX_FILE") {
    delete process.env[k];
  }
}
process.env.NO_COLOR = "1";
process.env.DEVX_TEST_ROOT = root;

process.on("exit", () => {
  if (!process.env.DEVX_KEEP_TEST_DIR) rmSync(root, { recursive: true, force: true });
});
