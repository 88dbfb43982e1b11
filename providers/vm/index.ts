import { colimaProvider } from "./colima.ts";
import { dockerDesktopProvider } from "./docker-desktop.ts";
import { limaProvider } from "./lima.ts";
import { orbstackProvider } from "./orbstack.ts";
import { podmanProvider } from "./podman.ts";
import type { VmProvider, VmProviderId } from "./types.ts";

export const VM_PROVIDERS: Record<VmProviderId, VmProvider> = {
  podman: podmanProvider,
  lima: limaProvider,
  colima: colimaProvider,
  "docker-desktop": dockerDesktopProvider,
  orbstack: orbstackProvider,
};

export * from "./types.ts";
