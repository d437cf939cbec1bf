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
  });
});
