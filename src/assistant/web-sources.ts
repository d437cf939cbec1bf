import type { ChatMessage } from "../inference/index.js";
import { buildSourcesPrompt, type WebSearchResult } from "../search/index.js";
import { AppError } from "../shared/index.js";
import { lastUserText } from "./messages.js";
import type { TurnRequest } from "./turn.js";

/** What a turn needs of web search. */
export interface WebSearchPort {
  search(query: string, signal: AbortSignal): Promise<WebSearchResult>;
}

/** A source as the answer lists it: the number the answer cites, its title and its address. */
export interface CitedSource {
  n: number;
  title: string;
  url: string;
}

/**
 * Searches the web for the turn's last user message and hands the numbered sources to the model in the system
 * message, asking it to cite them as `[n]`. Returns the turn to run and the sources to list with the answer.
 */
export async function addWebSources(
  turn: TurnRequest,
  search: WebSearchPort,
  signal: AbortSignal,
): Promise<{ turn: TurnRequest; sources: CitedSource[]; cached: boolean }> {
  const query = lastUserText(turn.messages).trim().slice(0, 1000);
  if (query === "")
    throw new AppError(
      "INVALID_REQUEST",
      "web_search: the last user message is empty; nothing to search for",
      {
        param: "web_search",
      },
    );
  const result = await search.search(query, signal);
  const prompt = buildSourcesPrompt(result);
  const [first, ...rest] = turn.messages;
  const messages: ChatMessage[] =
    first?.role === "system"
      ? [{ ...first, content: `${first.content}\n\n${prompt}` }, ...rest]
      : [{ role: "system", content: prompt }, ...turn.messages];
  return {
    turn: { ...turn, messages },
    sources: result.sources.map(({ n, title, url }) => ({ n, title, url })),
    cached: result.cached,
  };
}
