/**
 * The one place devx writes ANSI escape codes: SGR colours (only when colour is on) and the few
 * cursor moves a redrawn region needs. Everything that colours or redraws goes through here.
 */

/** SGR codes devx uses, by meaning. */
export const SGR = { red: "31", green: "32", yellow: "33", blue: "34", magenta: "35", cyan: "36", grey: "90", brightRed: "91", brightCyan: "96", brightYellow: "93" } as const;

/** `s` in SGR `code` when `on`, else `s` unchanged (no code, no reset). */
export function paint(on: boolean, code: string | undefined, s: string): string {
  return on && code ? `\x1b[${code}m${s}\x1b[0m` : s;
}

/** A painter bound to one colour switch: `const c = painter(io.color); c(SGR.red, "error:")`. */
export const painter = (on: boolean) => (code: string | undefined, s: string) => paint(on, code, s);

/** Cursor up `n` lines and clear from there to the end of the screen (nothing for n = 0). */
export const eraseLinesAbove = (n: number): string => (n > 0 ? `\x1b[${n}A\x1b[J` : "");

/** Back to column 0 and clear the line (a progress line rewritten in place). */
export const rewriteLine = "\r\x1b[2K";
