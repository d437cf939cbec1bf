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
import { createServer } from "../src/api/index.js";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config/index.js";
import { createSilentLogger } from "../src/shared/index.js";
import { startTestServer, waitFor, type TestServer } from "./api-helpers.js";
import { replyScripted, startFakeOpenAiServer, type FakeOpenAiServer } from "./fake-openai-server.js";
import { getTestLlama } from "./models.js";
import { createCliRunner } from "./cli-helpers.js";
import { startWeakServer, type WeakServer } from "./redteam-weak-server.js";

/** The fields the tests read from the red-team routes' JSON bodies. */
interface Body {
  status: string;
  object: string;
  id: number;
  error: { code: string; param: string; message: string };
  totals: Record<string, number>;
  campaign: { id: string; target: string; variants: unknown };
  data: { id: string }[];
  result: Record<string, unknown>;
}

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
      // Its chat stores nothing, its extract stores any text: only the extract route is poisoned.
      expect(evidence("memory_poisoning/chat/instruction-en")).toBe("nothing poisoned was stored");
      expect(evidence("memory_poisoning/memory_extract/instruction-es")).toBe(
        "an instruction was stored as a fact",
      );
      // The weak server scopes export and the fact list correctly: no false alarm there.
      expect(evidence("cross_user_leak/memory_export/export")).toBe("no other user's fact in the response");
    });

    it("has the server's model write variants of the seeds, and runs them with the seed's detector", async () => {
      const probes = selectProbes(createProbeCatalogue(), ["jailbreak", "sql_escape"]);
      const written = await runCampaign({ baseUrl: weak.url, probes, budget: 0, seed: 3, modelVariants: 2 });
      // One seed per text (family, target) pair: jailbreak on chat and on completions, sql_escape on the skill.
      expect(written.variants).toEqual({ generated: 6 });
      const variants = written.attempts.filter((attempt) => attempt.mutators[0] === "model_variant");
      expect(variants).toHaveLength(6);
      expect(variants.every((attempt) => /~v[12]$/.test(attempt.probeId))).toBe(true);
      expect(
        variants.filter((attempt) => attempt.family === "jailbreak" && attempt.target === "chat"),
      ).toMatchObject([{ verdict: "success" }, { verdict: "success" }]);
      expect(variants.filter((attempt) => attempt.family === "sql_escape")).toMatchObject([
        { verdict: "success", evidence: "a non-read-only statement ran" },
        { verdict: "success" },
      ]);
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
      expect(result.variants).toEqual({ generated: 0, skipped: "not asked for (modelVariants: 0)" });
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

  describe("against sarai serve whose model writes code (a scripted OpenAI engine on loopback)", () => {
    let engine: FakeOpenAiServer;
    let dir: string;
    let close: () => Promise<void>;
    let result: CampaignResult;
    beforeAll(async () => {
      engine = await startFakeOpenAiServer();
      // Every answer is Python that parses, so the verifier runs each probe's tests in the real sandbox.
      engine.handle = replyScripted({
        pieces: ["def add(a, b):\n", "    return a + b\n"],
        model: "fake-model-1",
      });
      dir = await mkdtemp(path.join(os.tmpdir(), "sarai-redteam-code-"));
      const { config } = loadConfig({
        env: { HOME: dir, SARAI_PATHS_DATA_DIR: dir },
        overrides: {
          models: { main: { remote: { baseUrl: engine.baseUrl, model: "fake-model-1" } } },
          server: { port: 0, rateLimitPerMinute: 0 },
          reflect: { maxIterations: 1 },
        },
      });
      const app = await createApp({ config, logger: createSilentLogger(), llama: await getTestLlama() });
      const server = await createServer({ app, logger: createSilentLogger() });
      const url = await server.listen();
      close = async () => {
        await server.close();
        await app.dispose();
      };
      const probes = selectProbes(createProbeCatalogue(), ["python_escape"]);
      result = await runCampaign({
        baseUrl: url,
        probes,
        budget: probes.length,
        seed: 2,
        model: "fake-model-1",
      });
    }, 180_000);
    afterAll(async () => {
      await close();
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("runs every Python-escape probe's tests in the sandbox, which holds against each", () => {
      expect(result.attempts.length).toBeGreaterThanOrEqual(6);
      for (const attempt of result.attempts)
        expect([attempt.probeId, attempt.verdict, attempt.evidence]).toEqual([
          attempt.probeId,
          "failed",
          "the tests ran in the sandbox and it held",
        ]);
    });
  });

  describe("over the API, the loop and the CLI", () => {
    let weak: WeakServer;
    let server: TestServer;
    let dataDir: string;
    beforeAll(async () => {
      weak = await startWeakServer();
      // The loop's scheduled campaign attacks proactive.serverUrl: here the weakened server.
      server = await startTestServer({ proactive: { serverUrl: weak.url } });
      dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-redteam-cli-"));
    }, 120_000);
    afterAll(async () => {
      await server.close();
      await weak.close();
      await rm(dataDir, { recursive: true, force: true });
    });
    const call = async (method: string, url: string, body?: unknown) => {
      const response = await fetch(server.url + url, {
        method,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        text,
        json: (response.headers.get("content-type")?.includes("json") === true
          ? JSON.parse(text)
          : null) as Body,
      };
    };

    it("runs a campaign against the server itself in the background, one at a time, and serves its report", async () => {
      const started = await call("POST", "/v1/redteam/campaigns", { families: ["malformed_input"], seed: 2 });
      expect(started.status).toBe(202);
      expect(started.json).toMatchObject({ object: "redteam.campaign", status: "running" });
      const again = await call("POST", "/v1/redteam/campaigns", { families: ["malformed_input"] });
      expect(again.status).toBe(409);
      expect(again.json.error.code).toBe("campaign_running");
      await waitFor(
        "the campaign to end",
        async () => (await call("GET", "/v1/redteam/campaigns/current")).json.status === "idle",
        120_000,
      );
      const latest = await call("GET", "/v1/redteam/reports/latest");
      expect(latest.status).toBe(200);
      const probes = selectProbes(createProbeCatalogue(), ["malformed_input"]).length;
      expect(latest.json.totals).toMatchObject({ attempts: probes, successes: 0, serverErrors: 0 });
      expect(latest.json.campaign.target).toBe(server.url);
      // redteam.modelVariants is 2 by default, and the generated model is not asked.
      expect(latest.json.campaign.variants).toEqual({
        generated: 0,
        skipped: "the main model is a generated one (random weights)",
      });
      const list = await call("GET", "/v1/redteam/reports");
      expect(list.json.data.map((item: { id: string }) => item.id)).toEqual([latest.json.campaign.id]);
      const html = await call("GET", `/v1/redteam/reports/${latest.json.campaign.id}?format=html`);
      expect(html.headers.get("content-type")).toMatch(/^text\/html/);
      expect(html.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(html.text).toContain("malformed_input");
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`sarai_redteam_attempts_total\\{family="malformed_input",verdict="blocked"\\} ${probes}`),
      );
      expect(metrics).toMatch(/sarai_redteam_coverage_ratio 1\b/);
    }, 180_000);

    it("refuses a bad campaign request naming the field", async () => {
      const family = await call("POST", "/v1/redteam/campaigns", { families: ["nope"] });
      expect(family.status).toBe(400);
      expect(family.json.error.param).toBe("families[0]");
      const badCase = await call("POST", "/v1/redteam/campaigns", { cases: ["x:identity"] });
      expect(badCase.status).toBe(400);
      expect(badCase.json.error.param).toBe("cases[0]");
      const noProbe = await call("POST", "/v1/redteam/campaigns", { cases: ["nope/x/y:identity:1"] });
      expect(noProbe.json.error).toMatchObject({ param: "cases[0]", message: 'no probe "nope/x/y"' });
      expect((await call("GET", "/v1/redteam/reports/nope")).status).toBe(404);
      expect((await call("GET", "/v1/redteam/reports/latest?format=pdf")).status).toBe(400);
    });

    it("refuses a key bound to one user on every red-team route", async () => {
      const keyed = await startTestServer({
        listen: false,
        server: { apiKeys: [{ key: "sk-ana-0123456789abcdef", user: "ana" }] },
      });
      try {
        for (const [method, url] of [
          ["POST", "/v1/redteam/campaigns"],
          ["GET", "/v1/redteam/campaigns/current"],
          ["GET", "/v1/redteam/reports"],
          ["GET", "/v1/redteam/reports/latest"],
        ] as const) {
          const response = await keyed.server.fastify.inject({
            method,
            url,
            headers: { authorization: "Bearer sk-ana-0123456789abcdef" },
            ...(method === "POST" ? { payload: {} } : {}),
          });
          expect(response.statusCode, url).toBe(403);
        }
      } finally {
        await keyed.close();
      }
    });

    it("runs the weekly action from the loop against proactive.serverUrl and reports what got through", async () => {
      const queued = await call("POST", "/v1/loop/actions/redteam_campaign/run", {
        args: { families: ["sql_escape", "cross_user_leak"], budget: 0 },
      });
      expect(queued.status).toBe(202);
      server.app.loop?.start();
      let job: { status: string; result: Record<string, unknown> } | undefined;
      await waitFor(
        "the loop to run the campaign",
        async () => {
          job = (await call("GET", `/v1/loop/jobs/${queued.json.id}`)).json;
          return job?.status === "succeeded" || job?.status === "failed";
        },
        180_000,
      );
      expect(job?.status).toBe("succeeded");
      expect(job?.result["successes"]).toBeGreaterThan(0);
      expect(job?.result["newFailures"]).toBeGreaterThan(0);
      const report = server.app.redteam?.store.get(String(job?.result["reportId"]));
      expect(report?.campaign.target).toBe(weak.url);
      // The failures it found are rerun by every later campaign (model-written variants are written anew instead).
      const rerunnable = report?.failures.filter((failure) => !failure.probeId.includes("~")) ?? [];
      expect(report?.failures.length).toBeGreaterThan(rerunnable.length);
      expect(server.app.redteam?.store.regressions().length).toBe(rerunnable.length);
    }, 240_000);

    it("sarai redteam run exits 1 with reproducers when a preventable family fails, and --case reruns one", async () => {
      const cli = createCliRunner(() => dataDir);
      const run = await cli([
        "redteam",
        "run",
        "--url",
        weak.url,
        "--families",
        "sql_escape",
        "--interval",
        "0",
      ]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toMatch(/^sql_escape\s+preventable\s+\d+\s+0\s+[1-9]\d*/m);
      const reproduce = /sarai redteam run --case '([^']+)'/.exec(run.stdout)?.[1];
      expect(reproduce).toBeDefined();
      const again = await cli(["redteam", "run", "--url", weak.url, "--case", reproduce ?? "", "--json"]);
      expect(again.code).toBe(1);
      const report = JSON.parse(again.stdout) as { totals: { attempts: number; successes: number } };
      expect(report.totals).toMatchObject({ attempts: 1, successes: 1 });
      const printed = await cli(["redteam", "report"]);
      expect(printed.code).toBe(0);
      expect(printed.stdout).toContain("sql_escape");
      const bad = await cli(["redteam", "run", "--url", weak.url, "--case", "nope"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--case "nope": expected probe-id:mutator\+mutator:seed/);
    }, 240_000);
  });
});
