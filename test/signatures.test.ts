import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import * as openpgp from "openpgp";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assembleReflectionTemplates } from "../src/assemble.js";
import { builtinReflectionTexts, builtinTemplatesDir } from "../src/assistant/index.js";
import { loadConfig } from "../src/config/index.js";
import { generateSigningKey, signFile } from "../src/security/index.js";
import { startTestServer } from "./api-helpers.js";
import { createCliRunner, expectNoStackTrace } from "./cli-helpers.js";

let dataDir: string;
const run = createCliRunner(() => dataDir);
const keyDir = () => path.join(dataDir, "state", "keys");
const publicKey = () => path.join(keyDir(), "signing-key.pub.asc");

const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

/** A folder with templates that differ from the built-in ones (so they need a signature). */
async function makeTemplates(name: string): Promise<string> {
  const dir = path.join(dataDir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, "critique.md"),
    "Fix the answer.\n\nRequest:\n{{question}}\n\nAnswer:\n{{answer}}\n\nProblems:\n{{issues}}\n",
  );
  await writeFile(
    path.join(dir, "assess.md"),
    'Grade it.\n{{question}}\n{{answer}}\nJSON: {"score", "issues"}\n',
  );
  return dir;
}

/** One reflected chat turn on a server with these templates and this trusted key; returns the `sarai` details. */
async function reflectedTurn(templatesDir: string, signatures: { publicKey: string; required?: boolean }) {
  const ts = await startTestServer({
    reflect: { templatesDir, maxIterations: 1, selfAssessment: false },
    security: { signatures },
  });
  try {
    const response = await fetch(`${ts.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: ts.modelId,
        messages: [{ role: "user", content: "hola" }],
        reflect: true,
        max_tokens: 4,
        seed: 1,
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      sarai: { warnings?: string[]; reflection: { template_sha256: { critique: string; assess: string } } };
    };
    return body.sarai;
  } finally {
    await ts.close();
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "sarai-keys-"));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("signed prompt templates", () => {
  it("keeps the compiled-in templates byte for byte equal to the shipped files", async () => {
    for (const name of ["critique", "assess"] as const) {
      expect(await readFile(path.join(builtinTemplatesDir, `${name}.md`), "utf8")).toBe(
        builtinReflectionTexts[name],
      );
    }
  });

  describe("before sarai keys init", () => {
    it("uses unsigned templates and says in the turn that they are not verified", async () => {
      const dir = await makeTemplates("unsigned");
      const sarai = await reflectedTurn(dir, { publicKey: publicKey() });
      expect(sarai.reflection.template_sha256.critique).toBe(
        sha256(await readFile(path.join(dir, "critique.md"))),
      );
      expect(sarai.warnings).toHaveLength(2);
      expect(sarai.warnings?.[0]).toMatch(/critique\.md not verified: there is no signing key yet/);
    });

    it("refuses them with security.signatures.required, and logs why at warn", async () => {
      const dir = await makeTemplates("required");
      const lines: string[] = [];
      const logger = pino(
        { level: "warn" },
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            lines.push(chunk.toString("utf8"));
            done();
          },
        }),
      );
      const { config } = loadConfig({
        env: { HOME: dataDir, SARAI_PATHS_DATA_DIR: dataDir },
        cwd: dataDir,
        overrides: { reflect: { templatesDir: dir }, security: { signatures: { required: true } } },
      });
      const templates = await assembleReflectionTemplates(config, logger);
      expect(templates.critique.text).toBe(builtinReflectionTexts.critique);
      expect(templates.critique.trust).toBe("builtin");
      expect(templates.critique.warning).toMatch(/not used: security\.signatures\.required is on/);
      const logged = lines.map((line) => JSON.parse(line) as { level: number; msg: string; file: string });
      expect(logged.map((entry) => entry.file)).toEqual([
        path.join(dir, "critique.md"),
        path.join(dir, "assess.md"),
      ]);
      expect(
        logged.every((entry) => entry.level === 40 && /the built-in \w+ template was used/.test(entry.msg)),
      ).toBe(true);
    });

    it("sarai keys verify fails without a key, naming sarai keys init", async () => {
      const result = await run(["keys", "verify"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/error \[SIGNING_KEY_MISSING\].*sarai keys init/);
      expectNoStackTrace(result);
    });
  });

  describe("sarai keys init, sign and verify (real processes)", () => {
    let templatesDir: string;
    let fingerprint: string;

    beforeAll(async () => {
      templatesDir = await makeTemplates("signed");
    });

    it("init creates the key pair once, private key 0600, and prints the fingerprint", async () => {
      const result = await run(["keys", "init"]);
      expect(result.code).toBe(0);
      expectNoStackTrace(result);
      const match = /^fingerprint {2}((?:[0-9A-F]{4} ){9}[0-9A-F]{4})$/m.exec(result.stdout);
      expect(match).not.toBeNull();
      fingerprint = (match?.[1] ?? "").replaceAll(" ", "").toLowerCase();
      const key = await openpgp.readKey({ armoredKey: await readFile(publicKey(), "utf8") });
      expect(key.getFingerprint()).toBe(fingerprint);
      expect((await stat(path.join(keyDir(), "signing-key.asc"))).mode & 0o777).toBe(0o600);

      const again = await run(["keys", "init"]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/error \[SIGNING_KEY_EXISTS\].*--force/);
      expect(await readFile(publicKey(), "utf8")).toBe(key.armor());
    });

    it("sign writes <file>.asc for the configured templates, and verify passes", async () => {
      const env = { SARAI_REFLECT_TEMPLATES_DIR: templatesDir };
      const signed = await run(["keys", "sign"], { env });
      expect(signed.code).toBe(0);
      expect(signed.stdout).toContain(`signed  ${path.join(templatesDir, "critique.md")} -> critique.md.asc`);
      expect(signed.stdout).toContain(`signed  ${path.join(templatesDir, "assess.md")} -> assess.md.asc`);
      const verified = await run(["keys", "verify", "--json"], { env });
      expect(verified.code).toBe(0);
      const lines = verified.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { ok: boolean; fingerprint: string });
      expect(lines).toHaveLength(2);
      expect(lines.every((line) => line.ok && line.fingerprint === fingerprint)).toBe(true);
    });

    it("signs the shipped templates with the user's key (a copy of the shipped folder)", async () => {
      const shipped = path.join(dataDir, "shipped");
      await mkdir(shipped);
      for (const name of ["critique.md", "assess.md"])
        await copyFile(path.join(builtinTemplatesDir, name), path.join(shipped, name));
      const signed = await run([
        "keys",
        "sign",
        path.join(shipped, "critique.md"),
        path.join(shipped, "assess.md"),
      ]);
      expect(signed.code).toBe(0);
      const verified = await run([
        "keys",
        "verify",
        path.join(shipped, "critique.md"),
        path.join(shipped, "assess.md"),
      ]);
      expect(verified.code).toBe(0);
      expect(verified.stdout.match(/^ok {6}/gm)).toHaveLength(2);
    });

    it("a verified template is used, with no warning", async () => {
      const sarai = await reflectedTurn(templatesDir, { publicKey: publicKey() });
      expect(sarai.warnings).toBeUndefined();
      expect(sarai.reflection.template_sha256.critique).toBe(
        sha256(await readFile(path.join(templatesDir, "critique.md"))),
      );
    });

    it("a one-byte edit, another key's signature and a missing signature: not used, and the turn says why", async () => {
      const dir = await makeTemplates("tampered");
      const env = { SARAI_REFLECT_TEMPLATES_DIR: dir };
      expect((await run(["keys", "sign"], { env })).code).toBe(0);
      // critique.md: one byte changed after signing.
      const critique = path.join(dir, "critique.md");
      const bytes = await readFile(critique);
      bytes[0] = "f".charCodeAt(0);
      await writeFile(critique, bytes);
      // assess.md: signed again, by a key that is not the trusted one.
      const other = await generateSigningKey({ name: "mallory" });
      await signFile(path.join(dir, "assess.md"), {
        fingerprint: other.fingerprint,
        key: await openpgp.readPrivateKey({ armoredKey: other.privateKey }),
      });

      const verified = await run(["keys", "verify"], { env });
      expect(verified.code).toBe(1);
      expect(verified.stdout).toMatch(
        /^FAILED {2}.*critique\.md: critique\.md\.asc: the signature does not match/m,
      );
      expect(verified.stdout).toMatch(/^FAILED {2}.*assess\.md: assess\.md\.asc: signed by another key/m);
      expect(verified.stderr).toMatch(/2 signatures did not verify/);

      const sarai = await reflectedTurn(dir, { publicKey: publicKey() });
      expect(sarai.reflection.template_sha256).toEqual({
        critique: sha256(builtinReflectionTexts.critique),
        assess: sha256(builtinReflectionTexts.assess),
      });
      expect(sarai.warnings).toHaveLength(2);
      expect(sarai.warnings?.[0]).toMatch(
        /critique\.md not used: .*does not match the file's content.*the built-in critique template was used instead/,
      );
      expect(sarai.warnings?.[1]).toMatch(/assess\.md not used: .*signed by another key/);

      // No signature at all, once a key exists: not used either.
      await rm(`${critique}.asc`);
      const unsigned = await reflectedTurn(dir, { publicKey: publicKey() });
      expect(unsigned.warnings?.[0]).toMatch(/critique\.md not used: no signature .*sarai keys sign/);
      expect(unsigned.reflection.template_sha256.critique).toBe(sha256(builtinReflectionTexts.critique));
    });

    it("a file identical to the compiled-in template needs no signature", async () => {
      const dir = path.join(dataDir, "pristine");
      await mkdir(dir);
      for (const name of ["critique.md", "assess.md"])
        await copyFile(path.join(builtinTemplatesDir, name), path.join(dir, name));
      const sarai = await reflectedTurn(dir, { publicKey: publicKey() });
      expect(sarai.warnings).toBeUndefined();
    });

    it("init --force replaces the key: the old signatures stop verifying", async () => {
      const replaced = await run(["keys", "init", "--force"]);
      expect(replaced.code).toBe(0);
      expect(replaced.stdout.replaceAll(" ", "").toLowerCase()).not.toContain(fingerprint);
      const verified = await run(["keys", "verify"], { env: { SARAI_REFLECT_TEMPLATES_DIR: templatesDir } });
      expect(verified.code).toBe(1);
      expect(verified.stdout).toMatch(/signed by another key/);
    });
  });
});
