import { useEffect, useState } from "react";
import type { HeaderInfo } from "../types.ts";

/** Header facts load after the first frame: the frame never waits on devx.yaml or a provider. */
export function useHeader(load: () => Promise<HeaderInfo>, reloadKey: number): HeaderInfo | undefined {
  const [info, setInfo] = useState<HeaderInfo>();
  useEffect(() => {
    let live = true;
    load().then(
      (h) => live && setInfo(h),
      (e: unknown) => live && setInfo({ configError: e instanceof Error ? e.message : String(e) }),
    );
    return () => {
      live = false;
    };
  }, [load, reloadKey]);
  return info;
}
