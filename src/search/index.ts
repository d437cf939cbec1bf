export { extractReadableText, fetchPage, isPrivateAddress } from "./page-fetcher.js";
export type { FetchedPage, PageFetchOptions } from "./page-fetcher.js";
export { SearchCache } from "./search-cache.js";
export type { SearchCacheOptions } from "./search-cache.js";
export { parseSearxngResults, SearxngClient } from "./searxng-client.js";
export type { SearchHit, SearxngClientOptions } from "./searxng-client.js";
export { buildSourcesPrompt, passThroughGuard, WebSearch } from "./web-search.js";
export type {
  ScreenedText,
  WebGuardPort,
  WebSearchOptions,
  WebSearchResult,
  WebSource,
} from "./web-search.js";
