// A heartbeat watchdog over something that answers from its own event loop: the pages thread (over
// its MessagePort, server/http/pagesThread.ts) and each worker of a cluster (over the IPC channel,
// server/http/cluster.ts). One implementation for both, so both read "hung" the same way.

export interface WatchdogOptions {
  /** How long the watched side may leave heartbeats unanswered before it is taken for hung (ms). Beats go every sixth of it. */
  timeoutMs: number;
  /** Sends one heartbeat (`n` counts from 1); the watched side answers it, and the answer calls `answered()`. */
  ping: (n: number) => void;
  /**
   * Called once, when nothing was answered for `timeoutMs`, or when fewer than a quarter of the beats of
   * the last three timeouts saw an answer (`mostlySilent`: a side that is stopped most of the time and
   * runs only now and then); the watchdog has stopped by then.
   */
  onHang: (silentMs: number, mostlySilent?: { answered: number; beats: number }) => void;
}

export interface Watchdog {
  /** A heartbeat's answer (or any sign of life) arrived. */
  answered: () => void;
  /** Stops the heartbeats (the watched side exited, or is being stopped on purpose). */
  stop: () => void;
}

/**
 * Starts heartbeats every `timeoutMs / 6` ms; when none was answered for `timeoutMs`, or fewer than
 * 5 of the last 18 beats (three timeouts) saw an answer, calls `onHang` once and stops. This side's own stall is not blamed on the other: when this side's timer fired more
 * than two beats late (its event loop was held up, answers that came meanwhile could not be heard),
 * the watched side gets a fresh window (break test: a 31 s stall of the serving thread took a healthy
 * pages thread down). The timer does not keep the process alive.
 */
export function startWatchdog(options: WatchdogOptions): Watchdog {
  const beatMs = Math.max(1, Math.floor(options.timeoutMs / 6));
  let answeredAt = Date.now();
  let lastTick = answeredAt;
  let beats = 0;
  // Whether each of the last WINDOW beats saw an answer since the beat before: a side stopped 93 % of
  // the time (SIGSTOP 5.3 s, SIGCONT 0.4 s, over and over) answered within every timeout and was never
  // taken for hung, while the connections handed to it waited seconds (re-break).
  const WINDOW = 18;
  let recent: boolean[] = [];
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastTick > 2 * beatMs) {
      answeredAt = now;
      recent = [];
    }
    recent.push(answeredAt >= lastTick);
    if (recent.length > WINDOW) recent.shift();
    lastTick = now;
    const silentMs = now - answeredAt;
    const answered = recent.filter(Boolean).length;
    const mostlySilent = recent.length === WINDOW && answered * 4 < WINDOW;
    if (silentMs < options.timeoutMs && !mostlySilent) return options.ping(++beats);
    clearInterval(timer);
    if (mostlySilent) options.onHang(silentMs, { answered, beats: WINDOW });
    else options.onHang(silentMs);
  }, beatMs).unref();
  return {
    answered: () => {
      answeredAt = Date.now();
    },
    stop: () => clearInterval(timer),
  };
}

/** How a hang reads in a log line: "answered no heartbeat for 31 s", or "answered 3 of its last 18 heartbeats". */
export function describeHang(silentMs: number, mostlySilent?: { answered: number; beats: number }): string {
  return mostlySilent ? `answered only ${mostlySilent.answered} of its last ${mostlySilent.beats} heartbeats (it runs only now and then)` : `answered no heartbeat for ${Math.round(silentMs / 1000)} s`;
}
