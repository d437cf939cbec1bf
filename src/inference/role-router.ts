import { AppError, toAppError, type ErrorCode } from "../shared/index.js";
import type { ChatRequest, ChatResponse, ChatStreamChunk, LlmBackend, ModelRole } from "./types.js";

/** Errors that say a model failed (not the request, the client or the queue): the loop's `model_error`. */
const modelFaults: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "MODEL_LOAD_FAILED",
  "MODEL_TOO_LARGE",
  "MODEL_INVALID_FILE",
  "MODEL_TRUNCATED",
  "INFERENCE_FAILED",
  "UPSTREAM_UNAVAILABLE",
  "UPSTREAM_TIMEOUT",
]);

export interface RoleRouterOptions {
  /** Called when a model fails a request (load, inference, a remote engine down); never for bad requests. */
  onModelError?: (error: AppError, role: ModelRole) => void;
}

/**
 * One `LlmBackend` over several: each model role is served by its own backend (the embedded one, or a remote
 * OpenAI-compatible server), chosen by the request's `role` (default `main`).
 */
export class RoleRouter implements LlmBackend {
  readonly #backends: ReadonlyMap<ModelRole, LlmBackend>;
  readonly #onModelError: ((error: AppError, role: ModelRole) => void) | undefined;

  constructor(backends: ReadonlyMap<ModelRole, LlmBackend>, options: RoleRouterOptions = {}) {
    this.#backends = backends;
    this.#onModelError = options.onModelError;
  }

  /** The backend serving `role`; `MODEL_NOT_FOUND` naming the config key when none does. */
  backendFor(role: ModelRole): LlmBackend {
    const backend = this.#backends.get(role);
    if (backend === undefined) {
      throw new AppError("MODEL_NOT_FOUND", `no model is configured for the ${role} role (models.${role})`, {
        param: `models.${role}`,
      });
    }
    return backend;
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    const role = request.role ?? "main";
    try {
      return await this.backendFor(role).chat(request, signal);
    } catch (error) {
      this.#report(error, role);
      throw error;
    }
  }

  async *chatStream(
    request: ChatRequest,
    signal: AbortSignal,
  ): AsyncGenerator<ChatStreamChunk, void, undefined> {
    const role = request.role ?? "main";
    try {
      yield* this.backendFor(role).chatStream(request, signal);
    } catch (error) {
      this.#report(error, role);
      throw error;
    }
  }

  #report(error: unknown, role: ModelRole): void {
    if (this.#onModelError === undefined) return;
    const appError = toAppError(error);
    if (!modelFaults.has(appError.code)) return;
    try {
      this.#onModelError(appError, role);
    } catch {
      // A listener's failure must not replace the model's error.
    }
  }
}
