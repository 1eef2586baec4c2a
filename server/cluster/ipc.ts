import type { Serializable } from "node:child_process";
import type { Worker } from "node:cluster";
import { env } from "../config";
import { RateLimiter, type RateLimit, type RateVerdict } from "../domain/admission/rateLimit";
import { withDeadline } from "../domain/time/deadline";
import { ignoreClosedOutput } from "../http/terminal";

// Questions a worker asks all the workers of its server (WORKERS=N, server/http/cluster.ts) over
// the cluster's IPC channel, through the primary: "your metrics" (/api/metrics sums them) and "did
// you serve request X" (an event may reach another worker than the request it refers to). The
// primary only relays: it forwards a question to every live worker, gathers the answers for at most
// the asker's timeout and sends them back. Outside a cluster there is nobody to ask.

const ASK = "rerank:ask";
const QUESTION = "rerank:question";
const ANSWER = "rerank:answer";
const REPLY = "rerank:reply";
/** The primary's heartbeat to a worker, and the worker's answer (server/http/cluster.ts watches them). */
export const PING = "rerank:worker-ping";
export const PONG = "rerank:worker-pong";
/** A worker's request to the primary to count one request against a key's rate limit, and its verdict. */
const RATE = "rerank:rate";
const RATE_VERDICT = "rerank:rate-verdict";

/** What the primary says of itself with every reply: the configured workers and its restarts of them, by why. */
export interface PrimaryState {
  workers: number;
  restarts: { exit: number; hang: number };
}

interface Message {
  type?: string;
  id?: number;
  /** A heartbeat's number. */
  n?: number;
  topic?: string;
  payload?: unknown;
  value?: unknown;
  values?: unknown[];
  asked?: number;
  primary?: PrimaryState;
  /** With the answers to a carried topic: what restarted and silent workers last answered, joined (relayQuestions' `carry`). */
  carried?: unknown;
  timeoutMs?: number;
  key?: string;
  limit?: RateLimit;
  verdict?: RateVerdict;
}

type Handler = (payload: unknown) => unknown | Promise<unknown>;

/** This worker's number (1…N), set by the primary in each worker's environment; undefined outside a cluster. */
export const workerId = (): string | undefined => {
  const id = env().RERANK_WORKER_ID;
  return id === undefined ? undefined : String(id);
};

/**
 * The server's log: one line on stdout, prefixed `[rerank]`, or `[rerank worker N]` in a worker. A
 * closed stdout (`npm start | head`) loses the line and nothing else (ignoreClosedOutput: an EPIPE
 * crash-looped the server).
 */
export const serverLog = (line: string) => {
  ignoreClosedOutput();
  console.log(`[rerank${workerId() ? ` worker ${workerId()}` : ""}] ${line}`);
};

const inCluster = () => Boolean(workerId() && process.send);

// Next's bundle and the front door each load a copy of this module: one state and listener per process.
const holder = globalThis as unknown as {
  __rerankIpc?: { next: number; pending: Map<number, (reply: Gathered) => void>; verdicts: Map<number, (verdict: RateVerdict) => void>; handlers: Map<string, Handler> };
};

function state() {
  if (holder.__rerankIpc) return holder.__rerankIpc;
  const s = { next: 0, pending: new Map<number, (reply: Gathered) => void>(), verdicts: new Map<number, (verdict: RateVerdict) => void>(), handlers: new Map<string, Handler>() };
  holder.__rerankIpc = s;
  process.on("message", (message: Message) => {
    if (message?.type === QUESTION) {
      const handler = s.handlers.get(message.topic ?? "");
      void Promise.resolve()
        .then(() => (handler ? handler(message.payload) : undefined))
        .catch(() => undefined)
        // A closed channel (the primary is gone) is reported to the callback, not thrown as an 'error' event.
        .then((value) => process.send?.({ type: ANSWER, id: message.id, value }, undefined, undefined, () => undefined));
    } else if (message?.type === PING) {
      // The primary's heartbeat, answered from this event loop: a worker whose loop is blocked (or that is stopped) answers none.
      process.send?.({ type: PONG, n: message.n }, undefined, undefined, () => undefined);
    } else if (message?.type === RATE_VERDICT && typeof message.id === "number" && message.verdict) {
      s.verdicts.get(message.id)?.(message.verdict);
      s.verdicts.delete(message.id);
    } else if (message?.type === REPLY && typeof message.id === "number") {
      s.pending.get(message.id)?.({ values: message.values ?? [], asked: message.asked ?? 0, primary: message.primary ?? null, carried: message.carried ?? null });
      s.pending.delete(message.id);
    }
  });
  return s;
}

