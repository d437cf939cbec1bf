// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/**
 * Layer direction from ARCHITECTURE.md: a folder may import only from folders to its left.
 * shared ← config ← {inference, memory, …} ← assistant ← app ← {api, cli}
 */
// Each tier may use everything in the tiers before it.
const foundation = ["shared", "config"];
const subsystems = [
  ...foundation,
  "inference",
  "memory",
  "observability",
  "security",
  "vision",
  "voice",
  "search",
];
const features = [...subsystems, "skills", "proactive", "redteam", "learning", "repair", "web"];
const layers = {
  shared: [],
  config: ["shared"],
  inference: foundation,
  memory: foundation,
  observability: foundation,
  security: foundation,
  vision: foundation,
  voice: foundation,
  search: foundation,
  skills: subsystems,
  proactive: subsystems,
  redteam: subsystems,
  learning: subsystems,
  web: subsystems,
  repair: subsystems,
  assistant: features,
  app: [...features, "assistant"],
  api: [...features, "assistant", "app"],
  cli: [...features, "assistant", "app", "api"],
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
  { ignores: ["dist/**", "node_modules/**", ".cache/**", "coverage/**", "docs/spikes/**", "deploy/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    // The TypeScript resolver maps `./x.js` to `./x.ts` (NodeNext imports): with the plain node resolver every
    // relative import stayed unresolved, and the layer and cycle rules silently checked nothing.
    settings: { "import-x/resolver-next": [createTypeScriptImportResolver({ project: "./tsconfig.json" })] },
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
