// Preloaded (`node --import`) into `next build`, which the start runs in a process group of its own
// (server/cli/build.ts), and into every process next build forks with the same flags. A start killed
// outright (SIGKILL) runs no code: the build ran on for a minute and the next start met its lock
// ("Another next build process is already running"). So each of these processes watches its parent
// and, once it has another one (the start, or the build above it, is gone), kills the whole group,
// Next's workers with it. The timer is unref'd: it never keeps a process alive.

const GROUP = "RERANK_BUILD_GROUP";
const top = !process.env[GROUP];
// The top process is the group's leader (spawned detached); the processes it forks inherit the group's id.
const group = top ? process.pid : Number(process.env[GROUP]);
if (top) process.env[GROUP] = String(process.pid);
// The top process checks against the start's pid, so a start killed before this line ran is noticed too.
const parent = top && Number(process.env.RERANK_BUILD_PARENT) > 0 ? Number(process.env.RERANK_BUILD_PARENT) : process.ppid;

const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  try {
    process.kill(-group, "SIGKILL");
  } catch {
    process.kill(process.pid, "SIGKILL"); // not a group leader's group (started some other way): this process at least
  }
}, 200);
timer.unref();
