import pkg from "../package.json" with { type: "json" };

/** The release version; scripts/build.ts bakes the git commit in through DEVX_COMMIT. */
export const VERSION: string = pkg.version;
