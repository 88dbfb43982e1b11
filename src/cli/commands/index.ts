import type { Command } from "../define.ts";
import completion from "./completion.ts";
import doctor from "./doctor.ts";
import configValidate from "./config/validate.ts";
import configShow from "./config/show.ts";
import configSchema from "./config/schema.ts";
import up from "./up.ts";
import down from "./down.ts";
import ps from "./ps.ts";
import logs from "./logs.ts";
import run from "./run.ts";

/**
 * The registry. A command is listed here (and so in help and completion) only once it works.
 * Command modules stay light: heavy code is imported inside run().
 */
export const commands: Command[] = [
  // Orchestration & state
  up,
  down,
  ps,
  logs,
  run,
  configValidate,
  configShow,
  configSchema,
  // Testing & telemetry
  doctor,
  // Help & setup
  completion,
] as unknown as Command[];
