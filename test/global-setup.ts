import { ensureTestModel, slowModelOptions, tinyModelOptions } from "./models.js";

/** Generates the shared test models once, before the test files run in parallel. */
export default async function setup(): Promise<void> {
  await ensureTestModel(tinyModelOptions);
  await ensureTestModel(slowModelOptions);
}
