import { DB_SNAPSHOT, rmCommand } from "../../state/snapshot-commands.ts";

export default rmCommand(DB_SNAPSHOT);
