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

const chatRequestSchema = z
  .object({
    messages: z
      .array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() }).strict())
      .min(1, "at least one message is required"),
    sampling: samplingSchema.optional(),
    grammar: z.string().min(1).optional(),
    jsonSchema: z.record(z.string(), z.unknown()).optional(),
    jsonObject: z.boolean().optional(),
    role: z.enum(["main", "draft", "fallback"]).optional(),
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
