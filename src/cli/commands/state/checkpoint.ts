import { CHECKPOINT, createCommand } from "./snapshot-commands.ts";

export default createCommand(CHECKPOINT, "checkpoint");
