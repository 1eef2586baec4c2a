// Admission of serving requests by fair share of a process's capacity, so that one caller's burst
// cannot queue every other caller's requests behind its own (a load that one caller sends is not
// something another caller should pay for, any more than its faults: server/domain/breakers/).
//
// A process has a capacity of C serving requests in flight (RERANK_MAX_IN_FLIGHT). While fewer than C/2
// are in flight nobody is refused: a single caller may use idle capacity. From C/2 on the process is
// contended, and a caller is admitted only while it holds fewer than its fair share, C / (callers with
// a request in flight, counting it): a caller that filled the idle capacity alone gets nothing more
// until it is back under its share, and another caller is admitted at once. Shares sum to C; a caller
// over its share (it got there before the others came) drains as its requests finish, and meanwhile
// callers under their share are admitted up to 2C in all, the hard bound; past it nobody is.
// This is max-min fairness over concurrency (as Kubernetes' API Priority and Fairness shares seats
// among flows), kept to one rule: no queue, no priorities; the refused retry after Retry-After.
// Only callers with a request in flight are tracked, so the table holds at most 2C entries.

/** Why a request was refused: its caller holds its share (429: the caller sends too much), or the process is full (503). */
export type Refusal =
  | { reason: "caller_share"; inFlight: number; share: number; callers: number }
  | { reason: "capacity"; inFlight: number };

/** A serving request's place: `release()` once its answer is sent or its connection closed (once; later calls do nothing). */
export interface Ticket {
  release(): void;
}

/**
 * Fair-share admission over one process's serving requests; `capacity`: C above (an integer ≥ 2).
 * @throws RangeError for another capacity
 */
export class FairShareAdmission {
  private total = 0;
  private readonly byCaller = new Map<string, number>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`capacity: an integer ≥ 2, got ${capacity}`);
  }

  /** Requests in flight now, in all or for `caller`. */
  inFlight(caller?: string): number {
    return caller === undefined ? this.total : (this.byCaller.get(caller) ?? 0);
  }

  /** Callers with a request in flight now. */
  get callers(): number {
    return this.byCaller.size;
  }

  /**
   * Admits `caller`'s request (a Ticket to release when it is answered) or refuses it (see Refusal).
   */
  admit(caller: string): { ticket: Ticket; refusal?: undefined } | { ticket?: undefined; refusal: Refusal } {
    if (this.total >= 2 * this.capacity) return { refusal: { reason: "capacity", inFlight: this.total } };
    const own = this.byCaller.get(caller) ?? 0;
    if (this.total * 2 >= this.capacity) {
      const callers = this.byCaller.size + (own === 0 ? 1 : 0);
      const share = Math.max(1, Math.floor(this.capacity / callers));
      if (own >= share) return { refusal: { reason: "caller_share", inFlight: own, share, callers } };
    }
    this.total++;
    this.byCaller.set(caller, own + 1);
    let released = false;
    return {
      ticket: {
        release: () => {
          if (released) return;
          released = true;
          this.total--;
          const left = (this.byCaller.get(caller) ?? 1) - 1;
          if (left <= 0) this.byCaller.delete(caller);
          else this.byCaller.set(caller, left);
        },
      },
    };
  }
}

/** A refusal in words for the caller: what it holds, its share, and what to do. */
export function refusalMessage(refusal: Refusal, retryAfterSeconds: number): string {
  if (refusal.reason === "capacity") {
    return `the server has ${refusal.inFlight} serving requests in flight, the most it takes at once (twice RERANK_MAX_IN_FLIGHT); retry in ${retryAfterSeconds} s`;
  }
  return `caller: ${refusal.inFlight} of your requests are in flight, your share of this server while ${refusal.callers} callers send at once (${refusal.share}); retry in ${retryAfterSeconds} s or send fewer at once`;
}
