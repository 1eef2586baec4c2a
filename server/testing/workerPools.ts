import { ModelWorkerPool } from "../inference/workerPool";

/**
 * Runs `test` with a ModelWorkerPool of `threads` threads on the task module at `entry` (a file://
 * URL), closing the pool afterwards whatever the test did. For the pool's own unit tests.
 */
export async function withPool<Task extends object, Reply, T>(entry: string, threads: number, test: (pool: ModelWorkerPool<Task, Reply>) => Promise<T>): Promise<T> {
  const pool = new ModelWorkerPool<Task, Reply>({ name: "the test pool", entry, threads });
  try {
    return await test(pool);
  } finally {
    await pool.close();
  }
}
