/**
 * The container image for real: deploy/docker/Dockerfile built with podman (Debian's package; a Docker engine does
 * not run on this machine), started under the hardening docker-compose.yml gives it, health-checked, asked for a
 * chat answer, stopped; then the compose file itself brings SARAi and Prometheus up and Prometheus scrapes SARAi
 * with the key from its credentials file.
 *
 * This machine reaches no image registry, so the base image `node:20-bookworm-slim` is a local stand-in built by
 * deploy/docker/local-base.sh (debootstrap bookworm + this machine's Node.js 20), and `prom/prometheus` one built
 * from Debian's prometheus binary. Grafana has no Debian package: its service is left out of `up` (its provisioning
 * files are checked in test/deploy.test.ts). This file runs after every other (vitest project `container`).
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "sarai-container-"));
const image = "localhost/sarai:ci";
const prometheusImage = "docker.io/prom/prometheus:v2.53.0";
const suffix = `${process.pid}`;
const key = `ci-key-${suffix}-0123456789abcdef`;
// runc, not crun (crun refuses this machine's hybrid cgroups), and no default ulimits (raising them is not
// permitted in this sandbox). Harmless elsewhere.
const env = { ...process.env, CONTAINERS_CONF: path.join(root, "test", "containers.conf") };

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { timeout?: number; env?: NodeJS.ProcessEnv } = {},
): Run {
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: "utf8",
    env: options.env ?? env,
    timeout: options.timeout ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`${command} ${args.join(" ")}: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function podman(...args: string[]): Run {
  return run("podman", args);
}

function ok(result: Run, what: string): string {
  if (result.status !== 0)
    throw new Error(
      `${what} exited ${String(result.status)}:\n${result.stderr.slice(-4000)}${result.stdout.slice(-2000)}`,
    );
  return result.stdout;
}

/** Runs a long command without blocking the worker (vitest's hook timers keep running). */
function runAsync(command: string, args: string[], timeout: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-200_000)));
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-200_000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error : new Error(String(error));
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${last.message})` : ""}`);
}

/** The CA bundle this machine trusts (its npm registry may sit behind a TLS-intercepting proxy). */
const caBundle = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"].find(existsSync);

const containers: string[] = [];
const volumes: string[] = [];

beforeAll(async () => {
  const version = spawnSync("podman", ["--version"], { encoding: "utf8" });
  if (version.status !== 0)
    throw new Error(
      "podman is not installed: apt-get install podman runc debootstrap podman-compose (.ci/run does)",
    );
  ok(
    await runAsync("bash", [path.join(root, "deploy", "docker", "local-base.sh"), "podman"], 600_000),
    "local-base.sh",
  );
  const build = await runAsync(
    "podman",
    [
      "build",
      "--pull=never",
      // The docker format keeps HEALTHCHECK (the OCI format has no field for it).
      "--format",
      "docker",
      "--network",
      "host",
      ...(caBundle ? ["--secret", `id=ca,src=${caBundle}`] : []),
      "-f",
      "deploy/docker/Dockerfile",
      "-t",
      image,
      ".",
    ],
    1_500_000,
  );
  ok(build, "podman build");

  // Prometheus stand-in: Debian's prometheus binary where the official image has it, run as nobody.
  const context = path.join(tmp, "prometheus-image");
  ok(run("mkdir", ["-p", context]), "mkdir");
  const binary = ["/usr/bin/prometheus", "/bin/prometheus"].find(existsSync);
  if (!binary) throw new Error("no prometheus binary: apt-get install prometheus (.ci/run does)");
  copyFileSync(binary, path.join(context, "prometheus"));
  writeFileSync(
    path.join(context, "Containerfile"),
    [
      "FROM docker.io/library/node:20-bookworm-slim",
      "COPY prometheus /bin/prometheus",
      "RUN chmod 0755 /bin/prometheus && mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus",
      "USER nobody",
      "WORKDIR /prometheus",
      'ENTRYPOINT ["/bin/prometheus"]',
      "",
    ].join("\n"),
  );
  ok(
    await runAsync("podman", ["build", "--pull=never", "-t", prometheusImage, context], 300_000),
    "prometheus image",
  );
}, 1_800_000);

