import { describe, expect, it } from "vitest";
import type { WebSearchResult } from "../search/index.js";
import { addWebSources, type WebSearchPort } from "./web-sources.js";

const result: WebSearchResult = {
  query: "río más largo de España",
  cached: false,
  sources: [
    { n: 1, title: "Tajo", url: "https://example.org/tajo", snippet: "", text: "El Tajo mide 1007 km." },
    { n: 2, title: "Ebro", url: "https://example.org/ebro", snippet: "El Ebro mide 930 km." },
  ],
};

function recordingSearch(): WebSearchPort & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    search: (query) => {
      queries.push(query);
      return Promise.resolve(result);
    },
  };
}

describe("assistant", () => {
  describe("addWebSources", () => {
    it("searches the last user message and puts numbered sources in the system message", async () => {
      const search = recordingSearch();
      const { turn, sources } = await addWebSources(
        {
          userId: "ana",
          messages: [
            { role: "system", content: "Eres SARAi." },
            { role: "user", content: "hola" },
            { role: "assistant", content: "¡Hola!" },
            { role: "user", content: "¿Cuál es el río más largo de España?" },
          ],
        },
        search,
        new AbortController().signal,
      );
      expect(search.queries).toEqual(["¿Cuál es el río más largo de España?"]);
      expect(sources).toEqual([
        { n: 1, title: "Tajo", url: "https://example.org/tajo" },
        { n: 2, title: "Ebro", url: "https://example.org/ebro" },
      ]);
      const system = turn.messages[0]?.content ?? "";
      expect(system.startsWith("Eres SARAi.\n\n")).toBe(true);
      expect(system).toMatch(/cite each claim .* like \[1\]/);
      expect(system).toContain("[1] Tajo — https://example.org/tajo\nEl Tajo mide 1007 km.");
      expect(system).toContain("[2] Ebro — https://example.org/ebro\nEl Ebro mide 930 km.");
      expect(turn.messages).toHaveLength(4);
    });

    it("adds a system message when the turn has none, and refuses an empty question", async () => {
      const { turn } = await addWebSources(
        { userId: "u", messages: [{ role: "user", content: "rivers" }] },
        recordingSearch(),
        new AbortController().signal,
      );
      expect(turn.messages.map((m) => m.role)).toEqual(["system", "user"]);
      await expect(
        addWebSources(
          { userId: "u", messages: [{ role: "user", content: " " }] },
          recordingSearch(),
          new AbortController().signal,
        ),
      ).rejects.toMatchObject({ code: "INVALID_REQUEST", param: "web_search" });
    });
  });
});
