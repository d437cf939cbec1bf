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

/** Requests for `from` are served as `to` (see {@link RoleRouter.redirect}). */
export interface RoleRedirect {
  from: ModelRole;
  to: ModelRole;
}

/**
 * One `LlmBackend` over several: each model role is served by its own backend (the embedded one, or a remote
 * OpenAI-compatible server), chosen by the request's `role` (default `main`). A role can be redirected to
 * another one while the server runs (the self-repair does so when a model keeps failing).
 */
export class RoleRouter implements LlmBackend {
  readonly #backends: ReadonlyMap<ModelRole, LlmBackend>;
  readonly #onModelError: ((error: AppError, role: ModelRole) => void) | undefined;
  readonly #redirects = new Map<ModelRole, ModelRole>();

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

  /**
   * Serves the requests for `from` with `to`'s backend, as requests for `to` (so the embedded backend uses
   * `to`'s model, and `response.model` names the file that really answered); `to` undefined (or `from`
   * itself) clears the redirect. Applies from the next request on; one hop only: a request for `from` goes to
   * `to`'s own backend even when `to` is redirected too. `MODEL_NOT_FOUND` when no backend serves `to`.
   */
  redirect(from: ModelRole, to: ModelRole | undefined): void {
    if (to === undefined || to === from) {
      this.#redirects.delete(from);
      return;
    }
    this.backendFor(to);
    this.#redirects.set(from, to);
  }

  /** The redirects in force. */
  redirects(): RoleRedirect[] {
    return [...this.#redirects].map(([from, to]) => ({ from, to }));
  }

  /** The role whose backend and model serve a request for `role`: its redirect, or itself. */
  servingRole(role: ModelRole): ModelRole {
    return this.#redirects.get(role) ?? role;
  }

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    const role = this.servingRole(request.role ?? "main");
    try {
      return await this.backendFor(role).chat(this.#as(request, role), signal);
    } catch (error) {
      this.#report(error, role);
      throw error;
    }
  }

  async *chatStream(
    request: ChatRequest,
    signal: AbortSignal,
  ): AsyncGenerator<ChatStreamChunk, void, undefined> {
    const role = this.servingRole(request.role ?? "main");
    try {
      yield* this.backendFor(role).chatStream(this.#as(request, role), signal);
    } catch (error) {
      this.#report(error, role);
      throw error;
    }
  }

  /** The request as one for `role` (unchanged when it already is). */
  #as(request: ChatRequest, role: ModelRole): ChatRequest {
    return (request.role ?? "main") === role ? request : { ...request, role };
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
