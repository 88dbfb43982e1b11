import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM material of the fake cluster: a CA, the API server's cert and the test user's client cert. */
export interface ClusterCerts {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** The identity the kubeconfig's client certificate carries (CN = user, O = group). */
export const TEST_USER = "devx-test-user";
export const TEST_GROUP = "devx-testers";

let cached: ClusterCerts | undefined;

function openssl(dir: string, args: string[]): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

/**
 * Generated once per test process with the openssl CLI (EC P-256: fast to make and to handshake);
 * every cluster of the run shares them, as clusters of one provider share a CA.
 */
export function clusterCerts(): ClusterCerts {
  if (cached) return cached;
  const root = process.env.DEVX_TEST_ROOT;
  const dir = root ? join(root, "fake-kube-certs") : mkdtempSync(join(tmpdir(), "fake-kube-certs-"));
  mkdirSync(dir, { recursive: true });
  if (!root) process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(dir, ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3", "-subj", "/CN=fake-kube-ca"]);
  writeFileSync(join(dir, "server.ext"), [
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
    "extendedKeyUsage=serverAuth",
    "keyUsage=digitalSignature,keyEncipherment",
  ].join("\n"));
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
  for (const [name, subj] of [["server", "/CN=kube-apiserver"], ["client", `/O=${TEST_GROUP}/CN=${TEST_USER}`]] as const) {
    openssl(dir, ["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
      "-out", `${name}.crt`, "-days", "3", "-extfile", `${name}.ext`]);
  }
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  cached = {
    dir,
    caCert: read("ca.crt"),
    serverCert: read("server.crt"),
    serverKey: read("server.key"),
    clientCert: read("client.crt"),
    clientKey: read("client.key"),
  };
  return cached;
}
