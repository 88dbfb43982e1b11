import { DB_SNAPSHOT, createCommand } from "../../state/snapshot-commands.ts";

export default createCommand(DB_SNAPSHOT, "create");
