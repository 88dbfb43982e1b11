import { DB_SNAPSHOT, restoreCommand } from "../../state/snapshot-commands.ts";

export default restoreCommand(DB_SNAPSHOT);
