import type { Command } from "../define.ts";
import completion from "./completion.ts";
import doctor from "./doctor.ts";
import configValidate from "./config/validate.ts";
import configShow from "./config/show.ts";
import configSchema from "./config/schema.ts";

/**
 * The registry. A command is listed here (and so in help and completion) only once it works.
 * Command modules stay light: heavy code is imported inside run().
 */
export const commands: Command[] = [
  // Orchestration & state
  configValidate,
  configShow,
  configSchema,
  // Testing & telemetry
  doctor,
  // Help & setup
  completion,
] as unknown as Command[];
