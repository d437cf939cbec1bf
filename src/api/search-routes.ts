import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { App } from "../app.js";
import type { WebSearch } from "../search/index.js";
import { AppError } from "../shared/index.js";
import { toValidationError } from "./errors.js";

const searchBody = z.object({ query: z.string().trim().min(1).max(1000) }).strict();

/** The web search behind `web_search: true`, or a 400 saying how to turn it on. */
export function requireSearch(app: App, param: string): WebSearch {
  if (app.search === undefined)
    throw new AppError(
      "INVALID_REQUEST",
      "web search is off on this server: set search.enabled: true and search.baseUrl (a SearXNG instance)",
      { param },
    );
  return app.search;
}

/** `POST /v1/search`: SearXNG's results, the top pages read and screened, and whether the cache answered. */
export function registerSearchRoutes(fastify: FastifyInstance, app: App): void {
  fastify.post("/v1/search", async (request) => {
    const parsed = searchBody.safeParse(request.body ?? {});
    if (!parsed.success) throw toValidationError(parsed.error);
    const result = await requireSearch(app, "query").search(parsed.data.query, request.sarai.signal);
    return {
      object: "search.result",
      query: result.query,
      cached: result.cached,
      results: result.sources.map((source) => ({
        n: source.n,
        title: source.title,
        url: source.url,
        snippet: source.snippet,
        text: source.text ?? null,
        skipped: source.skipped ?? null,
        truncated: source.truncated === true,
        screened: source.screened ?? null,
      })),
    };
  });
}
