import type { Worker } from "node:cluster";
import { env } from "../config";
import { withDeadline } from "../domain/time/deadline";

// Questions a worker asks all the workers of its server (WORKERS=N, server/http/cluster.ts) over
// the cluster's IPC channel, through the primary: "your metrics" (/api/metrics sums them) and "did
// you serve request X" (an event may reach another worker than the request it refers to). The
// primary only relays: it forwards a question to every live worker, gathers the answers for at most
// the asker's timeout and sends them back. Outside a cluster there is nobody to ask.

const ASK = "rerank:ask";
const QUESTION = "rerank:question";
const ANSWER = "rerank:answer";
const REPLY = "rerank:reply";

interface Message {
  type?: string;
  id?: number;
  topic?: string;
  payload?: unknown;
  value?: unknown;
  values?: unknown[];
  asked?: number;
  timeoutMs?: number;
}

type Handler = (payload: unknown) => unknown | Promise<unknown>;

/** This worker's number (1…N), set by the primary in each worker's environment; undefined outside a cluster. */
export const workerId = (): string | undefined => {
  const id = env().RERANK_WORKER_ID;
  return id === undefined ? undefined : String(id);
};

/** The server's log line prefix: `[rerank]`, or `[rerank worker N]` in a worker. */
export const serverLog = (line: string) => console.log(`[rerank${workerId() ? ` worker ${workerId()}` : ""}] ${line}`);

const inCluster = () => Boolean(workerId() && process.send);

// Next's bundle and the front door each load a copy of this module: one state and listener per process.
const holder = globalThis as unknown as {
  __rerankIpc?: { next: number; pending: Map<number, (reply: { values: unknown[]; asked: number }) => void>; handlers: Map<string, Handler> };
};

function state() {
  if (holder.__rerankIpc) return holder.__rerankIpc;
  const s = { next: 0, pending: new Map<number, (reply: { values: unknown[]; asked: number }) => void>(), handlers: new Map<string, Handler>() };
  holder.__rerankIpc = s;
  process.on("message", (message: Message) => {
    if (message?.type === QUESTION) {
      const handler = s.handlers.get(message.topic ?? "");
      void Promise.resolve()
        .then(() => (handler ? handler(message.payload) : undefined))
        .catch(() => undefined)
        .then((value) => process.send?.({ type: ANSWER, id: message.id, value }));
    } else if (message?.type === REPLY && typeof message.id === "number") {
      s.pending.get(message.id)?.({ values: message.values ?? [], asked: message.asked ?? 0 });
      s.pending.delete(message.id);
    }
  });
  return s;
}

/** Registers this worker's answer to `topic` (a no-op outside a cluster). */
export function answer(topic: string, handler: Handler): void {
  if (!inCluster()) return;
  state().handlers.set(topic, handler);
}

/**
 * Asks every worker (this one included) and returns their answers (undefined answers left out) and
 * how many were asked; null outside a cluster or when the primary does not reply within timeoutMs.
 */
export async function askWorkers(topic: string, payload: unknown, timeoutMs: number): Promise<{ values: unknown[]; asked: number } | null> {
  if (!inCluster()) return null;
  const s = state();
  const id = s.next++;
  const replied = new Promise<{ values: unknown[]; asked: number }>((resolve) => {
    s.pending.set(id, (reply) => resolve({ values: reply.values.filter((v) => v !== undefined && v !== null), asked: reply.asked }));
    process.send!({ type: ASK, id, topic, payload, timeoutMs });
  });
  return withDeadline(replied, timeoutMs + 500, () => (s.pending.delete(id), null));
}

/** In the primary: relays each worker's question to every live worker and the answers back. */
export function relayQuestions(workers: () => Worker[]): (asker: Worker, message: Message) => void {
  let next = 0;
  const questions = new Map<number, { values: unknown[]; waiting: number; done: () => void }>();
  return (asker, message) => {
    if (message?.type === ANSWER) {
      const question = questions.get(message.id ?? -1);
      if (!question) return;
      question.values.push(message.value);
      if (--question.waiting === 0) question.done();
      return;
    }
    if (message?.type !== ASK) return;
    const live = workers().filter((w) => w.isConnected());
    const qid = next++;
    void new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, message.timeoutMs ?? 1000));
      questions.set(qid, { values: [], waiting: live.length, done: () => (clearTimeout(timer), resolve()) });
      for (const worker of live) worker.send({ type: QUESTION, id: qid, topic: message.topic, payload: message.payload });
    }).then(() => {
      const { values } = questions.get(qid)!;
      questions.delete(qid);
      if (asker.isConnected()) asker.send({ type: REPLY, id: message.id, values, asked: live.length });
    });
  };
}
