import { AbortedError, AppError } from "../shared/index.js";

/** One SearXNG result, as its JSON API gives it. */
export interface SearchHit {
  url: string;
  title: string;
  /** SearXNG's snippet. */
  content: string;
}

export interface SearxngClientOptions {
  /** The instance's root, e.g. `http://127.0.0.1:8888`. */
  baseUrl: string;
  timeoutMs: number;
}

/** SearXNG's JSON API: `GET <baseUrl>/search?q=…&format=json` (the instance must allow the json format). */
export class SearxngClient {
  readonly #options: SearxngClientOptions;

  constructor(options: SearxngClientOptions) {
    this.#options = options;
  }

  async search(query: string, signal: AbortSignal): Promise<SearchHit[]> {
    const url = new URL(
      "search",
      this.#options.baseUrl.endsWith("/") ? this.#options.baseUrl : `${this.#options.baseUrl}/`,
    );
    url.searchParams.set("q", query);
    url.searchParams.set("format", "json");
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    let body: unknown;
    try {
      const response = await fetch(url, {
        headers: { accept: "application/json" },
        signal: AbortSignal.any([signal, timeout]),
      });
      if (!response.ok) {
        // SearXNG answers 403 when the json format is not in its `search.formats`.
        const hint = response.status === 403 ? " (is `json` in the instance's search.formats?)" : "";
        throw new AppError("UPSTREAM_UNAVAILABLE", `SearXNG answered ${response.status}${hint}`);
      }
      body = await response.json();
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (signal.aborted) throw new AbortedError("search aborted");
      if (timeout.aborted)
        throw new AppError("UPSTREAM_TIMEOUT", `SearXNG did not answer within ${this.#options.timeoutMs} ms`);
      if (error instanceof SyntaxError)
        throw new AppError("UPSTREAM_UNAVAILABLE", "SearXNG did not answer with JSON", { cause: error });
      throw new AppError("UPSTREAM_UNAVAILABLE", `SearXNG at ${this.#options.baseUrl} cannot be reached`, {
        cause: error,
      });
    }
    return parseSearxngResults(body);
  }
}

/** The `results[]` of a SearXNG JSON answer; entries without an http(s) URL are dropped. */
export function parseSearxngResults(body: unknown): SearchHit[] {
  const results = (body as { results?: unknown } | null)?.results;
  if (!Array.isArray(results))
    throw new AppError("UPSTREAM_UNAVAILABLE", "SearXNG's answer has no results list");
  const hits: SearchHit[] = [];
  const seen = new Set<string>();
  for (const entry of results as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const { url, title, content } = entry as Record<string, unknown>;
    if (typeof url !== "string" || !/^https?:\/\//i.test(url) || seen.has(url)) continue;
    seen.add(url);
    hits.push({
      url,
      title: typeof title === "string" && title.trim() !== "" ? title.trim() : url,
      content: typeof content === "string" ? content.trim() : "",
    });
  }
  return hits;
}
