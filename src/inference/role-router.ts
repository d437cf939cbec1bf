import { AppError } from "../shared/index.js";
import type { ChatRequest, ChatResponse, ChatStreamChunk, LlmBackend, ModelRole } from "./types.js";

/**
 * One `LlmBackend` over several: each model role is served by its own backend (the embedded one, or a remote
 * OpenAI-compatible server), chosen by the request's `role` (default `main`).
 */
export class RoleRouter implements LlmBackend {
  readonly #backends: ReadonlyMap<ModelRole, LlmBackend>;

  constructor(backends: ReadonlyMap<ModelRole, LlmBackend>) {
    this.#backends = backends;
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

  chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    try {
      return this.backendFor(request.role ?? "main").chat(request, signal);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  chatStream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatStreamChunk, void, undefined> {
    return this.backendFor(request.role ?? "main").chatStream(request, signal);
  }
}
