import { describe, expect, it } from "vitest";
import { FairQueue } from "./fairQueue";

/** Takes every waiting item in service order. */
const drain = <T>(queue: FairQueue<T>): T[] => {
  const out: T[] = [];
  for (let item = queue.next(); item !== undefined; item = queue.next()) out.push(item);
  return out;
};

describe("FairQueue (start-time fair queuing, Goyal et al. 1996)", () => {
  it("serves one caller's late request before another caller's backlog, not after it (a FIFO would)", () => {
    const queue = new FairQueue<string>();
    for (let i = 1; i <= 5; i++) queue.push("bulk", 256, `bulk-${i}`);
    queue.push("small", 3, "small-1");
    // bulk-1 has start tag 0 (v = 0), small-1 also 0: arrival order between them; the rest of bulk's wait.
    expect(drain(queue)).toEqual(["bulk-1", "small-1", "bulk-2", "bulk-3", "bulk-4", "bulk-5"]);
  });

  it("shares by cost: a caller of small items gets as many pairs through as a caller of large ones", () => {
    const queue = new FairQueue<string>();
    for (let i = 0; i < 4; i++) queue.push("large", 100, `L${i}`);
    for (let i = 0; i < 20; i++) queue.push("small", 10, `s${i}`);
    const order = drain(queue);
    // Start tags: L at 0, 100, 200, 300; s at 0, 10, …, 190. Before L1 (tag 100): L0 and s0..s9 (tags ≤ 100, s10 ties L1 and came later).
    expect(order.slice(0, 11)).toEqual(["L0", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"]);
    expect(order.indexOf("L1")).toBe(11);
    expect(order.indexOf("s10")).toBe(12);
  });

  it("keeps arrival order within a caller, and between callers at equal start tags", () => {
    const queue = new FairQueue<string>();
    queue.push("a", 1, "a1");
    queue.push("b", 1, "b1");
    queue.push("a", 1, "a2");
    queue.push("b", 1, "b2");
    expect(drain(queue)).toEqual(["a1", "b1", "a2", "b2"]);
  });

  it("v follows service: a caller arriving mid-backlog starts at the tag being served, not at 0", () => {
    const queue = new FairQueue<string>();
    queue.push("a", 10, "a1");
    queue.push("a", 10, "a2");
    queue.push("a", 10, "a3");
    expect(queue.next()).toBe("a1");
    expect(queue.next()).toBe("a2"); // v = 10
    queue.push("b", 10, "b1"); // start 10, a3 has 20
    queue.push("b", 10, "b2"); // start 20, after a3 (arrival)
    expect(drain(queue)).toEqual(["b1", "a3", "b2"]);
  });

  it("forgets past service at the end of a busy period (the server idle, nothing waiting), not before", () => {
    const queue = new FairQueue<string>();
    for (let i = 0; i < 10; i++) queue.push("heavy", 100, `h${i}`);
    queue.next();
    queue.idle(); // items still wait: the busy period goes on
    queue.push("light", 1, "l1"); // start 0 (v = 0), before h1 (100)
    expect(queue.next()).toBe("l1");
    drain(queue);
    queue.idle();
    // A new busy period: heavy's 1,000 units of earlier service do not put it behind a newcomer.
    queue.push("heavy", 1, "h-new");
    queue.push("new", 1, "n1");
    expect(drain(queue)).toEqual(["h-new", "n1"]);
  });

  it("refunds a withdrawn item's cost (expired requests are no debt), never below the work being served; take/remove of unknown items are false", () => {
    const queue = new FairQueue<string>();
    queue.push("a", 50, "a1");
    queue.push("b", 10, "b1");
    expect(queue.remove("a1")).toBe(true);
    expect(queue.remove("a1")).toBe(false);
    expect(queue.take("zz")).toBe(false);
    queue.push("a", 10, "a2"); // start 0 again (refunded), ties b1 and came later
    queue.push("b", 10, "b2"); // start 10
    expect(drain(queue)).toEqual(["b1", "a2", "b2"]);
    expect(queue.size).toBe(0);
  });

  it("does not starve a caller whose requests expired while another kept the server busy (review: they were charged as debt)", () => {
    const queue = new FairQueue<string>();
    queue.charge("busy", 100); // the server is busy with b's work
    for (let i = 0; i < 40; i++) queue.push("a", 100, `a${i}`);
    for (let i = 0; i < 40; i++) queue.remove(`a${i}`); // all expired unserved
    queue.push("busy", 100, "busy-1");
    queue.push("a", 10, "a-new");
    // a's new request starts at v (0), ahead of busy's next (100): not behind 4,000 pairs of debt.
    expect(drain(queue)).toEqual(["a-new", "busy-1"]);
  });

  it("charges work the server took at once: that caller's next item waits its turn", () => {
    const queue = new FairQueue<string>();
    queue.charge("bulk", 256); // went straight to a free thread
    for (let i = 1; i <= 4; i++) queue.push("bulk", 256, `bulk-${i}`);
    queue.push("small", 3, "small-1");
    expect(drain(queue)).toEqual(["small-1", "bulk-1", "bulk-2", "bulk-3", "bulk-4"]);
  });

  it("counts a non-finite or non-positive cost as 1", () => {
    const queue = new FairQueue<string>();
    queue.push("a", Number.NaN, "a1");
    queue.push("a", -5, "a2");
    queue.push("b", 1, "b1");
    queue.push("b", 1, "b2");
    expect(drain(queue)).toEqual(["a1", "b1", "a2", "b2"]);
  });

  it("adjust charges a caller the difference once an item's real cost is known: its waiting items and its next ones move by it", () => {
    const queue = new FairQueue<string>();
    // Both estimated at 10; a1 really cost 50.
    queue.push("a", 10, "a1");
    queue.push("a", 10, "a2");
    queue.push("b", 10, "b1");
    queue.push("b", 10, "b2");
    queue.push("b", 10, "b3");
    expect(queue.next()).toBe("a1");
    queue.adjust("a", 40); // a2: 10 → 50
    expect(drain(queue)).toEqual(["b1", "b2", "b3", "a2"]);
    // Overestimated: the excess comes back, never below v.
    const refund = new FairQueue<string>();
    refund.push("a", 100, "a1");
    refund.push("a", 100, "a2");
    refund.push("b", 30, "b1");
    refund.push("b", 30, "b2");
    expect(refund.next()).toBe("a1");
    refund.adjust("a", -90); // a1 cost 10: a2 starts at 10, before b2 (30)
    expect(drain(refund)).toEqual(["b1", "a2", "b2"]);
    refund.adjust("a", -1e9);
    refund.push("a", 1, "a3");
    refund.push("c", 1, "c1");
    expect(drain(refund)).toEqual(["a3", "c1"]);
  });

  it("adjust is a no-op for a caller with no finish tag (its busy period ended) and for a zero or non-finite delta", () => {
    const queue = new FairQueue<string>();
    queue.adjust("nobody", 100);
    queue.push("a", 10, "a1");
    queue.adjust("a", Number.NaN);
    queue.push("b", 10, "b1");
    expect(drain(queue)).toEqual(["a1", "b1"]);
    queue.idle();
    queue.adjust("a", 1000);
    queue.push("a", 1, "a2");
    queue.push("b", 1, "b2");
    expect(drain(queue)).toEqual(["a2", "b2"]);
  });
});

