import { portFree, ephemeralPort } from "../../platform/ports.ts";

export { portFree, ephemeralPort };

/**
 * Host port resolution. A node's configured port is used when it is free on 127.0.0.1; a busy one
 * shifts to the next free port (a few above, then any), and the caller says so aloud. The resolved
 * port is the one its health check, its dependents' env and tunnels use.
 */
export interface PortChoice {
  port: number;
  /** the configured port when it was busy */
  shiftedFrom?: number;
}

/** Resolve `wanted`, skipping ports already handed to other nodes of this run. */
export async function resolvePort(wanted: number, taken: Set<number>, free: (p: number) => Promise<boolean> = portFree): Promise<PortChoice> {
  if (!taken.has(wanted) && (await free(wanted))) return { port: wanted };
  for (let p = wanted + 1; p <= Math.min(65535, wanted + 20); p++) {
    if (!taken.has(p) && (await free(p))) return { port: p, shiftedFrom: wanted };
  }
  for (;;) {
    const p = await ephemeralPort();
    if (!taken.has(p)) return { port: p, shiftedFrom: wanted };
  }
}
