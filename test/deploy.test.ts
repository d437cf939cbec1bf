import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { createMetrics } from "../src/observability/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const deploy = path.join(root, "deploy");
const tmp = mkdtempSync(path.join(os.tmpdir(), "sarai-deploy-"));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs a tool that .ci/run installs; a missing tool fails the test (never skips it). */
function tool(command: string, args: string[], pkg: string): { status: number; output: string } {
  const result = spawnSync(command, args, { encoding: "utf8", cwd: root });
  if (result.error !== undefined) {
    throw new Error(`${command} is not installed: install Debian's \`${pkg}\` package (.ci/run does it)`);
  }
  return { status: result.status ?? 1, output: `${result.stdout}${result.stderr}` };
}

const promtool = (...args: string[]) => tool("promtool", args, "prometheus");
const systemdAnalyze = (...args: string[]) => tool("systemd-analyze", args, "systemd");

/** Every metric name SARAi's registry exports, histograms with their series suffixes. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram")
      for (const s of ["_bucket", "_sum", "_count"]) names.add(metric.name + s);
    if (String(metric.type) === "summary") for (const s of ["_sum", "_count"]) names.add(metric.name + s);
  }
  return names;
}

const promqlWords = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/** Metric names in a PromQL expression: identifiers not followed by `(`, outside strings and label matchers. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const after = stripped.slice((match.index ?? 0) + word.length);
    if (/^\s*\(/.test(after) || promqlWords.has(word.toLowerCase())) continue;
    if (/^\d/.test(word)) continue;
    names.push(word);
  }
  return names;
}

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(
  readFileSync(path.join(deploy, "grafana", "dashboards", "sarai.json"), "utf8"),
) as {
  uid: string;
  panels: Panel[];
};
const queries = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
);

describe("deploy", () => {
  describe("prometheus", () => {
    const alertsFile = path.join(deploy, "prometheus", "alerts.yml");
    const alerts = parseYaml(readFileSync(alertsFile, "utf8")) as {
      groups: { rules: { alert: string; expr: string; annotations: Record<string, string> }[] }[];
    };
    const rules = alerts.groups.flatMap((group) => group.rules);

    it("has valid alert rules, each with a summary and a description", () => {
      const result = promtool("check", "rules", alertsFile);
      expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(result.status, result.output).toBe(0);
      expect(rules.map((rule) => rule.alert)).toEqual([
        "SaraiDown",
        "SaraiRamP99High",
        "SaraiRamCritical",
        "SaraiLatencyP50High",
        "SaraiLoopDown",
        "SaraiLowAcceptance",
        "SaraiHigh5xx",
        "SaraiDiskLow",
        "SaraiDiskCritical",
        "SaraiFaultUnrepaired",
        "SaraiLoraTrainingFailing",
      ]);
      for (const rule of rules) {
        expect(rule.annotations.summary, rule.alert).toBeTruthy();
        expect(rule.annotations.description, rule.alert).toBeTruthy();
      }
    });

    it("uses the seeds' thresholds", () => {
      const expr = (name: string) => rules.find((rule) => rule.alert === name)?.expr ?? "";
      expect(expr("SaraiRamP99High")).toMatch(/quantile_over_time\(0\.99, sarai_ram_gb\[1h\]\) > 9\.9$/);
      expect(expr("SaraiRamCritical")).toBe("sarai_ram_gb > 10.5");
      expect(expr("SaraiLatencyP50High")).toMatch(/^histogram_quantile\(0\.5,[\s\S]*\) > 7\.9$/);
      expect(expr("SaraiLoopDown")).toBe("increase(sarai_loop_restarts_total[5m]) > 3");
      expect(expr("SaraiLowAcceptance")).toMatch(/^sarai_speculative_acceptance_rate < 0\.6 and /);
    });

    it("passes the unit tests, which cover every alert firing and staying silent", () => {
      const testFile = path.join(deploy, "prometheus", "alerts.test.yml");
      const result = promtool("test", "rules", testFile);
      expect(result.output).toContain("SUCCESS");
      expect(result.status, result.output).toBe(0);
      const tests = parseYaml(readFileSync(testFile, "utf8")) as {
        tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
      };
      const cases = tests.tests.flatMap((t) => t.alert_rule_test);
      for (const rule of rules) {
        const own = cases.filter((c) => c.alertname === rule.alert);
        expect(
          own.some((c) => c.exp_alerts.length > 0),
          `${rule.alert} has a test where it fires`,
        ).toBe(true);
      }
      // Each test's series include a healthy instance; the expected alerts list only the unhealthy ones, and
      // promtool fails on any extra alert: a rule that fired on healthy data would fail this test.
      expect(readFileSync(testFile, "utf8")).toMatch(/instance="good/);
    });

    it("fails the unit tests when a threshold breaks", () => {
      // The same tests against rules whose RAM threshold moved: they must fail, or they test nothing.
      const dir = mkdtempSync(path.join(tmp, "broken-"));
      writeFileSync(
        path.join(dir, "alerts.yml"),
        readFileSync(alertsFile, "utf8").replace("sarai_ram_gb > 10.5", "sarai_ram_gb > 12"),
      );
      writeFileSync(path.join(dir, "alerts.test.yml"), readFileSync(alertsFile.replace(".yml", ".test.yml")));
      const result = promtool("test", "rules", path.join(dir, "alerts.test.yml"));
      expect(result.status).not.toBe(0);
      expect(result.output).toContain("SaraiRamCritical");
    });

    it("has a valid scrape configuration", () => {
      // credentials_file must exist for promtool: the compose file writes it at start.
      const config = readFileSync(path.join(deploy, "prometheus", "prometheus.yml"), "utf8");
      expect(config).toContain("credentials_file: /prometheus/sarai-api-key");
      const dir = mkdtempSync(path.join(tmp, "prom-"));
      writeFileSync(path.join(dir, "sarai-api-key"), "test-key");
      writeFileSync(path.join(dir, "alerts.yml"), readFileSync(alertsFile));
      writeFileSync(
        path.join(dir, "prometheus.yml"),
        config.replace("/prometheus/sarai-api-key", path.join(dir, "sarai-api-key")),
      );
      const result = promtool("check", "config", path.join(dir, "prometheus.yml"));
      expect(result.status, result.output).toBe(0);
      expect(result.output).toContain("SUCCESS: 1 rule files found");
    });

    it("alerts only on metrics SARAi exports", async () => {
      const exported = await exportedNames();
      for (const rule of rules) {
        for (const name of metricNames(rule.expr).filter((n) => n !== "up")) {
          expect(exported.has(name), `${rule.alert}: ${name}`).toBe(true);
        }
      }
    });
  });

  describe("disk metrics", () => {
    it("exports the free disk under the state folder and the /ready minimum on each scrape", async () => {
      const stats = statfsSync(tmp);
      const metrics = createMetrics({
        diskFree: () =>
          Promise.resolve({ path: tmp, freeBytes: stats.bavail * stats.bsize, minFreeBytes: 512 * 2 ** 20 }),
      });
      const text = await metrics.registry.metrics();
      const free = new RegExp(`^sarai_disk_free_bytes\\{path="${tmp}"\\} (\\d+)$`, "m").exec(text);
      expect(Number(free?.[1])).toBe(stats.bavail * stats.bsize);
      expect(text).toContain(`sarai_disk_min_free_bytes{path="${tmp}"} ${512 * 2 ** 20}`);
    });

    it("leaves the disk gauges without a sample when the folder cannot be read", async () => {
      const metrics = createMetrics({
        diskFree: () => Promise.reject(new Error("ENOENT")),
      });
      const text = await metrics.registry.metrics();
      expect(text).not.toMatch(/^sarai_disk_free_bytes\{/m);
      expect(text).toMatch(/^sarai_ram_gb \d/m);
    });
  });

  describe("grafana", () => {
    it("has panels for every area, each with a query", () => {
      expect(dashboard.uid).toBe("sarai");
      const text = queries.map((q) => q.expr).join("\n");
      for (const metric of [
        "sarai_http_request_duration_seconds_bucket",
        "sarai_time_to_first_token_seconds_bucket",
        "sarai_generated_tokens_per_second_sum",
        "sarai_queue_depth",
        "sarai_ram_gb",
        "sarai_speculative_acceptance_rate",
        "sarai_memory_facts",
        "sarai_loop_restarts_total",
        "sarai_proactive_actions_total",
        "sarai_omni_loop_latency_seconds_bucket",
        "sarai_autocorrection_rate",
        "sarai_image_cache_hit_rate",
        "sarai_disk_free_bytes",
        "sarai_injection_detections_total",
        "sarai_repair_attempts_total",
        "sarai_repair_faults",
      ]) {
        expect(text, metric).toContain(metric);
      }
      for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
        expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      }
    });

    it("has queries that parse and name only metrics SARAi exports", async () => {
      expect(queries.length).toBeGreaterThan(30);
      // promtool parses each query as a recording rule's expression.
      const rulesFile = path.join(tmp, "dashboard-rules.yml");
      const recording = queries.map((q, i) => ({ record: `sarai:dashboard:${i}`, expr: q.expr }));
      writeFileSync(rulesFile, JSON.stringify({ groups: [{ name: "dashboard", rules: recording }] }));
      const result = promtool("check", "rules", rulesFile);
      expect(result.status, result.output).toBe(0);
      expect(result.output).toContain(`SUCCESS: ${queries.length} rules found`);

      const exported = await exportedNames();
      for (const query of queries) {
        const names = metricNames(query.expr);
        expect(names.length, `${query.panel}: ${query.expr}`).toBeGreaterThan(0);
        for (const name of names) expect(exported.has(name), `${query.panel}: ${name}`).toBe(true);
      }
    });

    it("finds metric names in queries (and would catch an unknown one)", async () => {
      expect(metricNames('sum by (le) (rate(sarai_x_bucket{route="/v1"}[5m])) / on(job) sarai_y')).toEqual([
        "sarai_x_bucket",
        "sarai_y",
      ]);
      expect((await exportedNames()).has("sarai_ram_gb_typo")).toBe(false);
    });

    it("provisions the datasource the dashboard uses and the dashboards folder", () => {
      const datasources = parseYaml(
        readFileSync(path.join(deploy, "grafana", "provisioning", "datasources", "prometheus.yml"), "utf8"),
      ) as { datasources: { uid: string; url: string }[] };
      expect(datasources.datasources[0]).toMatchObject({ uid: "prometheus", url: "http://prometheus:9090" });
      const json = readFileSync(path.join(deploy, "grafana", "dashboards", "sarai.json"), "utf8");
      expect([...json.matchAll(/"uid": "([^"]+)"/g)].map((m) => m[1]).filter((u) => u !== "sarai")).toSatisfy(
        (uids: string[]) => uids.every((uid) => uid === "prometheus"),
      );
      const providers = parseYaml(
        readFileSync(path.join(deploy, "grafana", "provisioning", "dashboards", "sarai.yml"), "utf8"),
      ) as { providers: { options: { path: string } }[] };
      expect(providers.providers[0]?.options.path).toBe("/var/lib/grafana/dashboards");
    });
  });

  describe("container", () => {
    const dockerfile = readFileSync(path.join(deploy, "docker", "Dockerfile"), "utf8");
    const compose = parseYaml(readFileSync(path.join(deploy, "docker", "docker-compose.yml"), "utf8")) as {
      services: Record<
        string,
        {
          build?: { context: string; dockerfile: string };
          environment?: Record<string, string>;
          volumes?: string[];
        }
      >;
    };

    it("builds in two stages and runs as a non-root user under supervisord", () => {
      expect(dockerfile.match(/^FROM .+ AS (\w+)$/gm)).toEqual([
        "FROM node:20-bookworm-slim AS build",
        "FROM node:20-bookworm-slim AS runtime",
      ]);
      expect(dockerfile).toMatch(/^RUN (?:.*\\\n)*.*npm ci .*npm prune --omit=dev/m);
      const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
      expect(users).toEqual(["sarai"]);
      expect(dockerfile).toMatch(
        /^CMD \["\/usr\/bin\/supervisord", "-n", "-c", "\/etc\/supervisor\/sarai.conf"\]$/m,
      );
      expect(dockerfile).toMatch(/^VOLUME \["\/data\/models", "\/data\/state", "\/data\/logs"\]$/m);
      expect(dockerfile).toMatch(/SARAI_SERVER_HOST=0\.0\.0\.0/);
    });

    it("copies only files that exist (COPY sources of the build context)", () => {
      const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map(
        (m) => m[1]?.trim().split(/\s+/) ?? [],
      );
      expect(copies.length).toBeGreaterThan(3);
      for (const args of copies) {
        for (const source of args.slice(0, -1))
          expect(existsSync(path.join(root, source)), source).toBe(true);
      }
      const ignored = readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n");
      for (const args of copies)
        for (const source of args.slice(0, -1)) expect(ignored).not.toContain(source);
    });

    it("runs both programs of its supervisord config, as its user", () => {
      const conf = readFileSync(path.join(deploy, "docker", "supervisord.conf"), "utf8");
      expect(conf).toMatch(/^command=\/usr\/local\/bin\/node \/opt\/sarai\/dist\/cli\/main\.js serve$/m);
      expect(conf).toMatch(/^command=\/usr\/local\/bin\/node \/opt\/sarai\/dist\/cli\/loop-main\.js loop$/m);
      for (const file of ["main.ts", "loop-main.ts"])
        expect(existsSync(path.join(root, "src", "cli", file))).toBe(true);
      expect(conf).not.toMatch(/^user=root/m);
    });

    it("health-checks GET /ready with the API key, a route that answers 503 when not ready", async () => {
      expect(dockerfile).toMatch(/^HEALTHCHECK .* CMD \["node", "\/opt\/sarai\/healthcheck\.mjs"\]$/m);
      const check = readFileSync(path.join(deploy, "docker", "healthcheck.mjs"), "utf8");
      expect(check).toContain("/ready");
      expect(check).toContain("SARAI_SERVER_API_KEYS");
      const server = readFileSync(path.join(root, "src", "api", "server.ts"), "utf8");
      expect(server).toMatch(/fastify\.get\("\/ready"/);

      // The script itself against a loopback server speaking /ready: 200 → exit 0, 503 → exit 1, key sent.
      let status = 200;
      let auth: string | undefined;
      const server2 = createServer((request, response) => {
        auth = request.headers.authorization;
        response.writeHead(request.url === "/ready" ? status : 404).end("{}");
      });
      await new Promise<void>((resolve) => server2.listen(0, "127.0.0.1", resolve));
      const port = String((server2.address() as { port: number }).port);
      const run = () =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, [path.join(deploy, "docker", "healthcheck.mjs")], {
            env: { ...process.env, SARAI_SERVER_PORT: port, SARAI_SERVER_API_KEYS: "k1, k2" },
            stdio: "ignore",
          });
          child.on("exit", resolve);
        });
      try {
        expect(await run()).toBe(0);
        expect(auth).toBe("Bearer k1");
        status = 503;
        expect(await run()).toBe(1);
      } finally {
        server2.close();
      }
    });

    it("composes SARAi, Prometheus and Grafana from files that exist", () => {
      expect(Object.keys(compose.services).sort()).toEqual(["grafana", "prometheus", "sarai"]);
      const composeDir = path.join(deploy, "docker");
      const build = compose.services["sarai"]?.build;
      expect(existsSync(path.join(composeDir, build?.context ?? "", build?.dockerfile ?? ""))).toBe(true);
      expect(compose.services["sarai"]?.environment?.["SARAI_SERVER_API_KEYS"]).toBe(
        "${SARAI_API_KEY:?set SARAI_API_KEY}",
      );
      const mounts = Object.values(compose.services).flatMap((s) => s.volumes ?? []);
      const binds = mounts.filter((m) => m.startsWith("."));
      expect(binds.length).toBe(5);
      for (const bind of binds) {
        const source = bind.split(":")[0] ?? "";
        expect(existsSync(path.join(composeDir, source)), source).toBe(true);
      }
    });
  });

  describe("systemd", () => {
    const units = ["sarai.service", "sarai-loop.service"];
    // The units name /usr/bin/node; verify checks that ExecStart exists, so this machine's node stands in.
    const unitDir = mkdtempSync(path.join(tmp, "units-"));
    for (const unit of units) {
      writeFileSync(
        path.join(unitDir, unit),
        readFileSync(path.join(deploy, unit), "utf8").replaceAll("/usr/bin/node ", `${process.execPath} `),
      );
    }

    it("verifies both units", () => {
      const result = systemdAnalyze("verify", ...units.map((unit) => path.join(unitDir, unit)));
      expect(result.status, result.output).toBe(0);
      expect(result.output.trim()).toBe("");
    });

    for (const unit of units) {
      it(`scores ${unit} below 4 in systemd-analyze security`, () => {
        const result = systemdAnalyze("security", "--offline=true", "--no-pager", path.join(unitDir, unit));
        const match = /Overall exposure level for \S+: (\d+\.\d+) /.exec(result.output);
        expect(match, result.output).not.toBeNull();
        const score = Number(match?.[1]);
        console.log(`systemd-analyze security --offline=true deploy/${unit}: ${score}`);
        expect(score).toBeLessThan(4);
        const text = readFileSync(path.join(deploy, unit), "utf8");
        for (const setting of [
          "NoNewPrivileges=true",
          "ProtectSystem=strict",
          "ProtectHome=true",
          "PrivateTmp=true",
          "PrivateDevices=true",
          "CapabilityBoundingSet=",
          "SystemCallFilter=@system-service",
          "ReadWritePaths=/var/lib/sarai /var/log/sarai",
          // V8's JIT needs writable+executable memory.
          "MemoryDenyWriteExecute=false",
        ]) {
          expect(text, setting).toMatch(
            new RegExp(`^${setting.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m"),
          );
        }
      });
    }

    it("scores an unhardened unit at 4 or above (the score is read right)", () => {
      const plain = path.join(unitDir, "plain.service");
      writeFileSync(plain, `[Service]\nExecStart=${process.execPath} -e 0\n`);
      const result = systemdAnalyze("security", "--offline=true", "--no-pager", plain);
      const score = Number(/Overall exposure level for \S+: (\d+\.\d+) /.exec(result.output)?.[1]);
      expect(score).toBeGreaterThanOrEqual(4);
    });
  });
});
