/**
 * Streamed transfers allocate a fresh buffer per chunk (file reads, zlib and cipher output, the
 * HTTP client's copies of each part). JSC frees dead ArrayBuffers only when a collection runs, and
 * for a heap this small that comes late: a 1 GB share or attach grew devx by 100–250 MB of dead
 * chunks (bench/state-share.ts). A full collection costs 13–18 ms in the compiled binary, so one
 * every 32 MiB cost an attach 4 s per GB; instead every stream reports its bytes here and, every
 * 256 KiB, the process's RSS is checked (~10 µs): only above the budget is there a collection.
 *
 * What survives one (live buffers, pages the allocator keeps) sets the bar for the next, a slack
 * above it; but only after three collections in a row left that much behind: one high floor is
 * usually a transient (a phase's buffers in flight), and letting it raise the bar let the next
 * phase grow to it (a 4 GiB attach's import peaked at 126-129 MiB so). A process that is simply
 * bigger still does not collect in a loop.
 */
/**
 * How often RSS is looked at. The look costs ~10 µs, so every 256 KiB is ~40 ms per GiB reported;
 * every 4 MiB let an S3 share overshoot the bar by 20-35 MiB between looks (each reported byte
 * is several allocated ones: tar read, gzip and cipher output, the HTTP client's copy of a part),
 * peaking at 139-141 MiB at 1 GiB; every 256 KiB peaks at 125-132 MiB, same wall time.
 */
const PACE_CHECK = 256 << 10;
const RSS_BUDGET = 100 << 20;
/**
 * growth over what survived the last collection before the next one: an S3 share (its floor is
 * ~105 MiB: the SDK, parts in flight) peaked at 134-141 MiB with 16 MiB, 126-128 with 8, for
 * ~60 more collections per GiB (~1 s)
 */
const RSS_SLACK = 8 << 20;
const STUCK_AFTER = 3;
let paceBytes = 0;
let collectAbove = RSS_BUDGET;
/** collections in a row that left RSS within a slack of the budget or above it */
let stuck = 0;

export function gcPace(bytes: number): void {
  paceBytes += bytes;
  if (paceBytes < PACE_CHECK) return;
  paceBytes = 0;
  if (process.memoryUsage.rss() < collectAbove) return;
  Bun.gc(true);
  const after = process.memoryUsage.rss();
  stuck = after + RSS_SLACK > RSS_BUDGET ? stuck + 1 : 0;
  collectAbove = stuck >= STUCK_AFTER ? after + RSS_SLACK : Math.max(RSS_BUDGET, Math.min(after + RSS_SLACK, RSS_BUDGET + RSS_SLACK));
}
