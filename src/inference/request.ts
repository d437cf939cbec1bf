import { z } from "zod";
import { AppError } from "../shared/index.js";
import type { ChatRequest } from "./types.js";

const samplingSchema = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().gt(0).max(1).optional(),
    topK: z.int().min(0).optional(),
    seed: z
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional(),
    maxTokens: z.int().min(1).optional(),
    stop: z.array(z.string().min(1)).max(4).optional(),
  })
  .strict();

const chatImageSchema = z
  .object({
    data: z.custom<Buffer>(
      (value) => Buffer.isBuffer(value) && value.length > 0,
      "must be a non-empty Buffer",
    ),
    mimeType: z.string().regex(/^image\/[\w.+-]+$/, "must be an image/* media type"),
  })
  .strict();

const chatMessageSchema = z
  .object({
    role: z.enum(["system", "user", "assistant"]),
    content: z.string(),
    images: z.array(chatImageSchema).optional(),
  })
  .strict()
  .refine((message) => message.role === "user" || (message.images?.length ?? 0) === 0, {
    message: "only user messages can carry images",
    path: ["images"],
  });

const chatRequestSchema = z
  .object({
    messages: z.array(chatMessageSchema).min(1, "at least one message is required"),
    sampling: samplingSchema.optional(),
    grammar: z.string().min(1).optional(),
    jsonSchema: z.record(z.string(), z.unknown()).optional(),
    jsonObject: z.boolean().optional(),
    role: z.enum(["main", "draft", "fallback"]).optional(),
    tokenProbabilities: z.boolean().optional(),
  })
  .strict()
  .refine(
    (r) => [r.grammar, r.jsonSchema, r.jsonObject || undefined].filter((c) => c !== undefined).length <= 1,
    {
      message: "give at most one of a grammar, a JSON schema or JSON object mode",
      path: ["grammar"],
    },
  );

/** Validates a chat request at the port; the first issue becomes an `INVALID_REQUEST` naming its field. */
export function parseChatRequest(request: ChatRequest): ChatRequest {
  const result = chatRequestSchema.safeParse(request);
  if (result.success) return request;
  const issue = result.error.issues[0];
  const param = issue === undefined ? undefined : issue.path.map(String).join(".");
  throw new AppError("INVALID_REQUEST", `${param ?? "request"}: ${issue?.message ?? "invalid request"}`, {
    ...(param === undefined ? {} : { param }),
  });
}

/** The index of the first message that carries images; -1 when none does. */
export function findImageMessage(request: ChatRequest): number {
  return request.messages.findIndex((message) => (message.images?.length ?? 0) > 0);
}

/**
 * Throws `VISION_UNSUPPORTED` naming the first message with images, if any: for backends whose model cannot see
 * them, so that an image is refused rather than silently dropped. `why` says what can (a remote role with
 * `vision: true`).
 */
export function refuseImages(request: ChatRequest, why: string): void {
  const index = findImageMessage(request);
  if (index === -1) return;
  throw new AppError("VISION_UNSUPPORTED", `messages[${index}].content: ${why}`, {
    param: `messages[${index}].content`,
  });
}
