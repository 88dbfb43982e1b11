import { CHECKPOINT, restoreCommand } from "./snapshot-commands.ts";

export default restoreCommand(CHECKPOINT);
