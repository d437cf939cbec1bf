/**
 * One catalogue of error codes for all of SARAi. Each code has the HTTP status and OpenAI error type it
 * maps to and a one-line description; the README's error table is checked against this catalogue.
 */
export const errorCatalogue = {
  CONFIG_INVALID: {
    status: 500,
    type: "server_error",
    description: "The configuration failed validation; every issue names its path.",
  },
  CONFIG_PARSE_FAILED: {
    status: 500,
    type: "server_error",
    description: "The configuration file is not valid YAML.",
  },
  CONFIG_NOT_FOUND: {
    status: 500,
    type: "server_error",
    description: "A configuration file was named (--config or SARAI_CONFIG) but does not exist.",
  },
  MODEL_NOT_FOUND: {
    status: 404,
    type: "invalid_request_error",
    description: "The model file does not exist, or no model is configured for the role.",
  },
  MODEL_INVALID_FILE: {
    status: 500,
    type: "server_error",
    description: "The file is not a GGUF model (wrong magic bytes or unreadable header).",
  },
  MODEL_TRUNCATED: {
    status: 500,
    type: "server_error",
    description: "The GGUF file is shorter than its tensor table says (an interrupted download?).",
  },
  MODEL_TOO_LARGE: {
    status: 507,
    type: "server_error",
    description: "The estimated memory for the model and its context exceeds the configured RAM budget.",
  },
  MODEL_LOAD_FAILED: {
    status: 500,
    type: "server_error",
    description: "llama.cpp refused to load the model or create its context.",
  },
  MODEL_SOURCE_INVALID: {
    status: 400,
    type: "invalid_request_error",
    description: "A model source is neither a known alias, an hf: URI, an https URL nor a file path.",
  },
  DOWNLOAD_OFFLINE: {
    status: 503,
    type: "server_error",
    description: "The model host cannot be reached (no network); nothing was downloaded.",
  },
  DOWNLOAD_FAILED: {
    status: 502,
    type: "server_error",
    description: "The download started but failed; run the pull again to resume it.",
  },
  INVALID_REQUEST: {
    status: 400,
    type: "invalid_request_error",
    description: "A request field is missing or has a wrong value; the message names the field.",
  },
  INPUT_BLOCKED: {
    status: 400,
    type: "invalid_request_error",
    description:
      "The injection guard read the message as a prompt-injection attempt and its policy for that source is block.",
  },
  GRAMMAR_INVALID: {
    status: 400,
    type: "invalid_request_error",
    description: "The GBNF grammar or JSON schema given to constrain output could not be compiled.",
  },
  OUTPUT_INVALID: {
    status: 502,
    type: "server_error",
    description: "The model's output did not validate against the requested JSON schema.",
  },
  SKILL_OUTPUT_INVALID: {
    // 422, not 502: the request was well formed and the model answered, but what it wrote failed the skill's
    // validator on every attempt. `server_error` because the caller cannot fix a field; a rephrased input or a
    // stronger model can.
    status: 422,
    type: "server_error",
    description: "A skill's output failed its validator on every attempt (the retries are spent).",
  },
  CONTEXT_OVERFLOW: {
    status: 400,
    type: "invalid_request_error",
    description: "The prompt does not fit in the model's context window.",
  },
  ABORTED: {
    status: 499,
    type: "request_aborted",
    description: "The generation was aborted by the caller (client disconnect, Ctrl-C, shutdown).",
  },
  INFERENCE_FAILED: {
    status: 500,
    type: "server_error",
    description: "llama.cpp failed during generation.",
  },
  QUEUE_FULL: {
    status: 429,
    type: "rate_limit_error",
    description: "Every sequence is busy and the wait queue is full; retry after the Retry-After seconds.",
  },
  RATE_LIMITED: {
    status: 429,
    type: "rate_limit_error",
    description:
      "This API key (or client) sent more requests per minute than server.rateLimitPerMinute allows.",
  },
  UNAUTHORIZED: {
    status: 401,
    type: "authentication_error",
    description: "The request has no valid bearer API key.",
  },
  FORBIDDEN: {
    status: 403,
    type: "permission_error",
    description: "The API key is bound to another user than the request names.",
  },
  SIGNING_KEY_MISSING: {
    status: 500,
    type: "server_error",
    description:
      "There is no signing key (or trusted public key) at the configured path; run `sarai keys init`.",
  },
  SIGNING_KEY_EXISTS: {
    status: 409,
    type: "invalid_request_error",
    description: "`sarai keys init` would replace an existing signing key; give --force to replace it.",
  },
  SIGNING_KEY_INVALID: {
    status: 500,
    type: "server_error",
    description: "A key file is not an OpenPGP key, or the private key's passphrase is missing or wrong.",
  },
  ADAPTER_NOT_FOUND: {
    status: 404,
    type: "invalid_request_error",
    description:
      "No LoRA adapter with that id in the adapter archive (or the adapter file given to archive does not exist).",
  },
  ADAPTER_EXISTS: {
    status: 409,
    type: "invalid_request_error",
    description:
      "The adapter archive already holds that id (the same adapter file, archived within the same second).",
  },
  ADAPTER_TAMPERED: {
    // 409 like the other conflicts with stored state, not 500: the archive detected it and refuses. `server_error`
    // because no request field can fix it; archive the adapter again or restore another one.
    status: 409,
    type: "server_error",
    description:
      "An archived LoRA adapter failed its check (signature missing, by another key or not matching, sha256 or record wrong); it is refused.",
  },
  ROUTE_NOT_FOUND: {
    status: 404,
    type: "invalid_request_error",
    description: "No such route or method.",
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    type: "invalid_request_error",
    description: "The request body is larger than server.bodyLimitKb.",
  },
  REQUEST_TIMEOUT: {
    status: 408,
    type: "invalid_request_error",
    description: "The request took longer than server.requestTimeoutMs.",
  },
  UPSTREAM_UNAVAILABLE: {
    status: 503,
    type: "server_error",
    description: "The remote model server cannot be reached (after retries on connection errors).",
  },
  UPSTREAM_TIMEOUT: {
    status: 504,
    type: "server_error",
    description: "The remote model server did not answer within its read timeout.",
  },
  MODEL_TIMEOUT: {
    status: 504,
    type: "server_error",
    description:
      "The model did not start answering within reflect.iterationTimeoutMs (or a reflection iteration ran past it), and no fallback answered.",
  },
  SHUTTING_DOWN: {
    status: 503,
    type: "server_error",
    description: "The server is shutting down and takes no new requests.",
  },
  LOOP_DISABLED: {
    // 409, not 503: nothing will change by retrying; the server runs without the loop by configuration.
    status: 409,
    type: "invalid_request_error",
    description: "The proactive loop is off (proactive.enabled: false); its routes have nothing to do.",
  },
  CAMPAIGN_RUNNING: {
    status: 409,
    type: "invalid_request_error",
    description: "A red-team campaign is already running against this server; wait for its report.",
  },
  NOT_FOUND: {
    status: 404,
    type: "invalid_request_error",
    description: "The fact (or other stored item) does not exist for this user.",
  },
  STORE_FAILED: {
    status: 500,
    type: "server_error",
    description: "The SQLite database could not be opened or written (disk full, permissions, corruption).",
  },
  STORE_TOO_NEW: {
    status: 500,
    type: "server_error",
    description:
      "The database was written by a newer SARAi (schema version above this one's); nothing was changed.",
  },
  IMAGE_INVALID: {
    status: 400,
    type: "invalid_request_error",
    description:
      "An image part is not a decodable image (not an image, truncated, an unsupported format or a bad data URL).",
  },
  IMAGE_TOO_LARGE: {
    status: 413,
    type: "invalid_request_error",
    description:
      "An image is larger than vision.maxInputMb, or has more pixels than vision.maxPixels (a decompression bomb).",
  },
  VISION_UNSUPPORTED: {
    status: 400,
    type: "invalid_request_error",
    description:
      "The model that would answer cannot see images (a local model, or a remote one without vision: true).",
  },
  LORA_UNSUPPORTED: {
    status: 422,
    type: "invalid_request_error",
    description:
      "The learning loop cannot train or read an adapter for this model or file (tied output head, a head quantisation other than F32/F16/Q8_0, or not a SARAi output-head adapter).",
  },
  LEARNING_BUSY: {
    status: 409,
    type: "invalid_request_error",
    description: "A LoRA training run is already going on; wait for it to finish.",
  },
  INTERNAL: {
    status: 500,
    type: "server_error",
    description: "An unexpected error; details are only in the log, under the request id.",
  },
} as const satisfies Record<string, { status: number; type: string; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface AppErrorOptions {
  cause?: unknown;
  /** The request field, config path or file the error is about. */
  param?: string;
}

/** The base of every error SARAi throws on purpose. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly param: string | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.param = options.param;
  }

  get status(): number {
    return errorCatalogue[this.code].status;
  }

  get type(): string {
    return errorCatalogue[this.code].type;
  }
}

/** The one abort error: a generation stopped because its signal fired. */
export class AbortedError extends AppError {
  constructor(message = "generation aborted", options: AppErrorOptions = {}) {
    super("ABORTED", message, options);
    this.name = "AbortedError";
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** Wraps anything thrown into an AppError, keeping AppErrors as they are. */
export function toAppError(error: unknown, fallback: ErrorCode = "INTERNAL"): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AppError(fallback, message, { cause: error });
}