/** A question's answers: the workers' (undefined ones left out), how many were asked, and the primary's state. */
export interface Gathered {
  values: unknown[];
  asked: number;
  primary: PrimaryState | null;
  /** For a carried topic: the last answers of workers restarted since the primary started and of those asked that did not answer, joined; else null. */
  carried: unknown | null;
}

/** Answers the primary's heartbeats from this worker's event loop (server/http/cluster.ts kills a worker that stops answering). */
export function answerHeartbeats(): void {
  if (inCluster()) state();
}

/** Registers this worker's answer to `topic` (a no-op outside a cluster). */
export function answer(topic: string, handler: Handler): void {
  if (!inCluster()) return;
  state().handlers.set(topic, handler);
}

/**
 * Asks every worker (this one included) and returns their answers (undefined answers left out), how
 * many were asked and the primary's state; null outside a cluster or when the primary does not reply
 * within timeoutMs.
 */
export async function askWorkers(topic: string, payload: unknown, timeoutMs: number): Promise<Gathered | null> {
  if (!inCluster()) return null;
  const s = state();
  const id = s.next++;
  const replied = new Promise<Gathered | null>((resolve) => {
    s.pending.set(id, (reply) => resolve({ ...reply, values: reply.values.filter((v) => v !== undefined && v !== null) }));
    // A closed channel (the primary is gone) is reported to the callback, not thrown as an 'error' event.
    process.send!({ type: ASK, id, topic, payload, timeoutMs }, undefined, undefined, (error) => {
      if (!error) return;
      s.pending.delete(id);
      resolve(null);
    });
  });
  return withDeadline(replied, timeoutMs + 500, () => (s.pending.delete(id), null));
}

/**
 * Counts one request of `key` against `limit` in the primary, which holds the server's one count per
 * key, so a key's limit holds across the workers whichever of them its connections reach. Null outside
 * a cluster (the caller counts in process) and when the primary does not answer within `timeoutMs`.
 */
export async function takeRateInPrimary(key: string, limit: RateLimit, timeoutMs: number): Promise<RateVerdict | null> {
  const s = state();
  const id = s.next++;
  const verdict = new Promise<RateVerdict | null>((resolve) => {
    s.verdicts.set(id, resolve);
    process.send!({ type: RATE, id, key, limit }, undefined, undefined, (error) => {
      if (!error) return;
      s.verdicts.delete(id);
      resolve(null);
    });
  });
  return withDeadline(verdict, timeoutMs, () => (s.verdicts.delete(id), null));
}

/** True in a worker of a cluster (WORKERS > 1): rate limits are counted by the primary. */
export const ratesCountedByPrimary = (): boolean => inCluster();

/** In the primary: answers the workers' rate-limit requests from one RateLimiter; true when `message` was one. */
export function answerRateRequests(): (worker: Worker, message: Message) => boolean {
  const limiter = new RateLimiter();
  return (worker, message) => {
    if (message?.type !== RATE) return false;
    let verdict: RateVerdict;
    try {
      verdict = limiter.take(String(message.key), message.limit as RateLimit, Date.now());
    } catch {
      return true; // a malformed limit: no verdict, the worker's wait ends at its deadline
    }
    if (worker.isConnected()) sendSafely(worker, { type: RATE_VERDICT, id: message.id, verdict }, () => undefined);
    return true;
  };
}

/**
 * How the primary keeps a topic's answers that must not be lost (/api/metrics' counters): `join`
 * makes one answer of several (server/telemetry/carriedMetrics.ts carriedTotals).
 */
export interface Carry {
  topic: string;
  join: (answers: unknown[]) => unknown;
}

/** The primary's relay: a worker's message in; `retire(worker)` when a worker has exited (its last answer to the carried topic is kept). */
export interface Relay {
  (asker: Worker, message: Message): void;
  retire(worker: Worker): void;
}

