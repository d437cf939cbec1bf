import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { errorCatalogue } from "../src/shared/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("docs", () => {
  it("lists every error code in the README with its HTTP status", async () => {
    const readme = await readFile(path.join(root, "README.md"), "utf8");
    const rows = new Map(
      [...readme.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((match) => [
        match[1],
        Number(match[2]),
      ]),
    );
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(rows.get(code), `README error table row for ${code}`).toBe(entry.status);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.description.length).toBeGreaterThan(10);
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(errorCatalogue).sort());
  });

  it("keeps the Quick start to the two commands CI and users run", async () => {
    const readme = await readFile(path.join(root, "README.md"), "utf8");
    const quickStart = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("## CLI"));
    const block = /```sh\n([\s\S]*?)```/.exec(quickStart)?.[1] ?? "";
    const commands = block
      .split("\n")
      .map((line) => line.replace(/#.*/, "").trim())
      .filter((line) => line !== "");
    expect(commands).toEqual(["npm install && npm start", "npm test"]);
    const ci = await readFile(path.join(root, ".ci", "run"), "utf8");
    expect(ci).toMatch(/^npm test$/m);
  });
});
