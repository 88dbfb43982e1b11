import { connect } from "node:net";
import { sleepUnlessAborted } from "../../platform/clock.ts";
import { durationMs } from "../../config/duration.ts";
import type { HealthcheckConfig } from "../../config/schema.ts";

/**
 * Health checks (http, tcp, exec). During startup a tcp/http check is probed every FAST_MS (a refused
 * connect costs microseconds) and an exec check every EXEC_FAST_MS (each is a process), so readiness
 * is noticed well within 50 ms of becoming true; once healthy it backs off to the configured interval.
 * Startup budget: start_period + interval × retries (a failure "counts" once per interval, as in
 * compose, not once per fast probe). After healthy, `retries` consecutive failures → unhealthy.
 */
export const FAST_MS = 10;
export const EXEC_FAST_MS = 25;

export interface HealthTiming {
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export const DEFAULT_TIMING: HealthTiming = { intervalMs: 2000, timeoutMs: 1000, retries: 15, startPeriodMs: 0 };

/**
 * An exec check starts a process (inside a container, a `podman exec`: ~0.1 s idle, seconds on a
 * busy machine): 1 s would call a healthy service unhealthy whenever the machine is loaded.
 */
export const EXEC_TIMEOUT_MS = 10_000;

export function timingOf(h: HealthcheckConfig): HealthTiming {
  return {
    intervalMs: durationMs(h.interval, DEFAULT_TIMING.intervalMs),
    timeoutMs: durationMs(h.timeout, h.exec !== undefined ? EXEC_TIMEOUT_MS : DEFAULT_TIMING.timeoutMs),
    retries: h.retries ?? DEFAULT_TIMING.retries,
    startPeriodMs: durationMs(h.start_period, DEFAULT_TIMING.startPeriodMs),
  };
}

/** One probe: resolves true when healthy, false otherwise (never throws). */
export type Probe = (signal: AbortSignal) => Promise<boolean>;

export interface ProbeContext {
  /** the node's resolved host port */
  port?: number;
  /** the configured port, so `tcp: <configured>` follows a shift */
  configuredPort?: number;
  timeoutMs: number;
  /** runs an exec check (on the host, or inside the container) and returns its exit code */
  runExec(argv: string[], timeoutMs: number): Promise<number>;
}

export function describeCheck(h: HealthcheckConfig, port?: number): string {
  if (h.http !== undefined) return `http ${h.http.startsWith("http") ? h.http : `127.0.0.1:${port}${h.http}`}`;
  if (h.exec !== undefined) return `exec ${Array.isArray(h.exec) ? h.exec.join(" ") : h.exec}`;
  return `tcp 127.0.0.1:${typeof h.tcp === "number" ? h.tcp : port}`;
}

export function makeProbe(h: HealthcheckConfig, ctx: ProbeContext): Probe {
  if (h.http !== undefined) {
    const url = /^https?:\/\//.test(h.http) ? h.http : `http://127.0.0.1:${ctx.port}${h.http.startsWith("/") ? "" : "/"}${h.http}`;
    return async (signal) => {
      try {
        const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(ctx.timeoutMs)]), redirect: "manual" });
        await res.body?.cancel();
        return res.status >= 200 && res.status < 400;
      } catch {
        return false;
      }
    };
  }
  if (h.exec !== undefined) {
    const argv = Array.isArray(h.exec) ? h.exec : ["sh", "-c", h.exec];
    return async () => (await ctx.runExec(argv, ctx.timeoutMs).catch(() => 1)) === 0;
  }
  const port = typeof h.tcp === "number" && h.tcp !== ctx.configuredPort ? h.tcp : ctx.port;
  return (signal) => tcpOpen(port ?? 0, ctx.timeoutMs, signal);
}

export function tcpOpen(port: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(t);
      signal?.removeEventListener("abort", onAbort);
      sock.destroy();
      resolve(ok);
    };
    const onAbort = () => done(false);
    const t = setTimeout(() => done(false), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/**
 * Probes fast until healthy; false when the startup budget is spent (or the signal aborts, e.g.
 * the process exited).
 */
export async function waitHealthy(probe: Probe, timing: HealthTiming, signal: AbortSignal, now: () => number = Date.now, everyMs = FAST_MS): Promise<boolean> {
  const deadline = now() + timing.startPeriodMs + timing.intervalMs * timing.retries;
  while (!signal.aborted) {
    const t0 = now();
    if (await probe(signal)) return !signal.aborted;
    if (now() >= deadline) return false;
    await sleepUnlessAborted(Math.max(0, everyMs - (now() - t0)), signal);
  }
  return false;
}

/**
 * Once healthy: probe every interval; calls onChange(false) after `retries` consecutive failures
 * and onChange(true) when it recovers. Runs until the signal aborts.
 */
export async function watchHealth(probe: Probe, timing: HealthTiming, signal: AbortSignal, onChange: (healthy: boolean) => void): Promise<void> {
  let failures = 0;
  let healthy = true;
  while (!signal.aborted) {
    await sleepUnlessAborted(timing.intervalMs, signal);
    if (signal.aborted) return;
    const ok = await probe(signal);
    if (signal.aborted) return;
    failures = ok ? 0 : failures + 1;
    if (healthy && failures >= timing.retries) {
      healthy = false;
      onChange(false);
    } else if (!healthy && ok) {
      healthy = true;
      onChange(true);
    }
  }
}
