/**
 * The tunnel use-cases the dashboard (tui/) calls for its Tunnels pane: what is live at Cloudflare
 * with its URL, and expose/unexpose actions.
 */
export { listTunnels, expose, unexpose, type Exposure } from "./expose.ts";
export { gc, type GcItem, type GcResult } from "./gc.ts";
