/** An error answer from the API, with OpenAI's `{error: {message, type, code, param}}` fields. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly param: string | null;

  constructor(message: string, status: number, code: string, param: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

/** Whether an error is the abort of a request the user stopped. */
export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** The message to show for any failure: the server's own words for API errors. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.status} ${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Talks to the SARAi API on the page's own origin. The API key lives in this object only (the login screen may
 * also keep it in sessionStorage for the tab's life); every request sends it as a bearer token.
 */
export class ApiClient {
  #key: string | undefined;

  constructor(key?: string) {
    this.#key = key === "" ? undefined : key;
  }

  get hasKey(): boolean {
    return this.#key !== undefined;
  }

  /** A fetch with the key, that throws `ApiError` for any non-2xx answer. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#key !== undefined) headers.set("authorization", `Bearer ${this.#key}`);
    if (init.body !== undefined && !headers.has("content-type"))
      headers.set("content-type", "application/json");
    const response = await fetch(path, { ...init, headers });
    if (!response.ok) throw await toApiError(response);
    return response;
  }

  /** A JSON request: `body` is serialised, the answer parsed. */
  async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.fetch(path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal === undefined ? {} : { signal }),
    });
    const text = await response.text();
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.json<T>("GET", path, undefined, signal);
  }
}

/** Reads an error response's OpenAI-style body; a body that is not one is described by the status alone. */
export async function toApiError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; code?: unknown; param?: unknown } };
    const error = parsed.error;
    if (error !== undefined && typeof error.message === "string")
      return new ApiError(
        error.message,
        response.status,
        typeof error.code === "string" ? error.code : String(response.status),
        typeof error.param === "string" ? error.param : null,
      );
  } catch {
    // Not JSON: fall through.
  }
  return new ApiError(
    `the server answered ${response.status} ${response.statusText}`.trim(),
    response.status,
    String(response.status),
  );
}

/** Builds a query string from the defined values only. */
export function query(values: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values))
    if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}
