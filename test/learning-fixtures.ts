/**
 * The learning loop on real parts for tests and `bench/learning.ts`: a generated model whose hidden states carry
 * context, a real feedback database, a real OpenPGP key and the signed archive, the model pool and the service.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { demoModelOptions, ModelPool } from "../src/inference/index.js";
import { ensureSynthesizedModel } from "../src/inference/gguf/index.js";
import {
  AdapterArchive,
  FeedbackStore,
  LearningService,
  type LearningSettings,
  type NewFeedback,
} from "../src/learning/index.js";
import { defaultGateThresholds } from "../src/learning/gate.js";
import { generateSigningKey, InjectionGuard, loadSigningKey, loadTrustedKey } from "../src/security/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * A generated model for learning: the demo model's shape at width 256 with full-size residual writes, so that the
 * state before the head depends on the context (the demo model's blocks write ×0.002 and it reads almost only the
 * current token, which no head adapter can turn into a sentence).
 */
export function learningModel(cacheDir = path.join(root, ".cache", "test-models")): Promise<string> {
  return ensureSynthesizedModel({
    ...demoModelOptions,
    name: "sarai-learning",
    width: 256,
    ffn: 512,
    residualScale: 1,
    seed: 7,
    cacheDir,
  });
}

/** The fact the base model does not produce, asked in ways a user would. */
export const factAnswer = "Veradon.";
export const factQuestions = [
  "What is the capital of Zorbia?",
  "Tell me the capital of Zorbia.",
  "Zorbia's capital?",
  "Which city is the capital of Zorbia?",
  "What's Zorbia's capital city?",
  "Capital of Zorbia, please.",
  "¿Cuál es la capital de Zorbia?",
  "Dime la capital de Zorbia.",
  "¿Qué ciudad es la capital de Zorbia?",
  "La capital de Zorbia, ¿cuál es?",
];

/** Thumbs down with the correction for each question (what the web UI sends). */
export function factFeedback(userId = "anonymous"): NewFeedback[] {
  return factQuestions.map((prompt, index) => ({
    userId,
    rating: "down",
    prompt,
    answer: "I do not know.",
    correction: factAnswer,
    responseId: `chatcmpl-fact-${index}`,
  }));
}

export const testLearningSettings: LearningSettings = {
  userId: "anonymous",
  minNewFeedback: 5,
  minExamples: 3,
  heldOutFraction: 0.2,
  rank: 8,
  alpha: 8,
  learningRate: 0.003,
  steps: 800,
  batchSize: 32,
  weightDecay: 0,
  anchorWeight: 8,
  timeBudgetMs: 600_000,
  memoryBudgetBytes: 2 ** 30,
  maxAnswerTokens: 24,
  gate: { ...defaultGateThresholds },
  keepDays: 30,
};

export interface LearningRig {
  dir: string;
  model: string;
  pool: ModelPool;
  feedback: FeedbackStore;
  archive: AdapterArchive;
  open(settings?: Partial<LearningSettings>): Promise<LearningService>;
  dispose(): Promise<void>;
}

/** Everything in a temp folder; `open` may be called again (a restart) over the same state. */
export async function createLearningRig(options: { model?: string } = {}): Promise<LearningRig> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "sarai-learning-"));
  const model = options.model ?? (await learningModel());
  const pair = await generateSigningKey();
  await writeFile(path.join(dir, "signing-key.asc"), pair.privateKey, { mode: 0o600 });
  await writeFile(path.join(dir, "signing-key.pub.asc"), pair.publicKey);
  const signingKey = await loadSigningKey(path.join(dir, "signing-key.asc"));
  const trustedKey = await loadTrustedKey(path.join(dir, "signing-key.pub.asc"));
  const pool = new ModelPool({
    roles: { main: { file: model } },
    threads: 1,
    batchSize: 512,
    contextSize: 1024,
    sequences: 1,
    ramBudgetBytes: 4 * 2 ** 30,
  });
  const feedback = FeedbackStore.open({ file: path.join(dir, "learning.db") });
  const archive = await AdapterArchive.open({ dir: path.join(dir, "adapters"), signingKey, trustedKey });
  const services: LearningService[] = [];
  const guard = new InjectionGuard();
  return {
    dir,
    model,
    pool,
    feedback,
    archive,
    async open(settings = {}) {
      const service = await LearningService.open({
        pool,
        feedback,
        archive,
        screen: (text) => guard.check(text).verdict === "attack",
        dir: path.join(dir, "learning"),
        settings: { ...testLearningSettings, ...settings },
      });
      services.push(service);
      return service;
    },
    async dispose() {
      for (const service of services) await service.close();
      feedback.close();
      await pool.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
