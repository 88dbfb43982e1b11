/**
 * UTF-8 boundaries for output frames. A PTY read can end inside a multibyte character; a frame
 * that ends there makes a client's decoder print U+FFFD for both halves. The runner holds back
 * an incomplete tail until the next read, and cuts long output only between characters. Bytes
 * that are not UTF-8 at all (binary output) are passed through unchanged: at most 3 bytes are ever
 * held, and only when they are a valid start of a character.
 */

/** How many bytes at the end of `buf` are the start of a character whose rest has not arrived. */
export function incompleteTail(buf: Uint8Array): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 0;
    return need > back ? back : 0;
  }
  return 0;
}

/**
 * The largest cut position ≤ `pos` that does not fall inside a character, given the bytes at and
 * after `pos` through `byteAt`. Never moves more than 3 bytes back (past that the bytes are not
 * UTF-8 and any cut is as good); never returns `min` or less, so a frame is never empty.
 */
export function cutBefore(byteAt: (i: number) => number, pos: number, min: number): number {
  let p = pos;
  for (let i = 0; i < 3 && p - 1 > min && (byteAt(p) & 0xc0) === 0x80; i++) p--;
  return (byteAt(p) & 0xc0) === 0x80 ? pos : p;
}

/** The first position ≥ `pos` that starts a character (skips at most 3 continuation bytes). */
export function cutAfter(byteAt: (i: number) => number, pos: number, end: number): number {
  let p = pos;
  for (let i = 0; i < 3 && p < end && (byteAt(p) & 0xc0) === 0x80; i++) p++;
  return p;
}

/** Holds back the incomplete tail of each chunk and prepends it to the next. */
export class Utf8Carry {
  private held = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array {
    let data = chunk;
    if (this.held.length > 0) {
      data = new Uint8Array(this.held.length + chunk.length);
      data.set(this.held, 0);
      data.set(chunk, this.held.length);
    }
    const tail = incompleteTail(data);
    this.held = tail > 0 ? data.slice(data.length - tail) : new Uint8Array(0);
    return tail > 0 ? data.subarray(0, data.length - tail) : data;
  }

  /** What is still held (the stream ended inside a character: deliver the bytes anyway). */
  flush(): Uint8Array {
    const out = this.held;
    this.held = new Uint8Array(0);
    return out;
  }
}
