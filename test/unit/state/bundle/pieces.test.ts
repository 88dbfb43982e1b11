import { expect, test } from "bun:test";
import { PieceQueue } from "../../../../src/core/state/bundle/pieces.ts";

test("PieceQueue hands out exact byte ranges across pieces, without copying whole pieces", () => {
  const q = new PieceQueue();
  const a = Buffer.from("hello ");
  const b = Buffer.from("world");
  q.push(a);
  q.push(Buffer.alloc(0));
  q.push(b);
  expect(q.length).toBe(11);
  const first = q.take(3);
  expect(Buffer.concat(first).toString()).toBe("hel");
  expect(first[0]!.buffer).toBe(a.buffer);
  expect(q.takeJoined(5).toString()).toBe("lo wo");
  expect(q.length).toBe(3);
  expect(Buffer.concat(q.take(3)).toString()).toBe("rld");
  expect(q.length).toBe(0);
  for (let i = 0; i < 1000; i++) q.push(Buffer.from([i & 255]));
  expect([...q.takeJoined(1000)]).toEqual(Array.from({ length: 1000 }, (_, i) => i & 255));
});
