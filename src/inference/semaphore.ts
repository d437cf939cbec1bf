import { AbortedError, AppError } from "../shared/index.js";

/** A counting semaphore with a FIFO wait list whose waiters leave the list when their signal fires. */
export class Semaphore {
  readonly #capacity: number;
  readonly #maxWaiting: number;
  #inUse = 0;
  readonly #waiters: { grant: () => void; reject: (error: unknown) => void; signal: AbortSignal }[] = [];

  /** `maxWaiting` bounds the wait list; an acquire beyond it fails at once with `QUEUE_FULL`. */
  constructor(capacity: number, maxWaiting = Number.POSITIVE_INFINITY) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError("capacity must be a positive integer");
    this.#capacity = capacity;
    this.#maxWaiting = maxWaiting;
  }

  get capacity(): number {
    return this.#capacity;
  }

  get inUse(): number {
    return this.#inUse;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves when a slot is free; rejects with `AbortedError` if `signal` fires first. */
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new AbortedError("aborted while waiting for a free sequence"));
    if (this.#inUse < this.#capacity) {
      this.#inUse += 1;
      return Promise.resolve();
    }
    if (this.#waiters.length >= this.#maxWaiting) {
      return Promise.reject(
        new AppError(
          "QUEUE_FULL",
          `all ${this.#capacity} sequences are busy and ${this.#waiters.length} requests wait`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        reject,
        signal,
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(new AbortedError("aborted while waiting for a free sequence"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    // The slot passes straight to the next waiter, so inUse stays the same.
    if (next !== undefined) next.grant();
    else this.#inUse = Math.max(0, this.#inUse - 1);
  }
}