/**
 * In the primary: relays each worker's question to every live worker and the answers back. A worker
 * may disconnect between the isConnected() check and the send (it died, or is shutting down): the
 * send then fails through its callback and counts as that worker's (empty) answer, so the question
 * still ends when every other worker has answered, and the primary never sees an 'error' event it
 * does not handle (cluster re-emits a failed send on the Worker, and an unhandled 'error' would end
 * the primary and every worker with it). runPrimary also listens for 'error' on each worker.
 * With `carry`, each worker's last answer to that topic is kept: a retired worker's is joined into
 * what every later reply carries, and so is the last answer of a worker asked that did not answer.
 */
export function relayQuestions(workers: () => Worker[], primary: () => PrimaryState, carry?: Carry): Relay {
  let next = 0;
  const questions = new Map<number, { topic: string; values: unknown[]; from: Set<Worker>; waiting: number; done: () => void }>();
  /** Each live worker's last answer to the carried topic, and what the retired ones last answered, joined. */
  const last = new Map<Worker, unknown>();
  let retired: unknown = null;
  const answered = (question: { waiting: number; done: () => void } | undefined) => {
    if (question && --question.waiting === 0) question.done();
  };
  const relay = ((asker: Worker, message: Message) => {
    if (message?.type === ANSWER) {
      const question = questions.get(message.id ?? -1);
      if (!question) return;
      question.values.push(message.value);
      question.from.add(asker);
      if (carry && question.topic === carry.topic && message.value !== undefined && message.value !== null) last.set(asker, message.value);
      answered(question);
      return;
    }
    if (message?.type !== ASK) return;
    const live = workers().filter((w) => w.isConnected());
    const qid = next++;
    const topic = String(message.topic ?? "");
    void new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, message.timeoutMs ?? 1000));
      const question = { topic, values: [] as unknown[], from: new Set<Worker>(), waiting: live.length, done: () => (clearTimeout(timer), resolve()) };
      questions.set(qid, question);
      if (live.length === 0) question.done();
      for (const worker of live) sendSafely(worker, { type: QUESTION, id: qid, topic: message.topic, payload: message.payload }, () => answered(question));
    }).then(() => {
      const { values, from } = questions.get(qid)!;
      questions.delete(qid);
      let carried: unknown = null;
      if (carry && topic === carry.topic) {
        // Every worker asked or exited whose figures this reply lacks: silent ones, and exited ones not yet retired.
        const lacking = new Set([...live, ...retiring].filter((w) => !from.has(w)));
        const kept = [retired, ...[...lacking].map((w) => last.get(w))].filter((v) => v !== undefined && v !== null);
        if (kept.length > 0) carried = carry.join(kept);
      }
      settleRetirements();
      if (asker.isConnected()) sendSafely(asker, { type: REPLY, id: message.id, values, asked: live.length, primary: primary(), ...(carried !== null ? { carried } : {}) }, () => undefined);
    });
  }) as Relay;
  // A worker that exited while a question holds its answer is retired once that question has replied:
  // retired at once, its figures would be in that reply twice (its answer and the retired sum), and
  // missing from the next (break test 2026-12-04, by reading).
  const retiring = new Set<Worker>();
  const settleRetirements = () => {
    for (const worker of retiring) {
      if ([...questions.values()].some((question) => question.from.has(worker))) continue;
      retiring.delete(worker);
      const final = last.get(worker);
      last.delete(worker);
      if (carry && final !== undefined) retired = carry.join(retired === null ? [final] : [retired, final]);
    }
  };
  relay.retire = (worker) => {
    retiring.add(worker);
    settleRetirements();
  };
  return relay;
}

/**
 * Sends `message` to `worker`, calling `failed` instead of throwing or emitting 'error' when the
 * channel is closed (ERR_IPC_CHANNEL_CLOSED arrives through the callback, on the next tick).
 */
export function sendSafely(worker: Worker, message: Message, failed: (error: Error) => void): void {
  try {
    worker.send(message as Serializable, (error: Error | null) => {
      if (error) failed(error);
    });
  } catch (error) {
    failed(error as Error);
  }
}
