import { describe, expect, it } from "vitest";
import { AsyncQueue } from "./async-queue.js";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("inference", () => {
  describe("AsyncQueue", () => {
    it("yields items pushed before and after the consumer starts, then the last one", async () => {
      const queue = new AsyncQueue<number>();
      queue.push(1);
      const collected = collect(queue);
      queue.push(2);
      setTimeout(() => queue.end(3), 5);
      expect(await collected).toEqual([1, 2, 3]);
      expect(queue.finished).toBe(true);
    });

    it("delivers buffered items before the failure", async () => {
      const queue = new AsyncQueue<string>();
      queue.push("a");
      queue.fail(new Error("boom"));
      queue.push("ignored");
      const seen: string[] = [];
      await expect(
        (async () => {
          for await (const item of queue) seen.push(item);
        })(),
      ).rejects.toThrow("boom");
      expect(seen).toEqual(["a"]);
    });
  });
});
