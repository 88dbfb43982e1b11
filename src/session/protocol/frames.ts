/**
 * Binary frames: the bulk data of the session socket (terminal bytes, command output, file
 * streams). Every frame names its channel, so output of several terminals, commands and streams
 * shares one socket without ambiguity:
 *
 *   kind u8 | channel u32 BE | payload (0 … 64 KiB from the runner, 0 … 1 MiB from a client)
 *
 * Control messages are JSON text frames (messages.ts). A frame's payload never ends inside a
 * UTF-8 character when the runner cuts it from terminal or command output.
 */
export const FRAME = {
  /** runner → client: terminal output; channel = terminal id */
  termOutput: 0x01,
  /** client → runner: keystrokes or paste; channel = terminal id */
  termInput: 0x02,
  /** both ways: file stream data; channel = the id of the request that opened the stream */
  streamData: 0x03,
  /** runner → client: a command's stdout; channel = process id (exec) */
  execStdout: 0x04,
  /** runner → client: a command's stderr; channel = process id */
  execStderr: 0x05,
  /** client → runner: a command's stdin; channel = process id */
  execStdin: 0x06,
} as const;

export type FrameKind = (typeof FRAME)[keyof typeof FRAME];

export const FRAME_HEADER = 5;

/** Kinds a client may send; anything else from a client is a protocol error. */
export const CLIENT_FRAME_KINDS: ReadonlySet<number> = new Set([FRAME.termInput, FRAME.streamData, FRAME.execStdin]);
/** Kinds the runner sends. */
export const RUNNER_FRAME_KINDS: ReadonlySet<number> = new Set([FRAME.termOutput, FRAME.streamData, FRAME.execStdout, FRAME.execStderr]);

export interface Frame {
  kind: FrameKind;
  channel: number;
  payload: Uint8Array;
}

export function encodeFrame(kind: FrameKind, channel: number, payload: Uint8Array, start = 0, end = payload.length): Uint8Array {
  if (!Number.isInteger(channel) || channel < 0 || channel > 0xffffffff) throw new RangeError(`frame channel out of range: ${channel}`);
  const out = new Uint8Array(FRAME_HEADER + (end - start));
  out[0] = kind;
  out[1] = channel >>> 24;
  out[2] = (channel >>> 16) & 0xff;
  out[3] = (channel >>> 8) & 0xff;
  out[4] = channel & 0xff;
  out.set(payload.subarray(start, end), FRAME_HEADER);
  return out;
}

/**
 * Decode a binary frame; `allowed` is the set of kinds the receiving end accepts. Returns a string
 * saying what is wrong for anything else (the caller closes the socket with a protocol error).
 * The payload is a view on `data`, not a copy.
 */
export function decodeFrame(data: Uint8Array, allowed: ReadonlySet<number>): Frame | string {
  if (data.length < FRAME_HEADER) return `binary frame of ${data.length} bytes is shorter than its ${FRAME_HEADER}-byte header`;
  const kind = data[0]!;
  if (!allowed.has(kind)) return `binary frame kind 0x${kind.toString(16).padStart(2, "0")} is not accepted here`;
  const channel = ((data[1]! << 24) >>> 0) + (data[2]! << 16) + (data[3]! << 8) + data[4]!;
  return { kind: kind as FrameKind, channel, payload: data.subarray(FRAME_HEADER) };
}
