import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import {
  assertWellFormed,
  exportFacts,
  importFacts,
  maxFactTextLength,
  maxUserIdLength,
  toFactJson,
  type EntityMemory,
} from "../memory/index.js";
import { AppError } from "../shared/index.js";
import { parseRequest } from "./errors.js";
import { resolveUserId } from "./user-scope.js";

const user = z.string().min(1).max(maxUserIdLength).optional();
const factText = z.string().trim().min(1).max(maxFactTextLength);
const booleanQuery = z
  .enum(["true", "false", "1", "0"])
  .transform((value) => value === "true" || value === "1");

const listQuery = z
  .object({
    user,
    subject: factText.optional(),
    relation: z.string().min(1).max(64).optional(),
    object: factText.optional(),
    q: z.string().min(1).max(4000).optional(),
    include_history: booleanQuery.optional(),
    min_confidence: z.coerce.number().min(0).max(1).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

const userQuery = z.object({ user }).strict();

const deleteQuery = z
  .object({
    user,
    subject: factText.optional(),
    relation: z.string().min(1).max(64).optional(),
    object: factText.optional(),
  })
  .strict();

const idParams = z.object({ id: z.coerce.number().int().positive() }).strict();

const addBody = z
  .object({
    user,
    subject: factText,
    relation: z.string().trim().min(1).max(64),
    object: factText,
    negated: z.boolean().optional(),
    confidence: z.number().min(0).max(1).optional(),
    when: factText.nullable().optional(),
    pinned: z.boolean().optional(),
  })
  .strict();

const extractBody = z
  .object({
    text: z.string(),
    language: z.enum(["es", "en"]).optional(),
    /** Also store the facts (source `user_input`) for the user. */
    store: z.boolean().optional(),
    user,
  })
  .strict();

const importBody = z.object({ user }).loose();

/**
 * `/v1/memory`: the user's facts — list and search, add, delete, export, import, extract, stats. Every route is
 * scoped to one user: the API key's bound user, or the `user` the client names (default `anonymous`).
 */
export function registerMemoryRoutes(fastify: FastifyInstance, app: App): void {
  const memoryOf = (): EntityMemory => {
    if (app.memory === undefined)
      throw new AppError("ROUTE_NOT_FOUND", "memory is turned off on this server (memory.enabled: false)");
    return app.memory;
  };
  const userOf = (request: FastifyRequest, given: string | undefined) => resolveUserId(request, given);
  /** Memory stores facts, never instructions: a fact whose object reads as one is refused (400 naming it). */
  const refuseInstruction = (fact: { subject: string; relation: string; object: string }, param: string) => {
    const hit = app.guard?.screen(`${fact.subject} ${fact.relation} ${fact.object}`, "memory");
    if (hit === undefined || hit.action === "allow") return;
    throw new AppError(
      "INPUT_BLOCKED",
      `${param} reads as an instruction to the assistant (${hit.verdict.techniques.join(", ")}), not a fact: ` +
        "memory does not store it",
      { param },
    );
  };

  fastify.get("/v1/memory/facts", (request) => {
    const query = parseRequest(listQuery, request.query);
    if (query.q !== undefined) assertWellFormed(query.q, "q");
    const facts = memoryOf().store.recall({
      userId: userOf(request, query.user),
      ...(query.subject === undefined ? {} : { subject: query.subject }),
      ...(query.relation === undefined ? {} : { relation: query.relation }),
      ...(query.object === undefined ? {} : { object: query.object }),
      ...(query.q === undefined ? {} : { text: query.q }),
      ...(query.min_confidence === undefined ? {} : { minConfidence: query.min_confidence }),
      limit: query.limit ?? 100,
      includeHistory: query.include_history ?? false,
    });
    return { object: "list", data: facts.map(toFactJson) };
  });

  fastify.get("/v1/memory/search", (request) => {
    const query = parseRequest(listQuery.required({ q: true }), request.query);
    assertWellFormed(query.q, "q");
    const facts = memoryOf().store.recall({
      userId: userOf(request, query.user),
      text: query.q,
      limit: query.limit ?? 50,
      includeHistory: query.include_history ?? false,
    });
    return { object: "list", data: facts.map(toFactJson) };
  });

  fastify.get("/v1/memory/facts/:id", (request) => {
    const { id } = parseRequest(idParams, request.params);
    const query = parseRequest(userQuery, request.query);
    const fact = memoryOf().store.get(userOf(request, query.user), id);
    if (fact === undefined) throw new AppError("NOT_FOUND", `no fact ${id} for this user`, { param: "id" });
    return toFactJson(fact);
  });

  fastify.post("/v1/memory/facts", async (request, reply) => {
    const body = parseRequest(addBody, request.body);
    for (const field of ["subject", "relation", "object"] as const) assertWellFormed(body[field], field);
    refuseInstruction(body, "object");
    const result = memoryOf().store.remember({
      userId: userOf(request, body.user),
      subject: body.subject,
      relation: body.relation,
      object: body.object,
      negated: body.negated ?? false,
      confidence: body.confidence ?? 0.95,
      source: "manual",
      when: body.when ?? null,
      pinned: body.pinned ?? false,
    });
    return reply
      .code(result.outcome === "inserted" ? 201 : 200)
      .send({ ...toFactJson(result.fact), outcome: result.outcome, closed: result.closed });
  });

  fastify.delete("/v1/memory/facts/:id", (request) => {
    const { id } = parseRequest(idParams, request.params);
    const query = parseRequest(userQuery, request.query);
    const deleted = memoryOf().store.forget({ userId: userOf(request, query.user), id });
    if (deleted === 0) throw new AppError("NOT_FOUND", `no fact ${id} for this user`, { param: "id" });
    return { id, deleted: true };
  });

  fastify.delete("/v1/memory/facts", (request) => {
    const query = parseRequest(deleteQuery, request.query);
    const { user: given, ...filters } = query;
    if (Object.keys(filters).length === 0)
      throw new AppError("INVALID_REQUEST", "give subject, relation or object to say which facts to delete", {
        param: "subject",
      });
    const deleted = memoryOf().store.forget({ userId: userOf(request, given), ...filters });
    return { deleted };
  });

  fastify.get("/v1/memory/export", (request) => {
    const query = parseRequest(userQuery, request.query);
    return exportFacts(memoryOf().store, userOf(request, query.user));
  });

  fastify.post("/v1/memory/import", (request) => {
    const { user: given } = parseRequest(importBody, request.body);
    const { user: _fileUser, ...document } = request.body as Record<string, unknown>;
    // The body's own `user` names who imports; an export's `user` is where it came from and is ignored.
    const facts = Array.isArray(document["facts"]) ? (document["facts"] as unknown[]) : [];
    facts.forEach((fact, index) => {
      if (typeof fact !== "object" || fact === null) return;
      const { subject, relation, object } = fact as Record<string, unknown>;
      if (typeof subject === "string" && typeof relation === "string" && typeof object === "string")
        refuseInstruction({ subject, relation, object }, `facts[${index}].object`);
    });
    return importFacts(memoryOf().store, userOf(request, given), document);
  });

  fastify.post("/v1/memory/extract", async (request) => {
    const body = parseRequest(extractBody, request.body);
    const memory = memoryOf();
    const userId = userOf(request, body.user);
    const language = body.language === undefined ? {} : { language: body.language };
    const hit = body.store === true ? app.guard?.screen(body.text, "memory") : undefined;
    if (hit !== undefined && hit.action !== "allow")
      return {
        ...describeExtraction(memory.extractRules(body.text, body.language), memory),
        stored: [],
        refused: `the text reads as an instruction to the assistant (${hit.verdict.techniques.join(", ")}): nothing stored`,
      };
    if (body.store === true) {
      const options = { userId, text: body.text, source: "user_input", ...language } as const;
      const learned = memory.learn(options);
      // With memory.extractor model|both the model's share is stored too (and awaited: this is no chat turn).
      const fromModel = memory.hasModel ? await memory.learnFromModel(options) : undefined;
      return {
        ...describeExtraction(fromModel?.extraction ?? learned.extraction, memory),
        stored: [...learned.results, ...(fromModel?.results ?? [])].map((result) => ({
          id: result.fact.id,
          outcome: result.outcome,
        })),
      };
    }
    return describeExtraction(await memory.extract(body.text, language), memory);
  });

  fastify.get("/v1/memory/stats", (request) => {
    const query = parseRequest(userQuery, request.query);
    const stats = memoryOf().store.stats(userOf(request, query.user));
    // Since start, over all users: the model extractor is one process-wide resource.
    const model = memoryOf().modelStats;
    return {
      facts: stats.facts,
      active_facts: stats.activeFacts,
      historic_facts: stats.historicFacts,
      database_mb: stats.sizeMb,
      extractor: memoryOf().extractor,
      model_extraction: {
        requests: model.requests,
        failures: model.failures,
        invalid_facts: model.invalidFacts,
        unknown_relations: model.unknownRelations,
        facts: model.facts,
      },
    };
  });
}

function describeExtraction(
  extraction: ReturnType<EntityMemory["extractRules"]>,
  memory: EntityMemory,
): Record<string, unknown> {
  return {
    language: extraction.language,
    truncated: extraction.truncated,
    ...(extraction.truncated ? { warning: `only the first ${extraction.chars} characters were read` } : {}),
    facts: extraction.facts,
    model: memory.hasModel,
    extractor: memory.extractor,
  };
}
