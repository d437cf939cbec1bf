// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";

/**
 * Layer direction from ARCHITECTURE.md: a folder may import only from folders to its left.
 * shared ← config ← {inference, memory, …} ← assistant ← app ← {api, cli}
 */
const layers = {
  shared: [],
  config: ["shared"],
  inference: ["shared", "config"],
  memory: ["shared", "config"],
  observability: ["shared", "config"],
  security: ["shared", "config"],
  vision: ["shared", "config"],
  skills: ["shared", "config", "inference", "memory", "observability", "security", "vision"],
  proactive: ["shared", "config", "inference", "memory", "observability", "security", "vision"],
  assistant: [
    "shared",
    "config",
    "inference",
    "memory",
    "observability",
    "security",
    "vision",
    "skills",
    "proactive",
  ],
  app: [
    "shared",
    "config",
    "inference",
    "memory",
    "observability",
    "security",
    "vision",
    "skills",
    "proactive",
    "assistant",
  ],
  api: [
    "shared",
    "config",
    "inference",
    "memory",
    "observability",
    "security",
    "vision",
    "skills",
    "proactive",
    "assistant",
    "app",
  ],
  cli: [
    "shared",
    "config",
    "inference",
    "memory",
    "observability",
    "security",
    "vision",
    "skills",
    "proactive",
    "assistant",
    "app",
    "api",
  ],
};
const allFolders = Object.keys(layers);
const zones = Object.entries(layers)
  .map(([folder, allowed]) => ({
    target: `./src/${folder}`,
    from: allFolders.filter((f) => f !== folder && !allowed.includes(f)).map((f) => `./src/${f}`),
    message: `src/${folder} may import only from: ${allowed.join(", ") || "nothing outside itself"} (ARCHITECTURE.md)`,
  }))
  .filter((zone) => zone.from.length > 0);

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".cache/**", "coverage/**", "docs/spikes/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    settings: { "import-x/resolver": { node: { extensions: [".ts", ".js"] } } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "error",
      "import-x/no-cycle": "error",
      "import-x/no-restricted-paths": ["error", { zones }],
    },
  },
  {
    // Only the CLI and the logger print.
    files: ["src/cli/**", "src/shared/logger.ts", "bench/**", "test/**", "scripts/**"],
    rules: { "no-console": "off" },
  },
  {
    files: ["**/*.js"],
    ...tseslint.configs.disableTypeChecked,
  },
);
