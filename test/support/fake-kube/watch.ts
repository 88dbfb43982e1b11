import type { LabelMatcher, ObjectMatcher } from "./selectors.ts";
import { apiVersionOf, type KubeObject, type ResourceType, type Store, type StoreEvent } from "./store.ts";
import { ApiError } from "./status.ts";

/**
 * `?watch=true`: newline-delimited JSON events, as the API server's watch cache serves them.
 * - no resourceVersion (or "0"): synthetic ADDED for what exists now, then changes;
 * - resourceVersion=N: every change after N from history; older than the history → ERROR 410 Expired;
 * - an object that stops (starts) matching the selectors arrives as DELETED (ADDED);
 * - allowWatchBookmarks: BOOKMARK events; sendInitialEvents: the initial-events-end bookmark.
 */
export interface WatchQuery {
  rt: ResourceType;
  namespace?: string;
  labels: LabelMatcher;
  fields: ObjectMatcher;
  resourceVersion?: string;
  bookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
}

const BOOKMARK_EVERY_MS = 1000;

export class Watches {
  private open = new Set<() => void>();

  constructor(private store: Store) {}

  closeAll(): void {
    for (const c of [...this.open]) c();
  }

  response(q: WatchQuery): Response {
    const enc = new TextEncoder();
    const store = this.store;
    const matches = (o: KubeObject | undefined) =>
      !!o && (!q.namespace || o.metadata.namespace === q.namespace) && q.labels(o.metadata.labels) && q.fields(o);
    const view = (o: KubeObject) => ({ ...o, apiVersion: apiVersionOf(q.rt), kind: q.rt.kind });
    let lastRv = store.rv;
    let close = () => {};
    const rvParam = q.resourceVersion;
    const fromRv = rvParam && rvParam !== "0" ? Number(rvParam) : undefined;
    if (fromRv !== undefined && !(Number.isInteger(fromRv) && fromRv >= 0)) {
      throw new ApiError(400, "BadRequest", `invalid resource version: ${rvParam}`);
    }
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        let done = false;
        const send = (type: string, object: unknown) => {
          if (!done) controller.enqueue(enc.encode(JSON.stringify({ type, object }) + "\n"));
        };
        const bookmark = (annotations?: Record<string, string>) =>
          send("BOOKMARK", { kind: q.rt.kind, apiVersion: apiVersionOf(q.rt), metadata: { resourceVersion: String(lastRv), ...(annotations ? { annotations } : {}) } });
        const onEvent = (ev: StoreEvent) => {
          if (ev.rt !== q.rt) return;
          lastRv = ev.rv;
          const now = matches(ev.object);
          const before = ev.type === "ADDED" ? false : matches(ev.prev);
          if (ev.type === "DELETED") {
            if (before) send("DELETED", view(ev.object));
          } else if (now && before) send("MODIFIED", view(ev.object));
          else if (now) send("ADDED", view(ev.object));
          else if (before) send("DELETED", view(ev.object));
        };
        if (fromRv !== undefined && fromRv < store.oldestRv() - 1) {
          send("ERROR", new ApiError(410, "Expired", `too old resource version: ${fromRv} (${store.oldestRv() - 1})`).toStatus());
          controller.close();
          return;
        }
        if (fromRv === undefined) {
          for (const o of store.list(q.rt, q.namespace)) if (matches(o)) send("ADDED", view(o));
          lastRv = store.rv;
          if (q.sendInitialEvents && q.bookmarks) bookmark({ "k8s.io/initial-events-end": "true" });
        } else {
          for (const ev of store.history) if (ev.rv > fromRv) onEvent(ev);
        }
        const unsubscribe = store.subscribe(onEvent);
        const timers: ReturnType<typeof setTimeout>[] = [];
        if (q.bookmarks) timers.push(setInterval(() => bookmark(), BOOKMARK_EVERY_MS));
        close = () => {
          if (done) return;
          done = true;
          unsubscribe();
          for (const t of timers) clearInterval(t);
          this.open.delete(close);
          try { controller.close(); } catch { /* reader already gone */ }
        };
        if (q.timeoutSeconds) timers.push(setTimeout(close, q.timeoutSeconds * 1000));
        this.open.add(close);
      },
      cancel: () => close(),
    });
    return new Response(stream, { headers: { "content-type": "application/json", "cache-control": "no-cache, private" } });
  }
}
