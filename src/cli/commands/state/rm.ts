import { CHECKPOINT, rmCommand } from "./snapshot-commands.ts";

export default rmCommand(CHECKPOINT);
