import { expect, test } from "bun:test";
import { textRenderer, jsonLinesRenderer } from "../../../src/events/render.ts";

function target(isTTY: boolean) {
  let s = "";
  return { t: { write: (x: string) => void (s += x), isTTY, color: false }, text: () => s };
}

test("plain progress reports bytes, rate and ETA at most every 10%", () => {
  const { t, text } = target(false);
  let now = 0;
  const r = textRenderer(t, () => now);
  const MiB = 1024 * 1024;
  r({ type: "progress", id: "up", title: "upload", bytes: 0, total: 100 * MiB });
  for (let i = 1; i <= 20; i++) {
    now = i * 100;
    r({ type: "progress", id: "up", title: "upload", bytes: i * 5 * MiB, total: 100 * MiB });
  }
  const lines = text().trim().split("\n");
  expect(lines.length).toBe(11);
  expect(lines[5]).toBe("upload: 50.0 MiB/100.0 MiB  50.0 MiB/s  ETA 1s");
});

test("TTY progress redraws one line with a bar", () => {
  const { t, text } = target(true);
  const r = textRenderer(t, () => 1000);
  r({ type: "progress", id: "d", title: "download", bytes: 50, total: 100 });
  expect(text()).toContain("\r\x1b[2Kdownload [############............]  50%");
  r({ type: "step", id: "d", title: "downloaded", status: "done" });
  expect(text()).toEndWith("\n✓ downloaded\n");
});

test("JSON lines are one object per event", () => {
  const { t, text } = target(false);
  const r = jsonLinesRenderer(t);
  r({ type: "warning", message: "criu check failed", hint: "db-only" });
  const doc = JSON.parse(text());
  expect(doc).toMatchObject({ type: "warning", message: "criu check failed", hint: "db-only" });
});

test("a count past its announced total never shows more done than the whole", () => {
  const { t, text } = target(false);
  const r = textRenderer(t, () => 1000);
  r({ type: "progress", id: "u", title: "upload", bytes: 9400, total: 7270 });
  expect(text()).toStartWith("upload: 9.2 KiB/9.2 KiB  ");
});
