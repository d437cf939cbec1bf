import { describe, expect, it } from "vitest";
import { AbortedError } from "../shared/index.js";
import { Semaphore } from "./semaphore.js";

describe("inference", () => {
  describe("Semaphore", () => {
    it("grants up to its capacity, then queues waiters in FIFO order", async () => {
      const slots = new Semaphore(2);
      const signal = new AbortController().signal;
      await slots.acquire(signal);
      await slots.acquire(signal);
      const order: string[] = [];
      const a = slots.acquire(signal).then(() => order.push("a"));
      const b = slots.acquire(signal).then(() => order.push("b"));
      expect(slots.inUse).toBe(2);
      expect(slots.waiting).toBe(2);
      slots.release();
      await a;
      expect(order).toEqual(["a"]);
      slots.release();
      await b;
      expect(order).toEqual(["a", "b"]);
      expect(slots.inUse).toBe(2);
      slots.release();
      slots.release();
      expect(slots.inUse).toBe(0);
    });

    it("drops an aborted waiter from the queue and rejects it with AbortedError", async () => {
      const slots = new Semaphore(1);
      await slots.acquire(new AbortController().signal);
      const controller = new AbortController();
      const waiting = slots.acquire(controller.signal);
      const next = slots.acquire(new AbortController().signal);
      controller.abort();
      await expect(waiting).rejects.toBeInstanceOf(AbortedError);
      expect(slots.waiting).toBe(1);
      slots.release();
      await next;
      expect(slots.inUse).toBe(1);
    });

    it("fails with QUEUE_FULL when the wait list is full", async () => {
      const slots = new Semaphore(1, 1);
      const signal = new AbortController().signal;
      await slots.acquire(signal);
      const waiting = slots.acquire(signal);
      await expect(slots.acquire(signal)).rejects.toMatchObject({ code: "QUEUE_FULL" });
      slots.release();
      await waiting;
      expect(slots.waiting).toBe(0);
    });

    it("rejects at once when the signal is already aborted", async () => {
      const slots = new Semaphore(1);
      await expect(slots.acquire(AbortSignal.abort())).rejects.toBeInstanceOf(AbortedError);
      expect(slots.inUse).toBe(0);
    });
  });
});
