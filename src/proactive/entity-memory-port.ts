import type { EntityStore, Fact } from "../memory/index.js";
import type { MemoryPort } from "./ports.js";

/**
 * The loop's memory port over an open entity store: `sarai loop` opens its own connection to
 * `memory.database` (SQLite WAL lets it share the file with `sarai serve`); `app.ts` may pass its store.
 */
export function createEntityMemoryPort(store: EntityStore): MemoryPort {
  return {
    vacuum: () => {
      const report = store.vacuum();
      return { bytesBefore: report.bytesBefore, bytesAfter: report.bytesAfter };
    },
    rotate: (days) => store.rotate(days),
    facts: (userId, limit) => activeFactsNewestFirst(store.list(userId), limit),
  };
}

function activeFactsNewestFirst(facts: readonly Fact[], limit: number): Fact[] {
  return facts
    .filter((fact) => fact.validTo === null)
    .sort((a, b) => b.updatedAt - a.updatedAt || b.id - a.id)
    .slice(0, Math.max(0, limit));
}
