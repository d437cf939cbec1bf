import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runSandboxed, sandboxAvailable } from "./sandbox.js";

// CI installs Debian's bubblewrap (.ci/run); without it these fail loudly rather than skip.
describe("security", () => {
  describe("sandbox", () => {
    it("is available on this machine", () => {
      expect(sandboxAvailable()).toBe(true);
    });

    it("runs a program with its input and returns its output and exit code", async () => {
      const result = await runSandboxed({
        command: ["python3", "-I", "-"],
        input: "import sys\nprint(6 * 7)\nsys.exit(3)\n",
      });
      expect(result).toMatchObject({ code: 3, timedOut: false, stdout: "42\n" });
    });

    it("gives no network, a read-only file system and a private /tmp", async () => {
      const program = [
        "import socket, os",
        "try:",
        "    socket.create_connection(('127.0.0.1', 22), timeout=1); print('net')",
        "except OSError: print('no net')",
        "try:",
        "    open('/etc/sarai-sandbox-test', 'w'); print('wrote /etc')",
        "except OSError: print('read-only')",
        "open('/tmp/x', 'w').write('ok'); print(os.listdir('/tmp'))",
      ].join("\n");
      const result = await runSandboxed({ command: ["python3", "-I", "-"], input: program });
      expect(result.stdout.split("\n")).toEqual(["no net", "read-only", "['x']", ""]);
    });

    it("kills a program that runs past its time", async () => {
      const started = performance.now();
      const result = await runSandboxed({
        command: ["python3", "-I", "-c", "while True: pass"],
        timeoutMs: 300,
      });
      expect(result).toMatchObject({ code: null, timedOut: true });
      expect(performance.now() - started).toBeLessThan(10_000);
    });

    it("caps what it keeps of the output", async () => {
      const result = await runSandboxed({
        command: ["python3", "-I", "-c", "print('x' * 1000000)"],
        maxOutputBytes: 1000,
      });
      expect(result.stdout.length).toBe(1000);
    });

    it("mounts host folders under /tmp read-only or writable, runs in chdir with the env given", async () => {
      const root = await mkdtemp(path.join(tmpdir(), "sarai-sandbox-"));
      try {
        const readOnly = path.join(root, "ro");
        const writable = path.join(root, "rw");
        for (const dir of [readOnly, writable]) {
          await mkdir(dir);
          await writeFile(path.join(dir, "in.txt"), "hello");
        }
        const program = [
          "import os",
          "print(os.getcwd(), os.environ['GREETING'], open('in.txt').read())",
          "for d in ('ro', 'rw'):",
          "    try:",
          `        open(os.path.join(${JSON.stringify(root)}, d, 'out.txt'), 'w').write('x'); print(d, 'wrote')`,
          "    except OSError as e: print(d, 'refused')",
        ].join("\n");
        const result = await runSandboxed({
          command: ["python3", "-I", "-"],
          input: program,
          chdir: readOnly,
          env: { GREETING: "hi" },
          binds: [{ path: readOnly }, { path: writable, writable: true }],
        });
        expect(result.stdout.split("\n")).toEqual([`${readOnly} hi hello`, "ro refused", "rw wrote", ""]);
        await expect(readFile(path.join(writable, "out.txt"), "utf8")).resolves.toBe("x");
        await expect(readFile(path.join(readOnly, "out.txt"), "utf8")).rejects.toThrow(/ENOENT/);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });

    it("caps a process's data memory without breaking node", async () => {
      const program =
        "const kept = []; try { for (let i = 0; i < 64; i++) kept.push(Buffer.alloc(16 << 20, 1)); console.log('all'); } catch { console.log('capped at', kept.length * 16); }";
      const capped = await runSandboxed({
        command: ["node", "-e", program],
        memoryMb: 256,
        timeoutMs: 20_000,
      });
      // Past the cap an allocation throws, or V8 finds no room to collect garbage and aborts: either way no 1 GiB.
      expect(capped.stdout).not.toContain("all");
      expect(capped.code !== 0 || /^capped at \d+\n$/.test(capped.stdout)).toBe(true);
      const free = await runSandboxed({
        command: ["node", "-e", program],
        memoryMb: 4096,
        timeoutMs: 20_000,
      });
      expect(free.stdout).toBe("all\n");
    });
  });
});
