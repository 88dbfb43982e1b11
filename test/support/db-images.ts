import { ensureTestImage, type TestImageEngine } from "../../scripts/build-test-images.ts";

/**
 * Offline database images for tests (scripts/build-test-images.ts): built once per machine from
 * Debian packages and cached by a hash of their recipe. The first build takes minutes (debootstrap
 * ~50 s, postgres ~75 s); afterwards this is a `podman image exists`.
 */
export const DB_IMAGE_BUILD_TIMEOUT_MS = 6 * 60_000;

export function dbTestImage(engine: TestImageEngine): Promise<string> {
  return ensureTestImage(engine);
}
