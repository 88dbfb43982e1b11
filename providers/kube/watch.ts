import type { KubeClient } from "./client.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

/**
 * A watch on a list path (e.g. /api/v1/namespaces/ns/pods) through the client's TLS-aware fetch.
 * client-node's Watch uses undici's fetch, which under Bun drops the kubeconfig's certificates.
 * Each event arrives as one JSON line. When the server ends the stream (timeouts, restarts), the watch
 * re-lists to resynchronise (onSync: forget what you knew) and starts again, until the signal aborts.
 */
export async function watchList<T extends { metadata?: { resourceVersion?: string } }>(
  client: KubeClient,
  path: string,
  query: Record<string, string>,
  onEvent: (e: WatchEvent<T>) => void,
  signal: AbortSignal,
  hooks: { onError?: (e: unknown) => void; onSync?: () => void; onListed?: () => void } = {},
): Promise<void> {
  let backoff = 100;
  while (!signal.aborted) {
    try {
      const list = await client.fetch(`${path}?${new URLSearchParams(query)}`, { signal });
      if (!list.ok) throw new Error(`list ${path} answered ${list.status}`);
      const body = (await list.json()) as { metadata?: { resourceVersion?: string }; items?: T[] };
      hooks.onSync?.();
      for (const item of body.items ?? []) onEvent({ type: "ADDED", object: item });
      hooks.onListed?.();
      const rv = body.metadata?.resourceVersion ?? "";
      const resp = await client.fetch(`${path}?${new URLSearchParams({ ...query, watch: "true", resourceVersion: rv, allowWatchBookmarks: "true" })}`, { signal });
      if (!resp.ok || !resp.body) throw new Error(`watch ${path} answered ${resp.status}`);
      backoff = 100;
      const decoder = new TextDecoder();
      let buf = "";
      for await (const chunk of resp.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line) as WatchEvent<T>;
          if (ev.type === "ERROR") throw new Error(`watch ${path}: ${JSON.stringify(ev.object).slice(0, 200)}`);
          if (ev.type !== "BOOKMARK") onEvent(ev);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      hooks.onError?.(e);
      await Bun.sleep(backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
  }
}
