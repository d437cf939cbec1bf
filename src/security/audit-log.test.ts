import { execFile } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../shared/index.js";
import {
  AuditLog,
  auditFiles,
  hashText,
  keyActor,
  loadAuditKey,
  tailAuditLog,
  verifyAuditLog,
} from "./audit-log.js";

const key = Buffer.alloc(32, 7);
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "sarai-audit-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A clock that moves one minute per call, starting at `start`. */
function clock(start = "2026-12-06T10:00:00Z"): () => Date {
  let t = Date.parse(start);
  return () => new Date((t += 60_000));
}

function writeEntries(count: number, now = clock()): string {
  const log = AuditLog.open({ dir, key, now });
  for (let i = 1; i <= count; i++) {
    log.record({ type: "memory.write", actor: "ana", target: `fact-${i}`, outcome: "ok", details: { n: i } });
  }
  return auditFiles(dir)[0] as string;
}

const lines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);
const writeLines = (file: string, list: string[]) => writeFileSync(file, `${list.join("\n")}\n`);

describe("security", () => {
  describe("audit log", () => {
    it("chains entries with seq, prev and an HMAC, and verifies them", () => {
      const file = writeEntries(4);
      const entries = lines(file).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(entries[0]?.prev).toBe("0".repeat(64));
      expect(entries[1]?.prev).not.toBe(entries[0]?.prev);
      expect(entries[0]).toMatchObject({
        type: "memory.write",
        actor: "ana",
        target: "fact-1",
        details: { n: 1 },
      });
      expect(String(entries[0]?.hmac)).toMatch(/^[0-9a-f]{64}$/);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(verifyAuditLog({ dir, key })).toMatchObject({ ok: true, entries: 4 });
    });

    it("continues the chain when reopened", () => {
      const now = clock();
      writeEntries(2, now);
      const log = AuditLog.open({ dir, key, now });
      log.record({ type: "auth.failure" });
      const file = auditFiles(dir)[0] as string;
      expect(lines(file).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3]);
      expect(verifyAuditLog({ dir, key }).ok).toBe(true);
    });

    it("chains appends from two logs open on one folder (two processes) onto each other", () => {
      const now = clock();
      const first = AuditLog.open({ dir, key, now });
      const second = AuditLog.open({ dir, key, now });
      for (let i = 0; i < 3; i++) {
        first.record({ type: "a" });
        second.record({ type: "b" });
      }
      const file = auditFiles(dir)[0] as string;
      expect(lines(file).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(verifyAuditLog({ dir, key })).toMatchObject({ ok: true, entries: 6 });
    });

    it("keeps one chain when two real processes append at once", async () => {
      const script = `
        import { AuditLog } from ${JSON.stringify(path.resolve("src/security/audit-log.ts"))};
        const log = AuditLog.open({ dir: process.argv[1], key: Buffer.alloc(32, 7) });
        for (let i = 0; i < 400; i++) log.record({ type: "p" + process.argv[2], details: { i } });
        if (log.failures > 0) process.exit(3);
      `;
      const child = (tag: string) =>
        new Promise<number>((resolve) => {
          execFile(
            process.execPath,
            ["--import", "tsx", "--input-type=module", "-e", script, dir, tag],
            (error) => resolve(error === null ? 0 : typeof error.code === "number" ? error.code : 1),
          );
        });
      expect(await Promise.all([child("1"), child("2")])).toEqual([0, 0]);
      const result = verifyAuditLog({ dir, key });
      expect(result).toMatchObject({ ok: true, entries: 800 });
      const types = tailAuditLog(dir, 1000).map((e) => e.type);
      expect(types.filter((t) => t === "p1")).toHaveLength(400);
      expect(types.filter((t) => t === "p2")).toHaveLength(400);
    });

    it("takes over a lock its owner left behind when it died", () => {
      writeEntries(1);
      mkdirSync(path.join(dir, "audit.lock"));
      const old = new Date(Date.now() - 60_000);
      utimesSync(path.join(dir, "audit.lock"), old, old);
      const log = AuditLog.open({ dir, key });
      log.record({ type: "after.crash" });
      expect(log.failures).toBe(0);
      expect(verifyAuditLog({ dir, key })).toMatchObject({ ok: true, entries: 2 });
    });

    it("names an entry with one byte edited in its details, its hmac or its seq", () => {
      for (const edit of [
        (line: string) => line.replace('"n":2', '"n":3'),
        (line: string) => line.replace(/"hmac":"(.)/, (_m, c: string) => `"hmac":"${c === "a" ? "b" : "a"}`),
        (line: string) => line.replace('"seq":2', '"seq":9'),
      ]) {
        rmSync(dir, { recursive: true, force: true });
        const file = writeEntries(3);
        const list = lines(file);
        const edited = edit(list[1] as string);
        expect(edited).not.toBe(list[1]);
        list[1] = edited;
        writeLines(file, list);
        const result = verifyAuditLog({ dir, key });
        expect(result.ok).toBe(false);
        expect(result.firstBad).toMatchObject({ file, line: 2 });
        expect(result.firstBad?.reason).toMatch(/HMAC does not match/);
      }
    });

    it("names the entry after a deleted middle line", () => {
      const file = writeEntries(4);
      const list = lines(file);
      list.splice(1, 1);
      writeLines(file, list);
      const result = verifyAuditLog({ dir, key });
      expect(result.firstBad).toMatchObject({ line: 2, seq: 3 });
      expect(result.firstBad?.reason).toMatch(/expected seq 2: 1 entry is missing/);
    });

    it("notices that the first line was deleted", () => {
      const file = writeEntries(3);
      writeLines(file, lines(file).slice(1));
      expect(verifyAuditLog({ dir, key }).firstBad).toMatchObject({ line: 1, seq: 2 });
    });

    it("names two swapped lines", () => {
      const file = writeEntries(4);
      const list = lines(file);
      [list[1], list[2]] = [list[2] as string, list[1] as string];
      writeLines(file, list);
      const result = verifyAuditLog({ dir, key });
      expect(result.firstBad).toMatchObject({ line: 2, seq: 3 });
    });

    it("names an inserted entry, even one copied from the log itself", () => {
      const file = writeEntries(3);
      const list = lines(file);
      list.splice(2, 0, list[0] as string);
      writeLines(file, list);
      expect(verifyAuditLog({ dir, key }).firstBad).toMatchObject({ line: 3, seq: 1 });
      expect(verifyAuditLog({ dir, key }).firstBad?.reason).toMatch(/reordered or duplicated/);
    });

    it("reports whole entries cut off the end (the head remembers the last one)", () => {
      const file = writeEntries(4);
      writeLines(file, lines(file).slice(0, 2));
      const result = verifyAuditLog({ dir, key });
      expect(result.ok).toBe(false);
      expect(result.firstBad?.reason).toMatch(/ends at seq 2 but its head records seq 4/);
    });

    it("keeps entries cut off the end visible after later appends (they chain onto the head)", () => {
      const now = clock();
      const file = writeEntries(4, now);
      writeLines(file, lines(file).slice(0, 2));
      AuditLog.open({ dir, key, now }).record({ type: "after.cut" });
      const appended = JSON.parse(lines(file)[2] as string) as { seq: number };
      expect(appended.seq).toBe(5);
      const result = verifyAuditLog({ dir, key });
      expect(result.firstBad).toMatchObject({ file, line: 3, seq: 5 });
      expect(result.firstBad?.reason).toMatch(/expected seq 3: 2 entries are missing/);
    });

    it("accepts a head left one entry behind by a crash, not a head from another chain", () => {
      const now = clock();
      writeEntries(2, now);
      const headPath = path.join(dir, "audit.head");
      const behind = readFileSync(headPath, "utf8");
      AuditLog.open({ dir, key, now }).record({ type: "killed.before.head" });
      writeFileSync(headPath, behind);
      expect(verifyAuditLog({ dir, key })).toMatchObject({ ok: true, entries: 3 });

      // A valid head (same key) that names seq 2 of a different log.
      const other = mkdtempSync(path.join(tmpdir(), "sarai-audit-other-"));
      try {
        const log = AuditLog.open({ dir: other, key, now });
        log.record({ type: "elsewhere.1" });
        log.record({ type: "elsewhere.2" });
        writeFileSync(headPath, readFileSync(path.join(other, "audit.head")));
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
      const result = verifyAuditLog({ dir, key });
      expect(result.ok).toBe(false);
      expect(result.firstBad?.reason).toMatch(/head records seq 2, which is not an entry of this chain/);
    });

    it("reports a file truncated inside its last complete entry", () => {
      const file = writeEntries(3);
      truncateSync(file, statSync(file).size - 20);
      const result = verifyAuditLog({ dir, key });
      expect(result.ok).toBe(false);
      expect(result.firstBad?.reason).toMatch(/head records seq 3/);
    });

    it("fails every entry under a wrong key", () => {
      writeEntries(2);
      const result = verifyAuditLog({ dir, key: Buffer.alloc(32, 8) });
      expect(result.ok).toBe(false);
      expect(result.firstBad).toMatchObject({ line: 1 });
      expect(result.firstBad?.reason).toMatch(/wrong key/);
    });

    it("verifies up to the last complete entry after a crash mid-write, and again once reopened", () => {
      const now = clock();
      const file = writeEntries(3, now);
      // A crash mid-append: half a line, no newline, and the head still names entry 3.
      const torn = (lines(file)[2] as string).replace('"seq":3', '"seq":4').slice(0, 40);
      writeFileSync(file, readFileSync(file, "utf8") + torn);
      const crashed = verifyAuditLog({ dir, key });
      expect(crashed).toMatchObject({ ok: true, entries: 3, tornTail: { file, line: 4 } });

      const log = AuditLog.open({ dir, key, now });
      log.record({ type: "auth.failure" });
      const after = lines(file);
      expect(after[3]).toBe(torn);
      expect(JSON.parse(after[4] as string)).toMatchObject({
        seq: 4,
        type: "audit.recovered",
        details: { line: 4, file: path.basename(file) },
      });
      expect(verifyAuditLog({ dir, key })).toMatchObject({ ok: true, entries: 5 });
      expect(verifyAuditLog({ dir, key }).tornTail).toBeUndefined();
    });

    it("recovers a torn line in its own file when the log is reopened on a later day", () => {
      const file = writeEntries(2, clock("2026-12-06T10:00:00Z"));
      const torn = '{"seq":3,"ts":"2026-12-06T1';
      writeFileSync(file, readFileSync(file, "utf8") + torn);
      const log = AuditLog.open({ dir, key, now: clock("2026-12-07T08:00:00Z") });
      log.record({ type: "next.day" });
      const [first, second] = auditFiles(dir);
      expect(lines(first as string).slice(2)).toEqual([torn, expect.stringContaining('"audit.recovered"')]);
      expect(JSON.parse(lines(second as string)[0] as string)).toMatchObject({ seq: 4, type: "next.day" });
      expect(verifyAuditLog({ dir, key })).toMatchObject({ ok: true, entries: 4 });
    });

    it("does not accept a line replaced with garbage in the middle", () => {
      const file = writeEntries(3);
      const list = lines(file);
      list[1] = "{garbage";
      writeLines(file, list);
      const result = verifyAuditLog({ dir, key });
      expect(result.firstBad).toMatchObject({ line: 2 });
      expect(result.firstBad?.reason).toMatch(/not JSON/);
    });

    it("rotates daily and keeps the chain across files; a deleted day is found", () => {
      const log = AuditLog.open({ dir, key, now: clock("2026-12-06T23:58:30Z") });
      for (let i = 0; i < 6; i++) log.record({ type: "skill.run", target: `s${i}` });
      const files = auditFiles(dir);
      expect(files.map((f) => path.basename(f))).toEqual([
        "audit-2026-12-06.jsonl",
        "audit-2026-12-07.jsonl",
      ]);
      const firstOfSecond = JSON.parse(lines(files[1] as string)[0] as string) as { seq: number };
      expect(firstOfSecond.seq).toBe(2);
      expect(verifyAuditLog({ dir, key })).toMatchObject({ ok: true, entries: 6 });

      // Three days, then the middle one removed.
      const later = AuditLog.open({ dir, key, now: clock("2026-12-08T12:00:00Z") });
      later.record({ type: "skill.run" });
      rmSync(files[1] as string);
      const result = verifyAuditLog({ dir, key });
      expect(result.ok).toBe(false);
      expect(result.firstBad?.file).toMatch(/audit-2026-12-08\.jsonl$/);
      expect(result.firstBad?.reason).toMatch(/missing/);
    });

    it("verifies one day file on its own from where it starts", () => {
      const log = AuditLog.open({ dir, key, now: clock("2026-12-06T23:58:30Z") });
      for (let i = 0; i < 4; i++) log.record({ type: "skill.run" });
      const second = auditFiles(dir)[1] as string;
      expect(verifyAuditLog({ files: [second], key })).toMatchObject({ ok: true, entries: 3 });
    });

    it("reads the last entries, filtered by type", () => {
      const log = AuditLog.open({ dir, key, now: clock() });
      log.record({ type: "auth.failure", actor: keyActor("secret-key") });
      log.record({ type: "memory.write" });
      log.record({ type: "auth.ok" });
      expect(tailAuditLog(dir, 2).map((e) => e.type)).toEqual(["memory.write", "auth.ok"]);
      expect(tailAuditLog(dir, 5, "auth.").map((e) => e.type)).toEqual(["auth.failure", "auth.ok"]);
      expect(readFileSync(auditFiles(dir)[0] as string, "utf8")).not.toContain("secret-key");
    });

    it("hashes prompts and keys instead of writing them", () => {
      expect(hashText("hola")).toBe(
        "sha256:b221d9dbb083a7f33428d7c2a3c3198ae925614d70210e28716ccaa7cd4ddb79",
      );
      expect(keyActor("k")).toMatch(/^key:[0-9a-f]{8}$/);
    });

    it("counts a write that fails and reports it once, without throwing", () => {
      const errors: unknown[] = [];
      const log = AuditLog.open({ dir: path.join(dir, "gone"), key, onError: (e) => errors.push(e) });
      rmSync(path.join(dir, "gone"), { recursive: true });
      writeFileSync(path.join(dir, "gone"), "a file where the folder was");
      log.record({ type: "a" });
      log.record({ type: "b" });
      expect(log.failures).toBe(2);
      expect(errors).toHaveLength(1);
    });

    it("warns a logger once about failed writes", () => {
      const warnings: string[] = [];
      const logger = { warn: (_obj: object, msg: string) => void warnings.push(msg) };
      const log = AuditLog.open({ dir: path.join(dir, "gone"), key, logger });
      rmSync(path.join(dir, "gone"), { recursive: true });
      writeFileSync(path.join(dir, "gone"), "a file where the folder was");
      log.record({ type: "a" });
      log.record({ type: "b" });
      expect(log.failures).toBe(2);
      expect(warnings).toEqual(["the audit log cannot be written; events are being lost"]);
    });

    it("drops and counts events recorded after close, which is idempotent", () => {
      const log = AuditLog.open({ dir, key, now: clock() });
      log.record({ type: "before" });
      log.close();
      log.close();
      log.record({ type: "after" });
      expect(log.failures).toBe(1);
      expect(tailAuditLog(dir, 10).map((e) => e.type)).toEqual(["before"]);
    });

    describe("key", () => {
      it("creates a 32-byte key file with mode 0600 once, and reads it back", () => {
        const keyFile = path.join(dir, "keys", "audit.key");
        const first = loadAuditKey({ keyFile, env: {} });
        expect(first).toHaveLength(32);
        expect(statSync(keyFile).mode & 0o777).toBe(0o600);
        expect(loadAuditKey({ keyFile, env: {} }).equals(first)).toBe(true);
      });

      it("takes SARAI_AUDIT_KEY first, in hex or base64", () => {
        const keyFile = path.join(dir, "audit.key");
        const hex = "ab".repeat(32);
        expect(loadAuditKey({ keyFile, env: { SARAI_AUDIT_KEY: hex } }).toString("hex")).toBe(hex);
        const b64 = Buffer.alloc(32, 3).toString("base64");
        expect(loadAuditKey({ keyFile, env: { SARAI_AUDIT_KEY: b64 } }).equals(Buffer.alloc(32, 3))).toBe(
          true,
        );
        expect(() => statSync(keyFile)).toThrow();
      });

      it("refuses a short SARAI_AUDIT_KEY and a key file others can read", () => {
        const short = (() => {
          try {
            loadAuditKey({ keyFile: path.join(dir, "k"), env: { SARAI_AUDIT_KEY: "abcd" } });
          } catch (error) {
            return error;
          }
          return undefined;
        })();
        expect(short).toBeInstanceOf(AppError);
        expect((short as AppError).param).toBe("SARAI_AUDIT_KEY");

        const keyFile = path.join(dir, "loose.key");
        writeFileSync(keyFile, "cd".repeat(32));
        chmodSync(keyFile, 0o644);
        expect(() => loadAuditKey({ keyFile, env: {} })).toThrow(/readable by others \(mode 644\)/);
      });
    });
  });
});
