// A uniform sample of fixed size from a stream of unknown length (Vitter's Algorithm R): after n
// offers, every item seen is in the sample with probability size / n.

export class Reservoir<T> {
  private readonly items: T[] = [];
  private seen = 0;

  constructor(
    readonly size: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(size >= 1) || !Number.isInteger(size)) throw new RangeError(`size must be a positive integer, got ${size}`);
  }

  offer(item: T): void {
    this.seen++;
    if (this.items.length < this.size) {
      this.items.push(item);
      return;
    }
    const j = Math.floor(this.random() * this.seen);
    if (j < this.size) this.items[j] = item;
  }

  /** Items offered so far (not only those kept). */
  get offered(): number {
    return this.seen;
  }

  values(): readonly T[] {
    return this.items;
  }
}
