import type { ChatHistoryItem, LlamaContext, Token } from "node-llama-cpp";
import type { ModelAccess } from "../inference/index.js";
import { AbortedError, AppError } from "../shared/index.js";
import type { ChatTurn } from "./feedback-store.js";
import type { HeadPosition } from "./lora-head.js";

/** A prompt rendered by the model's chat template, and the tokens of the answer that should follow it. */
export interface EncodedExample {
  prompt: Token[];
  /** The answer's tokens followed by the template's end-of-turn token. */
  answer: Token[];
  /** The token generation stops at (the template's end of turn, else end of sequence). */
  endToken: Token | undefined;
}

/**
 * Renders `messages` with the model's chat template exactly as chat does (the same context text LlamaChat
 * builds, ending where the answer begins), then the answer's tokens and the end-of-turn token.
 */
export function encodeExample(
  access: ModelAccess,
  messages: readonly ChatTurn[],
  answer: string,
): EncodedExample {
  const { prompt, endToken } = encodePrompt(access, messages);
  const answerTokens = access.model.tokenize(answer, false);
  return { prompt, answer: endToken === undefined ? answerTokens : [...answerTokens, endToken], endToken };
}

/** The prompt's tokens as chat renders them, and the end-of-turn token. */
export function encodePrompt(
  access: ModelAccess,
  messages: readonly ChatTurn[],
): { prompt: Token[]; endToken: Token | undefined } {
  const { model, chatWrapper } = access;
  if (chatWrapper === undefined) {
    throw new AppError(
      "LORA_UNSUPPORTED",
      `${access.file} has no chat template to render training examples with`,
      {
        param: access.file,
      },
    );
  }
  const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    if (message.role === "assistant") return { type: "model", response: [message.content] };
    return { type: message.role, text: message.content };
  });
  history.push({ type: "model", response: [] });
  const state = chatWrapper.generateContextState({ chatHistory: history });
  let endToken: Token | undefined;
  for (const trigger of state.stopGenerationTriggers) {
    const tokens = trigger.tokenize(model.tokenizer);
    if (tokens.length === 1) {
      endToken = tokens[0];
      break;
    }
  }
  endToken ??= model.tokens.eos ?? undefined;
  return { prompt: state.contextText.tokenize(model.tokenizer), endToken };
}

/**
 * The hidden state that feeds the output head before each answer token, with that token as the target: what an
 * output-head adapter learns from. The states come from llama.cpp's own forward pass (the embedding context
 * returns the last position's state after the final norm), one evaluation per answer token.
 */
export async function answerPositions(
  access: ModelAccess,
  example: EncodedExample,
  signal: AbortSignal,
): Promise<HeadPosition[]> {
  const context = await access.embeddingContext();
  const total = example.prompt.length + example.answer.length - 1;
  if (total > access.embeddingContextSize) {
    throw new AppError(
      "CONTEXT_OVERFLOW",
      `a training example needs ${total} tokens; the embedding context holds ${access.embeddingContextSize}`,
      { param: "messages" },
    );
  }
  const positions: HeadPosition[] = [];
  const tokens = [...example.prompt];
  for (const target of example.answer) {
    if (signal.aborted) throw new AbortedError();
    const { vector } = await context.getEmbeddingFor(tokens);
    positions.push({ hidden: Float32Array.from(vector), target });
    tokens.push(target);
  }
  return positions;
}

/**
 * Greedy answers to `prompts` from the role's model with `adapterFile` applied (none: the bare model), on a
 * context of its own that is disposed afterwards: what the evaluation gate compares with the corrections.
 */
export async function generateGreedy(
  access: ModelAccess,
  adapterFile: string | undefined,
  prompts: readonly (readonly ChatTurn[])[],
  options: { maxTokens: number; signal: AbortSignal },
): Promise<string[]> {
  const encoded = prompts.map((messages) => encodePrompt(access, messages));
  const longest = Math.max(0, ...encoded.map(({ prompt }) => prompt.length));
  let context: LlamaContext;
  try {
    context = await access.model.createContext({
      contextSize: Math.min(access.embeddingContextSize, Math.max(256, longest + options.maxTokens + 8)),
      sequences: 1,
      ...(adapterFile === undefined ? {} : { lora: { adapters: [{ filePath: adapterFile, scale: 1 }] } }),
    });
  } catch (error) {
    throw new AppError(
      "LORA_UNSUPPORTED",
      `llama.cpp cannot apply ${adapterFile ?? "no adapter"} to ${access.file}: ` +
        (error instanceof Error ? error.message : String(error)),
      { param: adapterFile ?? access.file, cause: error },
    );
  }
  try {
    const sequence = context.getSequence();
    const answers: string[] = [];
    for (const { prompt, endToken } of encoded) {
      if (options.signal.aborted) throw new AbortedError();
      await sequence.clearHistory();
      const generated: Token[] = [];
      for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
        if (token === endToken || access.model.isEogToken(token)) break;
        generated.push(token);
        if (generated.length >= options.maxTokens) break;
      }
      answers.push(access.model.detokenize(generated));
    }
    return answers;
  } finally {
    await context.dispose();
  }
}
