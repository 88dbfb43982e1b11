/**
 * Constants of the session protocol that both ends agree on: the version, the WebSocket
 * subprotocol names, close codes, limits and the runner's exit codes. docs/session-protocol.md is
 * the prose version of this file; a change here is a change to the protocol.
 */

/** The protocol version this module speaks. A breaking change gets a new number and subprotocol. */
export const PROTOCOL_VERSION = 1;

/** WebSocket subprotocol that selects protocol v1; the runner echoes it back when offered. */
export const SUBPROTOCOL = "devx.v1";

/** Prefix of the subprotocol entry that carries the token (`devx.token.<token>`), for browsers. */
export const TOKEN_SUBPROTOCOL_PREFIX = "devx.token.";

/** Close codes the runner uses on the session socket (4000–4999 are the application's range). */
export const CLOSE = {
  normal: 1000,
  /** a frame or message broke the protocol (bad frame kind, window exceeded, inbound queue full) */
  protocolError: 4000,
  /** no pong or message within the heartbeat timeout */
  heartbeatTimeout: 4001,
  /** the session is stopping (idle, max lifetime, stop request); a `session.ending` event came first */
  sessionEnding: 4002,
  /** the token this connection was opened with was revoked */
  revoked: 4003,
  /** the runner is at its connection limit */
  tooManyConnections: 4004,
} as const;

/**
 * Exit codes of `devx runner`, read by whatever started it (the control plane) to know why the
 * sandbox ended. They sit above the CLI's error table (src/cli/exit-codes.ts) so that a start-up
 * error (bad flag 2, unreadable secret 6) never reads as a stop.
 */
export const RUNNER_EXIT = {
  /** stopped on request: SIGTERM, SIGINT or POST /v1/admin/stop */
  stopped: 0,
  /** no activity for the idle period */
  idle: 20,
  /** the hard maximum lifetime was reached */
  lifetime: 21,
} as const;

export type StopReason = keyof typeof RUNNER_EXIT;

/** Limits both ends can rely on. A peer that exceeds one is refused, never silently truncated. */
export const LIMITS = {
  /** largest binary frame payload the runner sends (terminal, exec and stream data) */
  maxOutFramePayload: 64 * 1024,
  /** largest WebSocket message the runner accepts from a client (header included) */
  maxInMessage: 1024 * 1024 + 16,
  /** largest JSON control message */
  maxJsonMessage: 256 * 1024,
  /** bytes of received-but-unhandled messages per connection before it is closed (4000) */
  maxInboundQueue: 16 * 1024 * 1024,
  /** credit granted per upload stream (bytes the client may send before more credit arrives) */
  streamWindow: 1024 * 1024,
  /** largest token accepted, in characters */
  maxTokenLength: 4096,
  /** inline content (base64) of fs.write without a stream */
  maxInlineWrite: 1024 * 1024,
} as const;
