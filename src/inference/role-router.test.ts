import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestModel, getTestLlama } from "../../test/models.js";
import type { AppError } from "../shared/index.js";
import { EmbeddedBackend } from "./embedded-backend.js";
import { ModelPool } from "./model-pool.js";
import { RoleRouter } from "./role-router.js";
import type { ChatRequest, ChatResponse, LlmBackend, ModelRole } from "./types.js";

const never = new AbortController().signal;
const hello: ChatRequest = { messages: [{ role: "user", content: "hola" }], sampling: { maxTokens: 4 } };
let dir: string;
let mainFile: string;
let fallbackFile: string;

async function createRouter(
  files: Partial<Record<ModelRole, string>>,
  onModelError?: (error: AppError, role: ModelRole) => void,
): Promise<{ pool: ModelPool; router: RoleRouter }> {
  const pool = new ModelPool({
    roles: Object.fromEntries(Object.entries(files).map(([role, file]) => [role, { file }])),
    threads: 1,
    batchSize: 512,
    contextSize: 1024,
    sequences: 1,
    ramBudgetBytes: 4 * 2 ** 30,
    llama: await getTestLlama(),
  });
  const embedded = new EmbeddedBackend({ pool });
  const backends = new Map<ModelRole, LlmBackend>(
    Object.keys(files).map((role) => [role as ModelRole, embedded]),
  );
  return { pool, router: new RoleRouter(backends, onModelError === undefined ? {} : { onModelError }) };
}

async function streamed(router: RoleRouter, request: ChatRequest): Promise<ChatResponse | undefined> {
  let done: ChatResponse | undefined;
  for await (const chunk of router.chatStream(request, never))
    if (chunk.type === "done") done = chunk.response;
  return done;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "sarai-router-"));
  mainFile = await ensureTestModel();
  fallbackFile = await ensureTestModel({ seed: 5, layers: 1 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("inference", () => {
  describe("RoleRouter.redirect", () => {
    it("serves main with the fallback's model until the redirect is cleared", async () => {
      const { pool, router } = await createRouter({ main: mainFile, fallback: fallbackFile });
      try {
        router.redirect("main", "fallback");
        expect(router.redirects()).toEqual([{ from: "main", to: "fallback" }]);
        expect(router.servingRole("main")).toBe("fallback");
        expect((await router.chat(hello, never)).model).toBe(fallbackFile);
        expect((await streamed(router, { ...hello, role: "main" }))?.model).toBe(fallbackFile);
        // The main model was never loaded: the fallback's own model answered.
        expect((await pool.detailedStatus()).map((s) => [s.role, s.loaded])).toEqual([
          ["main", false],
          ["fallback", true],
        ]);
        router.redirect("main", undefined);
        expect(router.redirects()).toEqual([]);
        expect((await router.chat(hello, never)).model).toBe(mainFile);
        expect((await streamed(router, hello))?.model).toBe(mainFile);
      } finally {
        await pool.dispose();
      }
    });

    it("refuses a redirect to a role nothing serves and keeps the ones in force", async () => {
      const { pool, router } = await createRouter({ main: mainFile, fallback: fallbackFile });
      try {
        router.redirect("main", "fallback");
        expect(() => router.redirect("fallback", "draft")).toThrow(
          expect.objectContaining({ code: "MODEL_NOT_FOUND", param: "models.draft" }),
        );
        router.redirect("main", "main");
        expect(router.redirects()).toEqual([]);
      } finally {
        await pool.dispose();
      }
    });

    it("reports a failure to the role that really served the request", async () => {
      const broken = path.join(dir, "broken.gguf");
      await writeFile(broken, "not a model");
      const failures: [string, ModelRole][] = [];
      const { pool, router } = await createRouter({ main: mainFile, fallback: broken }, (error, role) =>
        failures.push([error.code, role]),
      );
      try {
        router.redirect("main", "fallback");
        await expect(router.chat(hello, never)).rejects.toMatchObject({ code: "MODEL_INVALID_FILE" });
        expect(failures).toEqual([["MODEL_INVALID_FILE", "fallback"]]);
      } finally {
        await pool.dispose();
      }
    });
  });
});
