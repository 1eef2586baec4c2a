import type { Worker } from "node:cluster";
import { describe, expect, it } from "vitest";
import { relayQuestions } from "./ipc";

// The primary's relay with a carried topic, over stand-in workers (the real cluster: ipc.int.test.ts,
// server/http/cluster.int.test.ts). Answers are numbers and joining them sums them, as
// carriedTotals sums counters: a reply's figure is its values plus what it carries.

type Sent = { type: string; id: number; values?: number[]; carried?: number };
function worker(name: string) {
  const sent: Sent[] = [];
  const w = { name, connected: true, sent, isConnected: () => w.connected, send: (message: Sent, callback?: (error: Error | null) => void) => (sent.push(message), callback?.(null), true) };
  return w;
}
const asWorker = (w: ReturnType<typeof worker>) => w as unknown as Worker;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("relayQuestions with a carried topic", () => {
  it("counts a worker that answered and then exited once, in that reply and in every later one (break test by reading: twice, then not at all)", async () => {
    const [a, b, c] = [worker("a"), worker("b"), worker("c")];
    const relay = relayQuestions(() => [a, b, c].map(asWorker), () => ({ workers: 3, restarts: { exit: 0, hang: 0 } }), { topic: "metrics", join: (parts) => (parts as number[]).reduce((x, y) => x + y, 0) });
    const total = (reply: Sent | undefined) => (reply?.values ?? []).reduce((x, y) => x + y, 0) + (reply?.carried ?? 0);
    const ask = (asker: ReturnType<typeof worker>, id: number) => relay(asWorker(asker), { type: "rerank:ask", id, topic: "metrics", payload: null, timeoutMs: 60 });
    const questionId = (w: ReturnType<typeof worker>) => w.sent.filter((m) => m.type === "rerank:question").at(-1)!.id;
    const answer = (w: ReturnType<typeof worker>, value: number) => relay(asWorker(w), { type: "rerank:answer", id: questionId(w), value });

    // Q1: a and b answer, c is stopped (silent); b then exits while Q1 waits for c.
    ask(a, 1);
    answer(a, 10);
    answer(b, 20);
    b.connected = false;
    relay.retire(asWorker(b));
    // Q2, asked while Q1 still waits: b is gone and not yet retired; its last answer is carried.
    ask(a, 2);
    answer(a, 11);
    await tick(100);
    const replies = a.sent.filter((m) => m.type === "rerank:reply");
    expect(total(replies.find((r) => r.id === 1))).toBe(30);
    expect(total(replies.find((r) => r.id === 2))).toBe(31);
    // Q3: c answers again; b's 20 is retired into every later reply.
    ask(a, 3);
    answer(a, 12);
    answer(c, 5);
    await tick(10);
    expect(total(a.sent.filter((m) => m.type === "rerank:reply").find((r) => r.id === 3))).toBe(37);
  });

  it("carries a silent worker's last answer, and nothing for a topic that is not carried", async () => {
    const [a, b] = [worker("a"), worker("b")];
    const relay = relayQuestions(() => [a, b].map(asWorker), () => ({ workers: 2, restarts: { exit: 0, hang: 0 } }), { topic: "metrics", join: (parts) => (parts as number[]).reduce((x, y) => x + y, 0) });
    const qid = (w: ReturnType<typeof worker>) => w.sent.filter((m) => m.type === "rerank:question").at(-1)!.id;
    relay(asWorker(a), { type: "rerank:ask", id: 1, topic: "metrics", payload: null, timeoutMs: 30 });
    relay(asWorker(a), { type: "rerank:answer", id: qid(a), value: 4 });
    relay(asWorker(b), { type: "rerank:answer", id: qid(b), value: 6 });
    relay(asWorker(a), { type: "rerank:ask", id: 2, topic: "metrics", payload: null, timeoutMs: 30 });
    relay(asWorker(a), { type: "rerank:answer", id: qid(a), value: 5 });
    relay(asWorker(a), { type: "rerank:ask", id: 3, topic: "served", payload: null, timeoutMs: 30 });
    relay(asWorker(a), { type: "rerank:answer", id: qid(a), value: 1 });
    await tick(60);
    const replies = a.sent.filter((m) => m.type === "rerank:reply");
    expect(replies.find((r) => r.id === 1)).toMatchObject({ values: [4, 6] });
    expect(replies.find((r) => r.id === 1)!.carried).toBeUndefined();
    expect(replies.find((r) => r.id === 2)).toMatchObject({ values: [5], carried: 6 });
    expect(replies.find((r) => r.id === 3)!.carried).toBeUndefined();
  });
});
