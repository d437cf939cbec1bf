import type { ChatRequest, ChatResponse, ChatStreamChunk, LlmBackend } from "../inference/index.js";

/** One user turn as the assistant sees it: the chat request plus who asked. */
export interface TurnRequest extends ChatRequest {
  /** The user every subsystem scopes by (memory, feedback, audit); `anonymous` when the client gives none. */
  userId: string;
}

export interface TurnPipelineOptions {
  backend: LlmBackend;
}

/**
 * The assistant's turn pipeline (ARCHITECTURE.md): guard → memory recall → skill routing → generation →
 * reflection → memory store → events. Today only generation exists; the routes and the CLI already go through
 * here so the other steps plug in without touching them. Pure orchestration: no I/O of its own.
 */
export class TurnPipeline {
  readonly #backend: LlmBackend;

  constructor(options: TurnPipelineOptions) {
    this.#backend = options.backend;
  }

  run(turn: TurnRequest, signal: AbortSignal): Promise<ChatResponse> {
    return this.#backend.chat(toChatRequest(turn), signal);
  }

  stream(turn: TurnRequest, signal: AbortSignal): AsyncGenerator<ChatStreamChunk, void, undefined> {
    return this.#backend.chatStream(toChatRequest(turn), signal);
  }
}

function toChatRequest(turn: TurnRequest): ChatRequest {
  const { userId: _userId, ...request } = turn;
  return request;
}
