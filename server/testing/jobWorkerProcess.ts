import { startJobs } from "../jobs/worker";

// A job worker in a process of its own, as a server process runs one (server/http/main.ts): the
// failover test starts two on one database and kills one. DATABASE_URL and the JOBS_* and
// ROLLOUT_TICK_MS settings come from the environment.

startJobs((line) => console.log(line))
  .then(() => console.log("[worker] ready"))
  .catch((error: Error) => {
    console.error(`[worker] could not start: ${error.message}`);
    process.exit(1);
  });
