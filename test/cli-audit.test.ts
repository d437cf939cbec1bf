import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog, auditFiles } from "../src/security/index.js";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";

let dataDir = "";
const run = createCliRunner(() => dataDir);
const hexKey = "5a".repeat(32);
const env = { SARAI_AUDIT_KEY: hexKey };
const logDir = () => path.join(dataDir, "logs", "audit");

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-cli-audit-"));
  let t = Date.parse("2026-12-06T09:00:00Z");
  const log = AuditLog.open({
    dir: logDir(),
    key: Buffer.from(hexKey, "hex"),
    now: () => new Date((t += 1000)),
  });
  log.record({
    type: "auth.failure",
    actor: "key:0badc0de",
    outcome: "denied",
    details: { reason: "invalid key" },
  });
  log.record({ type: "memory.write", actor: "ana", target: "/v1/memory/facts", outcome: "ok" });
  log.record({ type: "skill.run", actor: "ana", target: "/v1/skills/:name", outcome: "ok" });
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe("cli audit", () => {
  it("verifies the configured log", async () => {
    const result = await run(["audit", "verify"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("ok: 3 entries in 1 file\n");
    const json = await run(["audit", "verify", "--json"], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, entries: 3 });
  });

  it("prints the last entries, filtered by type", async () => {
    const all = await run(["audit", "tail", "-n", "2"], { env });
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^2026-12-06T09:00:02\.000Z {2}#2 {2}memory\.write {2}ok {2}actor=ana/);
    const auth = await run(["audit", "tail", "--type", "auth.", "--json"], { env });
    expect(JSON.parse(auth.stdout.trim())).toMatchObject({ seq: 1, type: "auth.failure", outcome: "denied" });
    const bad = await run(["audit", "tail", "-n", "zero"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--lines/);
  });

  it("exits 1 naming the altered entry, and under a wrong key", async () => {
    const file = auditFiles(logDir())[0] as string;
    const original = readFileSync(file, "utf8");
    writeFileSync(file, original.replace('"actor":"ana"', '"actor":"eve"'));
    try {
      const result = await run(["audit", "verify"], { env });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^FAILED {2}.*audit-2026-12-06\.jsonl:2 \(seq 2\): HMAC does not match/);
      expectNoStackTrace(result);
    } finally {
      writeFileSync(file, original);
    }
    const wrong = await run(["audit", "verify", file], { env: { SARAI_AUDIT_KEY: "6b".repeat(32) } });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/:1 \(seq 1\): HMAC does not match \(altered, or the wrong key\)/);
  });

  it("says what is wrong with a short key or a missing file, without a stack trace", async () => {
    const short = await run(["audit", "verify"], { env: { SARAI_AUDIT_KEY: "abcd" } });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/SARAI_AUDIT_KEY must hold at least 32 bytes/);
    expectNoStackTrace(short);
    const missing = await run(["audit", "verify", "nope.jsonl"], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.jsonl: no such file/);
  });
});
