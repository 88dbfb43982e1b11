/**
 * A FIFO of byte pieces that hands out the first n bytes as subarrays of the buffers it was given,
 * without copying them: chunk assembly in the crypto streams then costs no memcpy. Callers must not
 * modify a buffer after pushing it (the usual contract of stream chunks).
 */
const EMPTY = Buffer.alloc(0);

export class PieceQueue {
  private pieces: Buffer[] = [];
  private head = 0;
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.pieces.push(b);
    this.length += b.length;
  }

  /** Remove and return the first `n` bytes (n ≤ length) as pieces. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    this.length -= n;
    while (n > 0) {
      const p = this.pieces[this.head]!;
      if (p.length <= n) {
        out.push(p);
        // drop the reference now: a consumed slot must not keep its buffer alive until compaction
        this.pieces[this.head++] = EMPTY;
        n -= p.length;
      } else {
        out.push(p.subarray(0, n));
        this.pieces[this.head] = p.subarray(n);
        n = 0;
      }
    }
    if (this.head > 64) {
      this.pieces = this.pieces.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** The first `n` bytes as one buffer (a copy only when they span pieces). */
  takeJoined(n: number): Buffer {
    const parts = this.take(n);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }
}
