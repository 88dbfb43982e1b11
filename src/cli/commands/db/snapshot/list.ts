import { DB_SNAPSHOT, listCommand } from "../../state/snapshot-commands.ts";

export default listCommand(DB_SNAPSHOT);
