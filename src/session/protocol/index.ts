/**
 * The devx session protocol, v1: what the runner (`devx runner`, inside a sandbox) and its clients
 * (control plane, CLI, web page) say to each other. A leaf module: it imports nothing from devx, so
 * either end can take it without the other's code. docs/session-protocol.md is its description.
 */
export * from "./version.ts";
export * from "./token.ts";
export * from "./frames.ts";
export * from "./messages.ts";
