import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createLoopbackLearning } from "./loopback-learning.js";

let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A server on loopback that answers `POST /v1/lora/train` with `status` and `body`, and keeps what it was sent. */
async function serve(status: number, body: unknown) {
  const seen: { path: string | undefined; auth: string | undefined; body: unknown }[] = [];
  server = createServer((request: IncomingMessage, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    request.on("end", () => {
      seen.push({ path: request.url, auth: request.headers.authorization, body: JSON.parse(text || "null") });
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen };
}

describe("loopback learning", () => {
  it("asks the server for a run with the key and reads its report", async () => {
    const { url, seen } = await serve(200, {
      object: "lora.training",
      outcome: "promoted",
      reason: null,
      adapter_id: "lora-20261207-032000-abcdef",
    });
    const learning = createLoopbackLearning({ serverUrl: url, apiKey: "k-admin" });
    expect(await learning.train({ force: true }, new AbortController().signal)).toEqual({
      outcome: "promoted",
      adapterId: "lora-20261207-032000-abcdef",
    });
    expect(seen).toEqual([{ path: "/v1/lora/train", auth: "Bearer k-admin", body: { force: true } }]);
  });

  it("keeps a skip's reason", async () => {
    const { url } = await serve(200, { outcome: "skipped", reason: "2 new feedback since the last run" });
    const learning = createLoopbackLearning({ serverUrl: url });
    expect(await learning.train({ force: false }, new AbortController().signal)).toEqual({
      outcome: "skipped",
      reason: "2 new feedback since the last run",
    });
  });

  it("fails naming the server and what it said, or an answer without an outcome", async () => {
    const busy = await serve(409, { error: { message: "a LoRA training run is already going on" } });
    await expect(
      createLoopbackLearning({ serverUrl: busy.url }).train({ force: false }, new AbortController().signal),
    ).rejects.toThrow(/answered 409: a LoRA training run is already going on/);
    await new Promise((resolve) => server?.close(resolve));
    const odd = await serve(200, { outcome: "maybe" });
    await expect(
      createLoopbackLearning({ serverUrl: odd.url }).train({ force: false }, new AbortController().signal),
    ).rejects.toMatchObject({ code: "OUTPUT_INVALID" });
  });

  it("waits as long as the run takes, up to its own timeout, and stops when the loop does", async () => {
    server = createServer(() => {
      // Never answers: a run still going on.
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const url = `http://127.0.0.1:${port}`;
    await expect(
      createLoopbackLearning({ serverUrl: url, timeoutMs: 200 }).train(
        { force: false },
        new AbortController().signal,
      ),
    ).rejects.toMatchObject({ code: "UPSTREAM_TIMEOUT" });
    const stop = new AbortController();
    const pending = createLoopbackLearning({ serverUrl: url }).train({ force: false }, stop.signal);
    stop.abort(new Error("the loop is stopping"));
    await expect(pending).rejects.toThrow("the loop is stopping");
    server.closeAllConnections();
  });
});