afterAll(() => {
  for (const name of containers) spawnSync("podman", ["rm", "-f", "-t", "0", name], { env, stdio: "ignore" });
  for (const name of volumes) spawnSync("podman", ["volume", "rm", "-f", name], { env, stdio: "ignore" });
  rmSync(tmp, { recursive: true, force: true });
});

describe("container image", () => {
  it("runs as the sarai user, exposes 8080 and health-checks /ready with its script", () => {
    const [config] = JSON.parse(ok(podman("image", "inspect", image), "inspect")) as {
      Config: {
        User: string;
        ExposedPorts: Record<string, unknown>;
        Healthcheck?: { Test: string[] };
        Cmd: string[];
      };
      // podman reports the image's HEALTHCHECK beside Config, docker inside it.
      Healthcheck?: { Test: string[] };
    }[];
    expect(config?.Config.User).toBe("sarai");
    expect(Object.keys(config?.Config.ExposedPorts ?? {})).toEqual(["8080/tcp"]);
    expect((config?.Healthcheck ?? config?.Config.Healthcheck)?.Test).toEqual([
      "CMD",
      "node",
      "/opt/sarai/healthcheck.mjs",
    ]);
    expect(config?.Config.Cmd).toEqual(["/usr/bin/supervisord", "-n", "-c", "/etc/supervisor/sarai.conf"]);
    // The dev dependencies were pruned and the proxy's CA (a build secret) left no trace in a layer.
    const listing = ok(
      podman(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        image,
        "-c",
        "ls /opt/sarai/node_modules; ls /run/secrets 2>&1; echo END",
      ),
      "ls",
    );
    expect(listing).toContain("better-sqlite3");
    expect(listing).toContain("node-llama-cpp");
    // (typescript stays: node-llama-cpp names it an optional peer, which npm prune keeps.)
    expect(listing).not.toMatch(/^vitest$/m);
    expect(listing).not.toMatch(/^eslint$/m);
    expect(listing).not.toMatch(/^vite$/m);
    expect(listing).not.toMatch(/^ca$/m);
  });

  it("starts under compose's hardening, becomes healthy, answers with a key, and stops cleanly", async () => {
    const name = `sarai-ci-${suffix}`;
    const state = `sarai-ci-state-${suffix}`;
    containers.push(name);
    volumes.push(state, `sarai-ci-models-${suffix}`);
    const port = await freePort();
    ok(
      podman(
        "run",
        "-d",
        "--name",
        name,
        // docker-compose.yml's sarai service: read-only root, /tmp in memory, no capabilities, no new privileges.
        "--read-only",
        "--tmpfs",
        "/tmp:size=512m",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-e",
        `SARAI_SERVER_API_KEYS=${key}`,
        // No registry to pull the default model from: the generated demo model, at once.
        "-e",
        "SARAI_MODELS_AUTO_PULL=false",
        "-p",
        `127.0.0.1:${port}:8080`,
        "-v",
        `${state}:/data/state`,
        "-v",
        `sarai-ci-models-${suffix}:/data/models`,
        image,
      ),
      "podman run",
    );
    // The image's own HEALTHCHECK, run by podman: healthy once /ready answers 200.
    await until("healthy", 300_000, () =>
      podman("healthcheck", "run", name).status === 0 ? true : undefined,
    );
    const started = podman("logs", name);
    expect(started.stdout + started.stderr).toContain("and on every interface (server.host 0.0.0.0)");
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/ready`)).status).toBe(401);
    const ready = await fetch(`${base}/ready`, { headers: { authorization: `Bearer ${key}` } });
    expect(ready.status).toBe(200);
    const chat = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "sarai", messages: [{ role: "user", content: "hola" }], max_tokens: 8 }),
    });
    expect(chat.status).toBe(200);
    const body = (await chat.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    expect(await metrics.text()).toContain("sarai_http_requests_total");

    // supervisord is PID 1 and runs both programs, all as the unprivileged user.
    // (The slim image has no ps: /proc read by the shell, one "pid user command line" per process.)
    const listProcesses =
      'for p in /proc/[0-9]*; do [ -r "$p/cmdline" ] && echo "${p#/proc/} $(stat -c %U "$p") $(tr "\\0" " " < "$p/cmdline")"; done';
    const processes = ok(podman("exec", name, "sh", "-c", listProcesses), "processes")
      .trim()
      .split("\n")
      .filter((line) => line.trim().split(" ").length > 2);
    const byPid = processes.map((line) => line.trim().split(/\s+/));
    expect(
      byPid
        .find((fields) => fields[0] === "1")
        ?.slice(2)
        .join(" "),
    ).toContain("supervisord");
    expect(processes.some((line) => line.includes("dist/cli/main.js serve"))).toBe(true);
    expect(processes.some((line) => line.includes("dist/cli/loop-main.js loop"))).toBe(true);
    expect(new Set(byPid.map((fields) => fields[1]))).toEqual(new Set(["sarai"]));
    // The read-only root holds: only the volumes and /tmp are writable.
    expect(podman("exec", name, "sh", "-c", "touch /opt/sarai/x").status).not.toBe(0);
    expect(podman("exec", name, "sh", "-c", "touch /data/state/x && rm /data/state/x").status).toBe(0);

    ok(podman("stop", "-t", "40", name), "podman stop");
    const exit = ok(podman("inspect", "--format", "{{.State.ExitCode}}", name), "inspect").trim();
    expect(exit).toBe("0");
    // What SARAi stored outlives the container, in its volume.
    const stored = ok(
      podman("run", "--rm", "--entrypoint", "ls", "-v", `${state}:/data/state`, image, "/data/state"),
      "ls state",
    );
    expect(stored).toMatch(/\.db$/m);
  }, 600_000);

  it("refuses to listen on 0.0.0.0 without an API key, and says so in its log", async () => {
    const name = `sarai-ci-nokey-${suffix}`;
    containers.push(name);
    ok(podman("run", "-d", "--name", name, "-e", "SARAI_MODELS_AUTO_PULL=false", image), "podman run");
    const log = await until("the refusal in the log", 120_000, () => {
      const logs = podman("logs", name);
      const text = logs.stdout + logs.stderr;
      return /server\.apiKeys: required/.test(text) ? text : undefined;
    });
    expect(log).toMatch(
      /server\.apiKeys: required when server\.host \(0\.0\.0\.0\) is not a loopback address/,
    );
    expect(podman("healthcheck", "run", name).status).not.toBe(0);
  }, 300_000);
});

describe("docker-compose.yml", () => {
  it("brings up SARAi and Prometheus, which scrapes SARAi with the key and loads the alert rules", async () => {
    const compose = "deploy/docker/docker-compose.yml";
    const project = `saraici${suffix}`;
    const ports = { sarai: await freePort(), prometheus: await freePort() };
    const composeEnv = {
      ...env,
      SARAI_API_KEY: key,
      SARAI_PORT: String(ports.sarai),
      PROMETHEUS_PORT: String(ports.prometheus),
    };
    ok(run("podman", ["tag", image, "localhost/sarai:latest"]), "tag");
    const compose_ = (...args: string[]) =>
      run("podman-compose", ["-p", project, "-f", compose, ...args], { env: composeEnv, timeout: 300_000 });
    try {
      ok(compose_("up", "-d", "sarai", "prometheus"), "podman-compose up");
      const prometheus = `http://127.0.0.1:${ports.prometheus}`;
      const target = await until("Prometheus scraping SARAi", 420_000, async () => {
        const response = await fetch(`${prometheus}/api/v1/targets`);
        const { data } = (await response.json()) as {
          data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] };
        };
        const sarai = data.activeTargets.find((t) => t.labels.job === "sarai");
        return sarai?.health === "up" ? sarai : undefined;
      });
      expect(target.lastError).toBe("");
      const rules = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as {
        data: { groups: { rules: { name: string }[] }[] };
      };
      const names = rules.data.groups.flatMap((group) => group.rules.map((rule) => rule.name));
      const alerts = readFileSync(path.join(root, "deploy", "prometheus", "alerts.yml"), "utf8");
      const expected = [...alerts.matchAll(/^\s*- alert: (\S+)$/gm)].map((m) => m[1]);
      expect(expected.length).toBeGreaterThan(5);
      expect(names.sort()).toEqual([...expected].sort());
      // A real series from the scrape, not only the target's health.
      const query = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent('up{job="sarai"}')}`);
      const result = (await query.json()) as { data: { result: { value: [number, string] }[] } };
      expect(result.data.result[0]?.value[1]).toBe("1");
    } finally {
      compose_("down", "-v", "-t", "10");
    }
  }, 900_000);
});
