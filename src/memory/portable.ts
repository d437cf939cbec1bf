import { z } from "zod";
import { AppError } from "../shared/index.js";
import { assertWellFormed } from "./entity-memory.js";
import type { EntityStore, Fact } from "./entity-store.js";
import { factExtractors, factSources } from "./types.js";

/** A fact as the API and export files show it: snake_case, times as ISO 8601. */
export interface FactJson {
  id: number;
  user: string;
  subject: string;
  relation: string;
  object: string;
  negated: boolean;
  confidence: number;
  source: string;
  /** `rules`, `model` or `both`; null for a fact added by hand. */
  extractor: string | null;
  message_id: string | null;
  when: string | null;
  mentions: number;
  pinned: boolean;
  created_at: string;
  updated_at: string;
  valid_from: string;
  valid_to: string | null;
  superseded_by: number | null;
}

/** An export: every fact of one user, history included. `sarai memory import` and the API read it back. */
export interface MemoryExport {
  format: "sarai-memory";
  version: 1;
  user: string;
  exported_at: string;
  facts: FactJson[];
}

export interface ImportReport {
  /** Active facts added. */
  imported: number;
  /** Active facts that were already known and got reinforced (or kept over an assistant guess). */
  reinforced: number;
  /** Historic (closed) facts added as history. */
  historic: number;
}

const isoTime = z.iso.datetime({ offset: true });
const text = z.string().min(1).max(300);

/** One fact of an import: only the triple is required. */
const importedFact = z
  .object({
    id: z.number().optional(),
    user: z.string().optional(),
    subject: text,
    relation: z.string().min(1).max(64),
    object: text,
    negated: z.boolean().default(false),
    confidence: z.number().min(0).max(1).default(0.9),
    source: z.enum(factSources as [string, ...string[]]).default("manual"),
    extractor: z
      .enum(factExtractors as [string, ...string[]])
      .nullable()
      .optional(),
    message_id: z.string().max(200).nullable().optional(),
    when: z.string().min(1).max(300).nullable().optional(),
    mentions: z.int().min(1).optional(),
    pinned: z.boolean().default(false),
    created_at: isoTime.optional(),
    updated_at: isoTime.optional(),
    valid_from: isoTime.optional(),
    valid_to: isoTime.nullable().optional(),
    superseded_by: z.number().nullable().optional(),
  })
  .strict();

/** What `importFacts` accepts: an export file, or just `{ facts: [...] }`. */
export const memoryImportSchema = z
  .object({
    format: z.literal("sarai-memory").optional(),
    version: z.literal(1).optional(),
    user: z.string().optional(),
    exported_at: z.string().optional(),
    facts: z.array(importedFact).max(100_000),
  })
  .strict();

export type MemoryImport = z.input<typeof memoryImportSchema>;

export function toFactJson(fact: Fact): FactJson {
  return {
    id: fact.id,
    user: fact.userId,
    subject: fact.subject,
    relation: fact.relation,
    object: fact.object,
    negated: fact.negated,
    confidence: fact.confidence,
    source: fact.source,
    extractor: fact.extractor ?? null,
    message_id: fact.messageId,
    when: fact.when,
    mentions: fact.mentions,
    pinned: fact.pinned,
    created_at: new Date(fact.createdAt).toISOString(),
    updated_at: new Date(fact.updatedAt).toISOString(),
    valid_from: new Date(fact.validFrom).toISOString(),
    valid_to: fact.validTo === null ? null : new Date(fact.validTo).toISOString(),
    superseded_by: fact.supersededBy,
  };
}

export function exportFacts(store: EntityStore, userId: string, now = Date.now()): MemoryExport {
  return {
    format: "sarai-memory",
    version: 1,
    user: userId,
    exported_at: new Date(now).toISOString(),
    facts: store.list(userId).map(toFactJson),
  };
}

/**
 * Imports facts for `userId` (whatever user the file names: a user only ever imports into their own memory),
 * all or nothing. Active facts go through `remember` (so they reinforce or supersede what is there); closed ones
 * are added as history. Invalid input is an error naming the item and field (`facts[3].subject`).
 */
export function importFacts(store: EntityStore, userId: string, input: unknown): ImportReport {
  const parsed = memoryImportSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path
      .map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`))
      .join("");
    const where = param === undefined || param === "" ? "import" : param.replace(/^\./, "");
    throw new AppError("INVALID_REQUEST", `${where}: ${issue?.message ?? "invalid import"}`, {
      param: where,
    });
  }
  const facts = parsed.data.facts;
  facts.forEach((fact, index) => {
    for (const field of ["subject", "relation", "object"] as const)
      assertWellFormed(fact[field], `facts[${index}].${field}`);
  });
  const report: ImportReport = { imported: 0, reinforced: 0, historic: 0 };
  store.transaction(() => {
    const historic = facts.filter((fact) => fact.valid_to != null);
    const active = facts.filter((fact) => fact.valid_to == null);
    for (const fact of historic) {
      const validTo = Date.parse(fact.valid_to as string);
      store.insertHistoric({
        ...common(userId, fact),
        validFrom: fact.valid_from === undefined ? validTo : Date.parse(fact.valid_from),
        validTo,
        ...(fact.created_at === undefined ? {} : { createdAt: Date.parse(fact.created_at) }),
      });
      report.historic++;
    }
    for (const fact of active) {
      const result = store.remember(common(userId, fact));
      if (result.outcome === "inserted") report.imported++;
      else report.reinforced++;
    }
  });
  return report;
}

function common(userId: string, fact: z.output<typeof importedFact>) {
  return {
    userId,
    subject: fact.subject,
    relation: fact.relation,
    object: fact.object,
    negated: fact.negated,
    confidence: fact.confidence,
    source: fact.source as Fact["source"],
    extractor: (fact.extractor ?? null) as Fact["extractor"],
    messageId: fact.message_id ?? null,
    when: fact.when ?? null,
    pinned: fact.pinned,
  };
}
