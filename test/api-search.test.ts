import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/index.js";
import { isAppError } from "../src/shared/index.js";
import { expectErrorBody, metricValue, startTestServer, type TestServer } from "./api-helpers.js";

/** A fake SearXNG (JSON API) and one article page, on loopback. */
async function startFakeWeb(): Promise<{ base: string; queries: string[]; close(): Promise<void> }> {
  const queries: string[] = [];
  let base = "";
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/search" && url.searchParams.get("format") === "json") {
      queries.push(url.searchParams.get("q") ?? "");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          results: [
            { url: `${base}/alhambra`, title: "The Alhambra", content: "A palace in Granada." },
            { url: `${base}/mezquita`, title: "Mezquita of Córdoba", content: "A mosque-cathedral." },
          ],
        }),
      );
      return;
    }
    if (url.pathname === "/alhambra") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(
        "<html><head><title>The Alhambra</title></head><body><article><p>The Alhambra is a palace and fortress complex in Granada, Andalusia, built mainly by the Nasrid dynasty in the 13th and 14th centuries.</p></article></body></html>",
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    queries,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("api search", () => {
  let web: Awaited<ReturnType<typeof startFakeWeb>>;
  let api: TestServer;
  let off: TestServer;

  beforeAll(async () => {
    web = await startFakeWeb();
    api = await startTestServer({
      listen: false,
      search: { enabled: true, baseUrl: web.base, allowPrivateAddresses: true, topResults: 2 },
      // The guard's own tests cover what it flags; here the pages are benign and must arrive whole.
      security: { guard: { enabled: false } },
    });
    off = await startTestServer({ listen: false });
  }, 120_000);
  afterAll(async () => {
    await api.close();
    await off.close();
    await web.close();
  });

  it("POST /v1/search returns SearXNG's results with the read page text, then the same from the cache", async () => {
    const first = await api.server.fastify.inject({
      method: "POST",
      url: "/v1/search",
      payload: { query: "Alhambra Granada" },
    });
    expect(first.statusCode).toBe(200);
    const body = first.json<{
      cached: boolean;
      results: { n: number; title: string; url: string; text: string | null; skipped: string | null }[];
    }>();
    expect(body.cached).toBe(false);
    expect(body.results.map((r) => [r.n, r.title])).toEqual([
      [1, "The Alhambra"],
      [2, "Mezquita of Córdoba"],
    ]);
    expect(body.results[0]?.text).toMatch(/Nasrid dynasty/);
    expect(body.results[1]?.skipped).toBe("HTTP 404");
    const asked = web.queries.length;
    const second = await api.server.fastify.inject({
      method: "POST",
      url: "/v1/search",
      payload: { query: "alhambra granada" },
    });
    expect(second.json<{ cached: boolean }>().cached).toBe(true);
    expect(web.queries.length).toBe(asked);
    const metrics = (await api.server.fastify.inject({ method: "GET", url: "/metrics" })).body;
    expect(metricValue(metrics, "sarai_search_requests_total", { cache: "miss" })).toBe(1);
    expect(metricValue(metrics, "sarai_search_requests_total", { cache: "hit" })).toBe(1);
  });

  it("a chat with web_search: true answers with the numbered sources", async () => {
    const response = await api.server.fastify.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: {
        model: api.modelId,
        messages: [{ role: "user", content: "Who built the Alhambra?" }],
        web_search: true,
        max_tokens: 4,
        temperature: 0,
      },
    });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ sarai: { sources: { n: number; title: string; url: string }[] } }>();
    expect(body.sarai.sources).toEqual([
      { n: 1, title: "The Alhambra", url: `${web.base}/alhambra` },
      { n: 2, title: "Mezquita of Córdoba", url: `${web.base}/mezquita` },
    ]);
    expect(web.queries).toContain("Who built the Alhambra?");
  });

  it("is off by default: web_search and /v1/search answer 400 saying how to turn it on", async () => {
    const chat = await off.server.fastify.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: { model: off.modelId, messages: [{ role: "user", content: "hi" }], web_search: true },
    });
    expect(chat.statusCode).toBe(400);
    const body = expectErrorBody(chat.json(), "invalid_request");
    expect(body.error.param).toBe("web_search");
    expect(body.error.message).toMatch(/search\.baseUrl/);
    const search = await off.server.fastify.inject({
      method: "POST",
      url: "/v1/search",
      payload: { query: "x" },
    });
    expect(search.statusCode).toBe(400);
    const empty = await api.server.fastify.inject({
      method: "POST",
      url: "/v1/search",
      payload: { query: " " },
    });
    expect(expectErrorBody(empty.json()).error.param).toBe("query");
  });

  it("refuses search.enabled without search.baseUrl in the config, naming the field", () => {
    let error: unknown;
    try {
      loadConfig({ env: {}, cwd: "/tmp", overrides: { search: { enabled: true } } });
    } catch (caught) {
      error = caught;
    }
    expect(isAppError(error) && error.code).toBe("CONFIG_INVALID");
    expect(String((error as Error).message) + JSON.stringify(error)).toMatch(/search\.baseUrl|baseUrl/);
  });
});
