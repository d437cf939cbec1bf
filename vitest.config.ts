import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "web/src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // llama.cpp contexts are CPU heavy; two cores cannot run many files at once.
    maxWorkers: 2,
    globalSetup: ["test/global-setup.ts"],
    // .ci/run reads the totals from this report.
    reporters: ["default", ["json", { outputFile: ".cache/vitest-report.json" }]],
  },
});
