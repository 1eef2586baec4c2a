// A heartbeat watchdog over something that answers from its own event loop: the pages thread (over
// its MessagePort, server/http/pagesThread.ts) and each worker of a cluster (over the IPC channel,
// server/http/cluster.ts). One implementation for both, so both read "hung" the same way.

export interface WatchdogOptions {
  /** How long the watched side may leave heartbeats unanswered before it is taken for hung (ms). Beats go every sixth of it. */
  timeoutMs: number;
  /** Sends one heartbeat (`n` counts from 1); the watched side answers it, and the answer calls `answered()`. */
  ping: (n: number) => void;
  /** Called once, when nothing was answered for `timeoutMs`; the watchdog has stopped by then. */
  onHang: (silentMs: number) => void;
}

export interface Watchdog {
  /** A heartbeat's answer (or any sign of life) arrived. */
  answered: () => void;
  /** Stops the heartbeats (the watched side exited, or is being stopped on purpose). */
  stop: () => void;
}

/**
 * Starts heartbeats every `timeoutMs / 6` ms; when none was answered for `timeoutMs`, calls `onHang`
 * once and stops. This side's own stall is not blamed on the other: when this side's timer fired more
 * than two beats late (its event loop was held up, answers that came meanwhile could not be heard),
 * the watched side gets a fresh window (break test: a 31 s stall of the serving thread took a healthy
 * pages thread down). The timer does not keep the process alive.
 */
export function startWatchdog(options: WatchdogOptions): Watchdog {
  const beatMs = Math.max(1, Math.floor(options.timeoutMs / 6));
  let answeredAt = Date.now();
  let lastTick = answeredAt;
  let beats = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastTick > 2 * beatMs) answeredAt = now;
    lastTick = now;
    const silentMs = now - answeredAt;
    if (silentMs < options.timeoutMs) return options.ping(++beats);
    clearInterval(timer);
    options.onHang(silentMs);
  }, beatMs).unref();
  return {
    answered: () => {
      answeredAt = Date.now();
    },
    stop: () => clearInterval(timer),
  };
}
