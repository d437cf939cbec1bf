import { afterEach, describe, expect, it } from "vitest";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "../../test/fake-openai-server.js";
import { AppError } from "../shared/index.js";
import { parseChatRequest } from "./request.js";
import { RemoteBackend } from "./remote-backend.js";
import type { ChatRequest } from "./types.js";

const never = new AbortController().signal;
// Not a real WebP: the backend passes bytes on as they are; preparing them is the vision service's job.
const image = { data: Buffer.from("RIFF\u0004\u0000\u0000\u0000WEBPVP8 "), mimeType: "image/webp" };
const withImage: ChatRequest = {
  messages: [
    { role: "system", content: "Describe images briefly." },
    { role: "user", content: "¿Qué ves?", images: [image, image] },
  ],
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(vision: boolean): Promise<{ fake: FakeOpenAiServer; backend: RemoteBackend }> {
  const fake = await startFakeOpenAiServer();
  cleanups.push(() => fake.close());
  const backend = new RemoteBackend({ baseUrl: fake.baseUrl, model: "vision-model", vision });
  cleanups.push(() => backend.dispose());
  return { fake, backend };
}

function caught(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected an error");
}

describe("remote backend", () => {
  describe("images", () => {
    it("sends a message's images as image_url parts after its text", async () => {
      const { fake, backend } = await setup(true);
      const response = await backend.chat(withImage, never);
      expect(response.text.length).toBeGreaterThan(0);
      const body = fake.requests[0]?.body as { messages: unknown[] };
      const url = `data:image/webp;base64,${image.data.toString("base64")}`;
      expect(body.messages).toEqual([
        { role: "system", content: "Describe images briefly." },
        {
          role: "user",
          content: [
            { type: "text", text: "¿Qué ves?" },
            { type: "image_url", image_url: { url } },
            { type: "image_url", image_url: { url } },
          ],
        },
      ]);
    });

    it("keeps plain string content for messages without images", async () => {
      const { fake, backend } = await setup(true);
      await backend.chat({ messages: [{ role: "user", content: "hola", images: [] }] }, never);
      expect((fake.requests[0]?.body as { messages: unknown[] }).messages).toEqual([
        { role: "user", content: "hola" },
      ]);
    });

    it("refuses images without vision: true before sending anything", async () => {
      const { fake, backend } = await setup(false);
      const error = await backend.chat(withImage, never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "VISION_UNSUPPORTED", param: "messages[1].content" });
      expect((error as Error).message).toMatch(/vision: true/);
      const streamed = backend.chatStream(withImage, never);
      await expect(streamed.next()).rejects.toMatchObject({ code: "VISION_UNSUPPORTED" });
      expect(fake.requests).toHaveLength(0);
      expect(fake.connections).toBe(0);
    });
  });
});

describe("parseChatRequest", () => {
  it("accepts images on user messages only", () => {
    expect(parseChatRequest(withImage)).toBe(withImage);
    const error = caught(() =>
      parseChatRequest({ messages: [{ role: "assistant", content: "mira", images: [image] }] }),
    );
    expect(error).toMatchObject({ code: "INVALID_REQUEST", param: "messages.0.images" });
  });

  it("refuses images that are not image bytes", () => {
    expect(
      caught(() =>
        parseChatRequest({
          messages: [
            { role: "user", content: "", images: [{ data: Buffer.alloc(0), mimeType: "image/png" }] },
          ],
        }),
      ),
    ).toMatchObject({ param: "messages.0.images.0.data" });
    expect(
      caught(() =>
        parseChatRequest({
          messages: [{ role: "user", content: "", images: [{ data: image.data, mimeType: "text/plain" }] }],
        }),
      ),
    ).toMatchObject({ param: "messages.0.images.0.mimeType" });
  });
});
