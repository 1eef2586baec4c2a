import type { JobHandlers } from "./runner";
import type { Tasks } from "./tasks";

// What runs each of the console's tasks (tasks.ts names them and their payloads). The compiler asks
// for one handler per task.

export const HANDLERS: JobHandlers<Tasks> = {};
