import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // llama.cpp contexts are CPU heavy; two cores cannot run many files at once.
    maxWorkers: 2,
    // .ci/run reads the totals from this report.
    reporters: ["default", ["json", { outputFile: ".cache/vitest-report.json" }]],
    projects: [
      {
        extends: true,
        test: {
          name: "sarai",
          include: ["src/**/*.test.ts", "test/**/*.test.ts", "web/src/**/*.test.ts"],
          exclude: ["test/container.test.ts"],
          globalSetup: ["test/global-setup.ts"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Builds and runs the container image (minutes of CPU): after every other file, alone.
        extends: true,
        test: {
          name: "container",
          include: ["test/container.test.ts"],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
