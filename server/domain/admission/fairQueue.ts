// Start-time fair queuing over callers: the order in which work waiting for a shared server (a
// model's threads) is served, so one caller's backlog delays another caller's work by at most about
// one item of its own, instead of by all of it (a FIFO). Pure: no clock, no I/O.
//
// Source: P. Goyal, H. M. Vin, H. Cheng, "Start-time Fair Queueing: A Scheduling Algorithm for
// Integrated Services Packet Switching Networks", SIGCOMM 1996 (IEEE/ACM ToN 5(5), 1997). An item of
// caller f arriving with cost c gets the start tag S = max(v, F_f) and the finish tag F_f := S + c,
// where v is the start tag of the item last taken into service (the system's virtual time) and F_f
// the finish tag of caller f's previous item; items are served in increasing start tag (ties: arrival
// order). At the end of a busy period (the server idle and nothing waiting: its owner calls idle()),
// v becomes the largest finish tag given, so a caller's earlier service does not count against it in
// the next one (the paper's rule), and the finish tags at or below it are forgotten (the memory is
// bounded by the callers of one busy period). Work the server took at once, without queueing, is
// charged too (charge()), so a caller whose first item went straight in does not also lead the queue.
// An item's cost may be an estimate made before it ran: adjust() charges the difference once its
// real cost is known (the caller's finish tag and its waiting items move by it).

interface Entry<T> {
  item: T;
  caller: string;
  start: number;
  cost: number;
  seq: number;
}

/** A cost as charged: a non-finite or non-positive one counts as 1. */
const costOf = (cost: number) => (Number.isFinite(cost) && cost > 0 ? cost : 1);

export class FairQueue<T> {
  /** Waiting entries, in service order (start tag, then arrival). */
  private readonly waiting: Entry<T>[] = [];
  /** Finish tag of each caller's latest item, while it may exceed v. */
  private readonly finish = new Map<string, number>();
  private virtualTime = 0;
  private maxFinish = 0;
  private seq = 0;

  get size(): number {
    return this.waiting.length;
  }

  /**
   * Queues `item` for `caller` at `cost` (> 0, in the server's unit: pairs, rows; a non-finite or
   * non-positive cost counts as 1).
   */
  push(caller: string, cost: number, item: T): void {
    const start = this.tag(caller, cost);
    const entry: Entry<T> = { item, caller, start, cost: costOf(cost), seq: this.seq++ };
    // Insert after every entry with a smaller or equal start tag (arrival order among equals).
    let lo = 0;
    let hi = this.waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.waiting[mid]!.start <= start) lo = mid + 1;
      else hi = mid;
    }
    this.waiting.splice(lo, 0, entry);
  }

  /** The waiting items in service order (the first is served next); a copy. */
  ordered(): T[] {
    return this.waiting.map((entry) => entry.item);
  }

  /** Takes `item` into service (v becomes its start tag); false when it is not waiting. */
  take(item: T): boolean {
    const at = this.waiting.findIndex((entry) => entry.item === item);
    if (at < 0) return false;
    this.virtualTime = Math.max(this.virtualTime, this.waiting[at]!.start);
    this.waiting.splice(at, 1);
    return true;
  }

  /** Takes the next item into service, if any. */
  next(): T | undefined {
    const head = this.waiting[0];
    if (!head) return undefined;
    this.take(head.item);
    return head.item;
  }

  /**
   * Withdraws `item` unserved (its caller gave up, its start deadline passed): false when it is not
   * waiting. Its cost is refunded (the caller's finish tag goes back by it, never below v): a caller
   * whose requests expired while another kept the server busy would otherwise carry their cost as debt
   * and starve behind it (each new request queued behind the debt, expired, and added to it). Start
   * tags are never below v, so a refund cannot put the caller ahead of work already being served.
   */
  remove(item: T): boolean {
    const at = this.waiting.findIndex((entry) => entry.item === item);
    if (at < 0) return false;
    const [entry] = this.waiting.splice(at, 1);
    const finish = this.finish.get(entry!.caller);
    if (finish !== undefined) this.finish.set(entry!.caller, Math.max(this.virtualTime, finish - entry!.cost));
    return true;
  }

  /** Charges `caller` for an item of `cost` the server took at once (as push then take). */
  charge(caller: string, cost: number): void {
    this.virtualTime = Math.max(this.virtualTime, this.tag(caller, cost));
  }

  /**
   * Corrects the cost charged for an item of `caller` once its real cost is known (`delta` = real −
   * charged; negative refunds). The caller's finish tag moves by delta, and so do the start tags of
   * its items still waiting (they were tagged after the item corrected), neither below v: a caller
   * whose estimate was low pays the rest before its next item; one whose estimate was high gets the
   * excess back. No-op when the caller has no finish tag (its busy period ended: history forgotten).
   */
  adjust(caller: string, delta: number): void {
    const finish = this.finish.get(caller);
    if (finish === undefined || !Number.isFinite(delta) || delta === 0) return;
    const moved = Math.max(this.virtualTime, finish + delta);
    this.finish.set(caller, moved);
    this.maxFinish = Math.max(this.maxFinish, moved);
    const own = this.waiting.filter((entry) => entry.caller === caller);
    if (own.length === 0) return;
    for (const entry of own) entry.start = Math.max(this.virtualTime, entry.start + delta);
    // Service order again: start tag, then arrival.
    this.waiting.sort((a, b) => a.start - b.start || a.seq - b.seq);
  }

  /**
   * The server has nothing in service: when nothing waits either, the busy period ends (v becomes
   * the largest finish tag; callers' tags at or below it are forgotten). No-op while items wait.
   */
  idle(): void {
    if (this.waiting.length > 0) return;
    this.virtualTime = Math.max(this.virtualTime, this.maxFinish);
    this.finish.clear();
  }

  /** Gives `caller`'s next item its start tag and records its finish tag. */
  private tag(caller: string, cost: number): number {
    const start = Math.max(this.virtualTime, this.finish.get(caller) ?? 0);
    const end = start + costOf(cost);
    this.finish.set(caller, end);
    this.maxFinish = Math.max(this.maxFinish, end);
    return start;
  }
}
