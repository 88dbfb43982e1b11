import { CHECKPOINT, listCommand } from "./snapshot-commands.ts";

export default listCommand(CHECKPOINT);
