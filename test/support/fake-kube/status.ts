import type { ResourceType } from "./store.ts";

/** An API error the REST layer turns into a `Status` response with the upstream code, reason and message. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

const details = (rt: ResourceType, name?: string) => ({ ...(name ? { name } : {}), ...(rt.group ? { group: rt.group } : {}), kind: rt.resource });

export const notFound = (rt: ResourceType, name: string) =>
  new ApiError(404, "NotFound", `${rt.resource}${rt.group ? "." + rt.group : ""} "${name}" not found`, details(rt, name));

export const alreadyExists = (rt: ResourceType, name: string) =>
  new ApiError(409, "AlreadyExists", `${rt.resource}${rt.group ? "." + rt.group : ""} "${name}" already exists`, details(rt, name));

export const conflict = (rt: ResourceType, name: string, why = "the object has been modified; please apply your changes to the latest version and try again") =>
  new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${rt.resource}${rt.group ? "." + rt.group : ""} "${name}": ${why}`, details(rt, name));

export const badRequest = (message: string) => new ApiError(400, "BadRequest", message);

export interface Cause {
  reason: string;
  message: string;
  field: string;
}

export function invalid(rt: ResourceType, name: string, causes: Cause[]): ApiError {
  const summary = causes.map((c) => `${c.field}: ${c.message}`).join(", ");
  return new ApiError(422, "Invalid", `${rt.kind} "${name}" is invalid: ${causes.length > 1 ? `[${summary}]` : summary}`, {
    ...details(rt, name),
    kind: rt.kind,
    causes,
  });
}

export function successStatus(rt: ResourceType, name: string, uid?: string): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: { ...details(rt, name), ...(uid ? { uid } : {}) },
  };
}
