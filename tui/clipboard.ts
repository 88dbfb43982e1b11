/**
 * Copy text to the user's clipboard with the OSC 52 terminal escape: works over SSH and inside
 * tmux (with `set-clipboard on`), needs no clipboard tool on the machine, and draws nothing.
 */
export function osc52(text: string): string {
  return `\x1b]52;c;${Buffer.from(text, "utf8").toString("base64")}\x07`;
}

export function copyToClipboard(text: string, write: (s: string) => void = (s) => void process.stdout.write(s)): void {
  write(osc52(text));
}
