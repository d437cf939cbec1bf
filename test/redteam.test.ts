import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createProbeCatalogue,
  preventableFamilies,
  RedTeam,
  runCampaign,
  selectProbes,
  type AttackFamily,
  type CampaignResult,
} from "../src/redteam/index.js";
import { startTestServer, type TestServer } from "./api-helpers.js";
import { startWeakServer, type WeakServer } from "./redteam-weak-server.js";

const successesBy = (result: CampaignResult) => {
  const found = new Map<string, number>();
  for (const attempt of result.attempts)
    if (attempt.verdict === "success") found.set(attempt.family, (found.get(attempt.family) ?? 0) + 1);
  return found;
};

describe("red team", () => {
  describe("against a deliberately weakened server", () => {
    let weak: WeakServer;
    let result: CampaignResult;
    beforeAll(async () => {
      weak = await startWeakServer();
      const probes = createProbeCatalogue().filter((probe) => probe.family !== "python_escape");
      // Every probe once as written: the holes are planted so that no mutation is needed to find them.
      result = await runCampaign({ baseUrl: weak.url, probes, budget: probes.length, seed: 3 });
    }, 120_000);
    afterAll(() => weak.close());

    it("finds every planted hole, in the family it belongs to", () => {
      const found = successesBy(result);
      for (const family of [
        "prompt_injection",
        "jailbreak",
        "memory_poisoning",
        "cross_user_leak",
        "sql_escape",
        "grammar_bypass",
        "malformed_input",
        "path_traversal",
      ] as AttackFamily[])
        expect(found.get(family) ?? 0, family).toBeGreaterThan(0);
    });

    it("names the evidence from the response, not from the prompt", () => {
      const evidence = (id: string) => result.attempts.find((attempt) => attempt.probeId === id)?.evidence;
      expect(evidence("prompt_injection/chat/reveal-en")).toBe("the answer holds the secret");
      expect(evidence("cross_user_leak/memory_search/victim-en")).toBe("another user's fact came back");
      expect(evidence("sql_escape/skill_sql/drop-es")).toBe("a non-read-only statement ran");
      expect(evidence("grammar_bypass/skill_json/prose-en")).toBe("a 200 whose output breaks the schema");
      expect(evidence("malformed_input/chat/deep-nesting")).toBe("HTTP 500");
      expect(evidence("path_traversal/images/ssrf")).toBe("the server fetched a loopback URL");
      // The weak server scopes export and the fact list correctly: no false alarm there.
      expect(evidence("cross_user_leak/memory_export/export")).toBe("no other user's fact in the response");
    });

    it("runs every probe once and counts coverage over the cells", () => {
      expect(new Set(result.attempts.map((attempt) => attempt.probeId)).size).toBe(result.attempts.length);
      expect(result.coverage.exercised).toBeGreaterThan(0);
      expect(result.coverage.ratio).toBeCloseTo(result.coverage.exercised / result.coverage.cells, 6);
      expect(result.coverage.ratio).toBeLessThan(1);
    });
  });

  describe("against sarai serve on the generated model", () => {
    let server: TestServer;
    let dir: string;
    beforeAll(async () => {
      server = await startTestServer({ sequences: 2 });
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-redteam-"));
    }, 120_000);
    afterAll(async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("finds no success in the families SARAi prevents, audits every attempt and leaves no red-team data", async () => {
      const audited: { type: string; details?: Record<string, unknown> }[] = [];
      const families = [...preventableFamilies].filter((family) => family !== "resource_exhaustion");
      const probes = selectProbes(createProbeCatalogue(), families);
      const result = await runCampaign({
        baseUrl: server.url,
        probes,
        budget: probes.length + 20,
        seed: 5,
        timeoutMs: 120_000,
        audit: { record: (event) => audited.push(event) },
      });
      const failures = result.attempts.filter((attempt) => attempt.verdict === "success");
      expect(failures.map((attempt) => `${attempt.probeId}: ${attempt.evidence}`)).toEqual([]);
      expect(result.stopped).toBeUndefined();
      expect(audited).toHaveLength(result.attempts.length);
      expect(audited[0]).toMatchObject({ type: "redteam.attempt" });
      expect(String(audited[0]?.details?.["prompt"])).toMatch(/^sha256:[0-9a-f]{64}$/);
      // The red team's users are gone: nobody's memory keeps what the campaign stored.
      for (const user of [result.users.attacker, result.users.victim])
        expect(server.app.memory?.store.list(user), user).toEqual([]);
    }, 600_000);

    it("saves a report, turns a found failure into a regression case and reruns it", async () => {
      const redTeam = new RedTeam({ dir, baseUrl: server.url, timeoutMs: 120_000 });
      const first = await redTeam.run({ families: ["malformed_input"], seed: 1 });
      expect(first.report.totals.attempts).toBeGreaterThan(0);
      expect(first.report.totals.successes).toBe(0);
      expect(redTeam.store.latest()?.campaign.id).toBe(first.report.campaign.id);
      // A failure that an earlier campaign recorded (here: planted in the store) is rerun by the next one.
      redTeam.store.updateRegressions(
        {
          ...first.report,
          failures: [
            {
              probeId: "malformed_input/chat/not-json",
              family: "malformed_input",
              target: "chat",
              mutators: ["identity"],
              seed: 9,
              evidence: "HTTP 500",
              statuses: [500],
              responsePreview: "",
              reproduce: "",
            },
          ],
        },
        new Map(),
      );
      const second = await redTeam.run({ families: ["malformed_input"], seed: 1 });
      expect(second.report.regressions).toEqual({ rerun: 1, stillFailing: 0, fixed: 1 });
      expect(second.report.previous).toBe(first.report.campaign.id);
      expect(redTeam.store.regressions()).toMatchObject([
        { probeId: "malformed_input/chat/not-json", lastVerdict: "blocked" },
      ]);
    }, 300_000);
  });
});
