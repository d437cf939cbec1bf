import path from "node:path";
import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The web UI: built into `dist/ui/`, which `sarai serve` serves at `/` under a strict Content-Security-Policy
 * (no inline script or style), so the output is plain files: one entry script and one stylesheet. Not `dist/web/`:
 * tsc writes `src/web/`'s modules there, and this build empties its folder first.
 */
export default defineConfig({
  root: here,
  base: "/",
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: path.join(here, "..", "dist", "ui"),
    emptyOutDir: true,
    // The preload polyfill is inline-free, but nothing here is split, so it is not needed at all.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `npx vite --config web/vite.config.ts` for development: the API on the usual port.
    proxy: { "/v1": "http://127.0.0.1:8080" },
  },
});
