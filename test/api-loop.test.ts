import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectErrorBody, metricValue, startTestServer, waitFor, type TestServer } from "./api-helpers.js";

const adminKey = "loop-admin-key-0123456789";
const anaKey = "loop-ana-key-0123456789";

interface JobJson {
  id: number;
  action: string;
  trigger: string;
  status: string;
  args: unknown;
  attempts: number;
  result: unknown;
  last_error: string | null;
  loop_alive?: boolean;
  runs?: { job_id: number; outcome: string; duration_ms: number; started_at: string }[];
}

describe("api", () => {
  describe("loop admin", () => {
    let ts: TestServer;
    const request = async (
      method: "GET" | "POST",
      url: string,
      payload?: unknown,
      key = adminKey,
    ): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }> => {
      const response = await ts.server.fastify.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
      return { status: response.statusCode, body: response.json(), headers: response.headers };
    };

    beforeAll(async () => {
      ts = await startTestServer({
        listen: false,
        server: { apiKeys: [adminKey, { key: anaKey, user: "ana" }] },
        proactive: { pollMs: 50 },
      });
    });
    afterAll(async () => {
      await ts.close();
    });

    it("reports every action with its schedule and next run, from the loop database", async () => {
      const { status, body } = await request("GET", "/v1/loop/status");
      expect(status).toBe(200);
      const loop = body as {
        object: string;
        running: boolean;
        restarts: number;
        actions: { name: string; schedule: string | null; on: string[]; next_run_at: string | null }[];
      };
      expect(loop.object).toBe("loop.status");
      // `sarai serve` starts the loop; the test server only opens it.
      expect(loop.running).toBe(false);
      expect(loop.restarts).toBe(0);
      expect(loop.actions.map((a) => a.name).sort()).toEqual([
        "disk_check",
        "idle_check",
        "idle_suggestion",
        "image_cache_expiry",
        "log_retention",
        "lora_training",
        "memory_maintenance",
        "prune",
        "ram_check",
        "redteam_campaign",
      ]);
      expect(loop.actions.find((a) => a.name === "redteam_campaign")?.schedule).toBe("40 3 * * 0");
      expect(loop.actions.find((a) => a.name === "lora_training")?.schedule).toBe("20 3 * * *");
      const ram = loop.actions.find((a) => a.name === "ram_check");
      expect(ram?.schedule).toBe("*/5 * * * *");
      const next = Date.parse(ram?.next_run_at ?? "");
      expect(next).toBeGreaterThan(Date.now());
      expect(next - Date.now()).toBeLessThanOrEqual(5 * 60_000);
      expect(loop.actions.find((a) => a.name === "prune")).toMatchObject({
        on: ["ram_high"],
        next_run_at: null,
      });
    });

    it("queues a manual run (202), which the loop picks up when it runs, and records it in the history", async () => {
      const queued = await request("POST", "/v1/loop/actions/disk_check/run", { args: { minFreeMb: 1 } });
      expect(queued.status).toBe(202);
      const job = queued.body as JobJson;
      expect(job).toMatchObject({
        action: "disk_check",
        trigger: "manual",
        status: "pending",
        args: { minFreeMb: 1 },
        loop_alive: false,
      });
      expect(queued.headers["location"]).toBe(`/v1/loop/jobs/${job.id}`);
      // Nothing runs it until a loop does.
      expect(((await request("GET", `/v1/loop/jobs/${job.id}`)).body as JobJson).status).toBe("pending");

      ts.app.loop?.start();
      let done: JobJson | undefined;
      await waitFor("the loop to run the queued job", async () => {
        done = (await request("GET", `/v1/loop/jobs/${job.id}`)).body as JobJson;
        return done.status === "succeeded";
      });
      expect(done?.result).toMatchObject({ low: false, minFreeBytes: 2 ** 20 });
      expect(done?.runs).toHaveLength(1);
      expect(done?.runs?.[0]).toMatchObject({ job_id: job.id, outcome: "succeeded" });

      const history = await request("GET", "/v1/loop/history?action=disk_check&limit=5");
      expect(history.status).toBe(200);
      const runs = (history.body as { object: string; data: { job_id: number; action: string }[] }).data;
      expect(runs.every((run) => run.action === "disk_check")).toBe(true);
      expect(runs.map((run) => run.job_id)).toContain(job.id);

      // With the loop running, a new run says so and needs no extra nudge.
      const second = await request("POST", "/v1/loop/actions/disk_check/run");
      expect(second.status).toBe(202);
      expect((second.body as JobJson).loop_alive).toBe(true);
      await waitFor(
        "the second run",
        async () =>
          ((await request("GET", `/v1/loop/jobs/${(second.body as JobJson).id}`)).body as JobJson).status ===
          "succeeded",
      );
      const status = (await request("GET", "/v1/loop/status")).body as {
        running: boolean;
        processes: { pid: number; alive: boolean }[];
        actions: { name: string; last_run: { outcome: string } | null }[];
      };
      expect(status.running).toBe(true);
      expect(status.processes[0]).toMatchObject({ pid: process.pid, alive: true });
      expect(status.actions.find((a) => a.name === "disk_check")?.last_run?.outcome).toBe("succeeded");
    });

    it("answers 404 for an unknown action and 400 naming the field for bad arguments", async () => {
      const unknown = await request("POST", "/v1/loop/actions/make_coffee/run", {});
      expect(unknown.status).toBe(404);
      expect(expectErrorBody(unknown.body, "not_found").error.message).toContain("make_coffee");

      const badArg = await request("POST", "/v1/loop/actions/disk_check/run", { args: { minFreeMb: -5 } });
      expect(badArg.status).toBe(400);
      expect(expectErrorBody(badArg.body, "invalid_request").error.param).toBe("args.minFreeMb");

      const extraArg = await request("POST", "/v1/loop/actions/disk_check/run", { args: { colour: "red" } });
      expect(extraArg.status).toBe(400);
      expect(expectErrorBody(extraArg.body, "invalid_request").error.message).toContain("colour");

      const notObject = await request("POST", "/v1/loop/actions/disk_check/run", { args: [1, 2] });
      expect(notObject.status).toBe(400);
      expect(expectErrorBody(notObject.body, "invalid_request").error.param).toBe("args");

      const extraField = await request("POST", "/v1/loop/actions/disk_check/run", { when: "now" });
      expect(extraField.status).toBe(400);
      expect(expectErrorBody(extraField.body, "invalid_request").error.message).toContain("when");

      const badLimit = await request("GET", "/v1/loop/history?limit=0");
      expect(badLimit.status).toBe(400);
      expect(expectErrorBody(badLimit.body, "invalid_request").error.param).toBe("limit");

      const badAction = await request("GET", "/v1/loop/history?action=make_coffee");
      expect(badAction.status).toBe(404);
      expect(expectErrorBody(badAction.body, "not_found").error.param).toBe("action");

      const noJob = await request("GET", "/v1/loop/jobs/999999");
      expect(noJob.status).toBe(404);

      const badPrune = await request("POST", "/v1/loop/prune", { unloadModels: "yes" });
      expect(badPrune.status).toBe(400);
      expect(expectErrorBody(badPrune.body, "invalid_request").error.param).toBe("unloadModels");
      const extraPrune = await request("POST", "/v1/loop/prune", { everything: true });
      expect(extraPrune.status).toBe(400);

      for (const name of ["Backup", "backup-done", "x".repeat(65), "%C3%B1"]) {
        const badName = await request("POST", `/v1/loop/events/${name}`, {});
        expect(badName.status, name).toBe(400);
        expect(expectErrorBody(badName.body, "invalid_request").error.param).toBe("name");
      }
      const badData = await request("POST", "/v1/loop/events/backup_done", { data: [1] });
      expect(badData.status).toBe(400);
      expect(expectErrorBody(badData.body, "invalid_request").error.param).toBe("data");
    });

    it("refuses an API key bound to one user (the loop is system-wide) and a request without a key", async () => {
      const bound = await request("GET", "/v1/loop/status", undefined, anaKey);
      expect(bound.status).toBe(403);
      expectErrorBody(bound.body, "forbidden");
      const run = await request("POST", "/v1/loop/actions/disk_check/run", {}, anaKey);
      expect(run.status).toBe(403);
      // What `sarai loop` asks the server for is system-wide too: a user's key may not unload models.
      for (const [method, url] of [
        ["POST", "/v1/loop/prune"],
        ["GET", "/v1/loop/server"],
        ["POST", "/v1/loop/events/backup_done"],
      ] as const) {
        const refused = await request(method, url, method === "POST" ? {} : undefined, anaKey);
        expect(refused.status, url).toBe(403);
        expectErrorBody(refused.body, "forbidden");
      }
      const anonymous = await ts.server.fastify.inject({ method: "GET", url: "/v1/loop/status" });
      expect(anonymous.statusCode).toBe(401);
    });

    it("exports the loop's runs, durations, next runs and restarts on the server's /metrics", async () => {
      const loop = ts.app.loop;
      if (loop === undefined) throw new Error("the test server has no loop");
      const scrape = async () => {
        const response = await ts.server.fastify.inject({
          method: "GET",
          url: "/metrics",
          headers: { authorization: `Bearer ${adminKey}` },
        });
        expect(response.statusCode).toBe(200);
        return response.body;
      };
      // The runs of the test above happened in this server's loop, which reported each one to the metrics.
      const runs = loop.store.runs({ action: "disk_check", limit: 10 });
      expect(runs.length).toBeGreaterThanOrEqual(2);
      const text = await scrape();
      expect(
        metricValue(text, "sarai_proactive_actions_total", { action: "disk_check", result: "succeeded" }),
      ).toBe(runs.filter((run) => run.outcome === "succeeded").length);
      expect(
        metricValue(text, "sarai_proactive_action_duration_seconds_count", { action: "disk_check" }),
      ).toBe(runs.length);
      const next = metricValue(text, "sarai_proactive_next_run_timestamp_seconds", { action: "ram_check" });
      const expected = loop.status().actions.find((a) => a.name === "ram_check")?.nextRunAt;
      expect(next).toBe((expected ?? 0) / 1000);
      // Event-only actions have no next run: no sample rather than a made-up time.
      expect(
        metricValue(text, "sarai_proactive_next_run_timestamp_seconds", { action: "prune" }),
      ).toBeUndefined();
      expect(metricValue(text, "sarai_loop_restarts_total")).toBe(0);

      // A second start on the same database is a restart; the counter follows the database.
      loop.store.recordStart("another-process", 4242, Date.now());
      expect(metricValue(await scrape(), "sarai_loop_restarts_total")).toBe(1);

      // A run the loop queues later is counted as it finishes.
      const queued = (await request("POST", "/v1/loop/actions/disk_check/run")).body as JobJson;
      await waitFor(
        "the queued run",
        async () =>
          ((await request("GET", `/v1/loop/jobs/${queued.id}`)).body as JobJson).status === "succeeded",
      );
      await waitFor(
        "the metrics to count it",
        async () =>
          metricValue(await scrape(), "sarai_proactive_action_duration_seconds_count", {
            action: "disk_check",
          }) ===
          runs.length + 1,
      );
    });
  });

  describe("loop admin with the loop off", () => {
    let ts: TestServer;
    beforeAll(async () => {
      ts = await startTestServer({ listen: false, proactive: { enabled: false } });
    });
    afterAll(async () => {
      await ts.close();
    });

    it("answers 409 LOOP_DISABLED on every loop route", async () => {
      for (const [method, url] of [
        ["GET", "/v1/loop/status"],
        ["POST", "/v1/loop/actions/disk_check/run"],
        ["GET", "/v1/loop/history"],
        ["GET", "/v1/loop/jobs/1"],
        ["POST", "/v1/loop/prune"],
        ["GET", "/v1/loop/server"],
        ["POST", "/v1/loop/events/backup_done"],
      ] as const) {
        const response = await ts.server.fastify.inject({ method, url });
        expect(response.statusCode, url).toBe(409);
        expect(expectErrorBody(response.json(), "loop_disabled").error.message).toContain(
          "proactive.enabled",
        );
      }
    });
  });
});
