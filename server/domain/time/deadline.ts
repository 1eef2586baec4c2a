// One way to wait for work with a deadline. The shutdown steps, stage 2's wall-time budget, the
// feature store's reads on the request path, the telemetry writer's commits, the cluster's
// questions and the health check all wait for something that may never answer; each decides what
// passing the deadline means (a value, or an error), and nothing else differs between them.

/**
 * Settles as `work` does if it settles within `ms` milliseconds; otherwise calls `onTimeout` once
 * and settles with what it returns (or rejects with what it throws). `work` is not cancelled: it
 * goes on, and its late result or rejection is dropped (no unhandled rejection). The timer is
 * cleared as soon as `work` settles, so a settled wait keeps no process alive.
 * @param ms the deadline in ms, ≥ 0; Infinity waits for `work` however long it takes.
 * @throws RangeError (as a rejection) naming `ms` when it is negative or not a number.
 */
export function withDeadline<T, F>(work: Promise<T>, ms: number, onTimeout: () => F | PromiseLike<F>): Promise<T | F> {
  if (typeof ms !== "number" || !(ms >= 0)) return Promise.reject(new RangeError(`withDeadline: ms must be a number of milliseconds ≥ 0, got ${String(ms)}`));
  if (ms === Infinity) return work;
  return new Promise<T | F>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
