/**
 * argv that starts this same executable: the compiled binary (its entry lives in Bun's embedded
 * filesystem: /$bunfs/ on Unix, B:/~BUN on Windows), or bun plus the entry script in a checkout.
 */
export function selfArgv(): string[] {
  const main = Bun.main;
  const compiled = main.startsWith("/$bunfs/") || main.startsWith("B:/~BUN") || main === process.execPath;
  return compiled ? [process.execPath] : [process.execPath, main];
}
