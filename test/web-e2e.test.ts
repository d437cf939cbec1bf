import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobStore } from "../src/proactive/index.js";
import { isStale } from "./build-freshness.js";
import { startCliServer, type CliServer } from "./cli-process.js";
import { ensureTestModel, slowModelOptions } from "./models.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const screenshots = path.join(root, ".cache", "screenshots");
const apiKey = "e2e-web-key-0123456789";
const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

interface FactJson {
  id: number;
  subject: string;
  relation: string;
  object: string;
}

/**
 * Builds the UI into dist/ui/ when `npm run build` has not (CI's `npm ci` runs it through prepare), or when a
 * file under web/ changed since the last build.
 */
async function ensureWebBuild(): Promise<void> {
  if (!(await isStale([path.join(root, "dist", "ui", "index.html")], [path.join(root, "web")]))) return;
  await promisify(execFile)(
    process.execPath,
    [path.join(root, "node_modules", "vite", "bin", "vite.js"), "build", "--config", "web/vite.config.ts"],
    { cwd: root },
  );
}

describe("web UI", () => {
  let dir: string;
  let serve: CliServer | undefined;
  let base = "";
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  const api = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    expect(response.ok, `${method} ${route}: ${response.status} ${text}`).toBe(true);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  };

  /** Screenshots at desktop and phone width; with `subject`, scrolled so that it is in view at each. */
  const shoot = async (name: string, subject?: Locator) => {
    for (const [label, size] of [
      ["desktop", desktop],
      ["phone", phone],
    ] as const) {
      await page.setViewportSize(size);
      await subject?.scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(screenshots, `${name}-${label}.png`), fullPage: false });
    }
    await page.setViewportSize(desktop);
  };

  /** A fresh conversation with the given generation settings (0 = greedy: the test model does not stop early). */
  const newChat = async (settings: { temperature?: string; maxTokens?: string } = {}) => {
    await page.goto(`${base}/#/chat`);
    await page.getByRole("button", { name: "New chat" }).click();
    await page.locator("details.settings summary").click();
    await page.getByLabel(/^Temperature/).fill(settings.temperature ?? "");
    await page.getByLabel(/^Max tokens/).fill(settings.maxTokens ?? "");
    await page.locator("details.settings summary").click();
  };

  const lastAnswer = () => page.getByTestId("message-assistant").last();

  const send = async (text: string) => {
    const box = page.getByLabel("Message", { exact: true });
    await box.fill(text);
    await box.press("Enter");
  };

  beforeAll(async () => {
    await ensureWebBuild();
    await mkdir(screenshots, { recursive: true });
    dir = await mkdtemp(path.join(os.tmpdir(), "sarai-web-e2e-"));
    // The larger test model: greedy, it writes hundreds of tokens over a second or more, so the stream is seen.
    const model = await ensureTestModel(slowModelOptions);
    serve = await startCliServer({
      dataDir: dir,
      args: ["serve", "--port", "0", "--model", model],
      env: { SARAI_LOG_FILE: "false", SARAI_SERVER_API_KEYS: apiKey, SARAI_INFERENCE_THREADS: "1" },
      startTimeoutMs: 90_000,
    });
    base = serve.url;
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
    context = await browser.newContext({ viewport: desktop });
    page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("serves the UI under its Content-Security-Policy and asks for the API key, refusing a wrong one", async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/text\/html/);
    expect(index.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    await page.goto(`${base}/`);
    const key = page.getByLabel("API key");
    await key.waitFor();
    await shoot("login");
    await key.fill("not-the-key-at-all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("refused that key");
    await key.fill(apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "New chat" }).waitFor();
    // The key is in memory only: nothing in localStorage, and sessionStorage only when asked.
    // (Expressions as strings: this file is typechecked without the DOM library.)
    expect(await page.evaluate("[localStorage.length, sessionStorage.length]")).toEqual([0, 0]);
  });

  it("streams an answer: the text grows chunk by chunk, then the turn is done and listed", async () => {
    await newChat({ temperature: "0", maxTokens: "400" });
    // Records the answer's length at every change of the page, in the page (polling from here is too coarse).
    await page.evaluate(`
      window.__lengths = [];
      new MutationObserver(() => {
        const answer = [...document.querySelectorAll("[data-testid=message-assistant] .markdown")].pop();
        if (answer !== undefined) window.__lengths.push(answer.textContent.length);
      }).observe(document.querySelector(".messages"), { subtree: true, childList: true, characterData: true });
    `);
    await send("hi");
    const answer = lastAnswer();
    await expect.poll(() => answer.getAttribute("data-status"), { timeout: 30_000 }).toBe("done");
    const lengths = new Set(await page.evaluate<number[]>("window.__lengths"));
    // Several distinct non-empty lengths before the end: it arrived, and was shown, in pieces.
    expect([...lengths].filter((n) => n > 0).length).toBeGreaterThan(3);
    expect(((await answer.locator(".markdown").textContent()) ?? "").length).toBeGreaterThan(50);
    await expect.poll(() => page.getByTestId("conversation-item").first().textContent()).toContain("hi");
    await shoot("chat");
  });

  it("keeps conversations on the server: regenerate, edit and resend, rename, search and delete", async () => {
    interface Listed {
      data: { id: string; title: string }[];
    }
    interface Full {
      messages: { role: string; content: string }[];
    }
    await newChat({ maxTokens: "12" });
    await send("first question");
    await expect.poll(() => lastAnswer().getAttribute("data-status")).toBe("done");
    const found = (await api<Listed>("GET", "/v1/conversations?q=first%20question")).data;
    expect(found.map((c) => c.title)).toEqual(["first question"]);
    const id = found[0]?.id ?? "";
    const stored = () => api<Full>("GET", `/v1/conversations/${id}`);
    expect((await stored()).messages.map((m) => m.role)).toEqual(["user", "assistant"]);

    // Regenerate: the old answer goes (from the store too), a new one is written and saved.
    await lastAnswer().getByRole("button", { name: "Regenerate" }).click();
    await expect.poll(() => lastAnswer().getAttribute("data-status")).toBe("done");
    await expect
      .poll(async () => (await stored()).messages.map((m) => m.role))
      .toEqual(["user", "assistant"]);
    expect(await page.getByTestId("message-assistant").count()).toBe(1);

    // Edit and resend: the user message and everything after it are replaced.
    await page.getByTestId("message-user").getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Edit message").fill("second question");
    await page.getByRole("button", { name: "Save and resend" }).click();
    await expect.poll(() => page.getByTestId("message-user").textContent()).toContain("second question");
    await expect.poll(() => lastAnswer().getAttribute("data-status")).toBe("done");
    await expect
      .poll(async () =>
        (await stored()).messages.map((m) => `${m.role}:${m.role === "user" ? m.content : ""}`),
      )
      .toEqual(["user:second question", "assistant:"]);

    // Rename, search, delete.
    const item = page.getByTestId("conversation-item").filter({ hasText: "first question" });
    await item.getByRole("button", { name: "Rename first question" }).click();
    await page.getByLabel("New title").fill("Renamed chat");
    await page.getByLabel("New title").press("Enter");
    await expect
      .poll(async () => (await api<Listed>("GET", "/v1/conversations")).data.find((c) => c.id === id)?.title)
      .toBe("Renamed chat");
    await page.getByLabel("Search conversations").fill("Renamed");
    await expect
      .poll(() => page.getByTestId("conversation-item").allTextContents())
      .toEqual([expect.stringContaining("Renamed chat")]);
    await page.getByRole("button", { name: "Delete Renamed chat" }).click();
    await page.getByRole("button", { name: "Really delete Renamed chat" }).click();
    await expect.poll(() => page.getByTestId("conversation-item").count()).toBe(0);
    expect((await api<Listed>("GET", "/v1/conversations")).data.some((c) => c.id === id)).toBe(false);
    await page.getByLabel("Search conversations").fill("");
  });

  it("stops an answer mid-stream with the Stop button and keeps the text so far", async () => {
    await newChat({ temperature: "0", maxTokens: "4000" });
    await send("hi");
    const answer = lastAnswer();
    await expect
      .poll(async () => ((await answer.locator(".markdown").textContent()) ?? "").length)
      .toBeGreaterThan(20);
    await page.getByRole("button", { name: "Stop" }).click();
    await expect.poll(() => answer.getAttribute("data-status")).toBe("stopped");
    const kept = (await answer.locator(".markdown").textContent()) ?? "";
    await page.waitForTimeout(500);
    expect((await answer.locator(".markdown").textContent()) ?? "").toBe(kept);
    // 4000 greedy tokens take many seconds: stopped well before the end.
    expect(kept.length).toBeLessThan(3000);
    await page.getByRole("button", { name: "Send" }).waitFor();
  });

  it("stops an answer with Escape", async () => {
    await newChat({ temperature: "0", maxTokens: "4000" });
    await send("hi");
    const answer = lastAnswer();
    await expect
      .poll(async () => ((await answer.locator(".markdown").textContent()) ?? "").length)
      .toBeGreaterThan(0);
    await page.keyboard.press("Escape");
    await expect.poll(() => answer.getAttribute("data-status")).toBe("stopped");
  });

  it("sends an attached image as an image_url part and shows the server's refusal clearly", async () => {
    await newChat({ maxTokens: "8" });
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#c00" } })
      .png()
      .toBuffer();
    await page.locator("#image-input").setInputFiles({ name: "red.png", mimeType: "image/png", buffer: png });
    await page.getByTestId("attached-image").waitFor();
    const request = page.waitForRequest((r) => r.url().endsWith("/v1/chat/completions"));
    await send("What is in this picture?");
    const body = (await request).postDataJSON() as {
      messages: { role: string; content: string | { type: string; image_url?: { url: string } }[] }[];
    };
    const last = body.messages[body.messages.length - 1];
    expect(last?.role).toBe("user");
    expect(last?.content).toEqual([
      { type: "text", text: "What is in this picture?" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${png.toString("base64")}` } },
    ]);
    // A local llama.cpp model sees no images: the server's 400 is shown in the turn, code included.
    const error = page.getByTestId("message-error").last();
    await expect.poll(() => error.textContent()).toMatch(/vision_unsupported/);
    expect(await error.getAttribute("role")).toBe("alert");
  });

  it("shows the facts a turn recalled beside the answer", async () => {
    const fact = await api<FactJson>("POST", "/v1/memory/facts", {
      subject: "Lucía",
      relation: "likes",
      object: "el chocolate negro",
    });
    await newChat({ maxTokens: "16" });
    await send("¿Qué sabes de Lucía?");
    await expect.poll(() => lastAnswer().getAttribute("data-status")).toBe("done");
    const recalled = lastAnswer().getByTestId("facts-recalled");
    await expect.poll(() => recalled.textContent()).toContain("Lucía likes el chocolate negro");
    expect(fact.id).toBeGreaterThan(0);
  });

  it("gives feedback with a correction on an answer, and GET /v1/feedback lists it with the response id", async () => {
    await newChat({ maxTokens: "16" });
    await send("Tell me a joke");
    const answer = lastAnswer();
    await expect.poll(() => answer.getAttribute("data-status")).toBe("done");
    await answer.getByRole("button", { name: "Bad answer" }).click();
    await answer.getByLabel(/What should it have said/).fill("A short, funny joke.");
    await answer.getByRole("button", { name: "Send feedback" }).click();
    await expect.poll(() => answer.getByRole("status").textContent()).toContain("feedback recorded");
    const listed = await api<{
      data: {
        rating: string;
        prompt: string;
        correction: string | null;
        response_id: string | null;
        answer: string;
      }[];
    }>("GET", "/v1/feedback");
    const entry = listed.data.find((f) => f.prompt === "Tell me a joke");
    expect(entry).toMatchObject({ rating: "down", correction: "A short, funny joke." });
    expect(entry?.response_id).toMatch(/^chatcmpl-/);
    // The answer as the page received and stored it: its rendered text drops Markdown syntax (`code`, escapes),
    // which the tiny test model writes by chance.
    const [chat] = (await api<{ data: { id: string }[] }>("GET", "/v1/conversations?q=Tell%20me%20a%20joke"))
      .data;
    const stored = async () =>
      (await api<{ messages: { role: string; content: string }[] }>("GET", `/v1/conversations/${chat?.id}`))
        .messages;
    await expect.poll(async () => (await stored()).map((m) => m.role)).toEqual(["user", "assistant"]);
    const shown = (await stored())[1]?.content ?? "";
    expect(shown.trim()).not.toBe("");
    expect(entry?.answer.trim()).toBe(shown.trim());
  });

  it("edits and forgets a fact on the memory page", async () => {
    const fact = await api<FactJson>("POST", "/v1/memory/facts", {
      subject: "Tomás",
      relation: "lives_in",
      object: "Gijón",
    });
    await page.goto(`${base}/#/memory`);
    await page.getByLabel("Filter facts").fill("Tomás");
    const row = page.locator(`[data-fact-id="${fact.id}"]`);
    await row.waitFor();
    await shoot("memory");
    await row.getByRole("button", { name: /^Edit/ }).click();
    const editRow = page.getByTestId("fact-edit-row");
    await editRow.getByLabel("Object").fill("Oviedo");
    await editRow.getByRole("button", { name: "Save" }).click();
    const edited = page.getByTestId("fact-row").filter({ hasText: "Oviedo" });
    await edited.waitFor();
    let facts = await api<{ data: FactJson[] }>("GET", "/v1/memory/facts?subject=Tomás");
    expect(facts.data.map((f) => f.object)).toEqual(["Oviedo"]);

    await edited.getByRole("button", { name: /^Forget/ }).click();
    await expect.poll(() => page.getByTestId("fact-row").filter({ hasText: "Tomás" }).count()).toBe(0);
    facts = await api<{ data: FactJson[] }>("GET", "/v1/memory/facts?subject=Tomás");
    expect(facts.data).toEqual([]);
  });

  it("receives a notification live over the stream", async () => {
    await page.goto(`${base}/#/notifications`);
    await expect.poll(() => page.getByTestId("notification-state").textContent()).toMatch(/^Live/);
    // Delivered as `sarai loop` in another process would: into the loop database, which the stream polls.
    const store = JobStore.open({ file: path.join(dir, "state", "loop.db") });
    try {
      store.notify({
        userId: "anonymous",
        kind: "suggestion",
        text: "Lucía's birthday is on Friday <b>bold?</b>",
        data: null,
        createdAt: Date.now(),
      });
    } finally {
      store.close();
    }
    const item = page.getByTestId("notification").filter({ hasText: "Lucía's birthday is on Friday" });
    await item.waitFor({ timeout: 10_000 });
    expect(await item.locator(".notification-text").textContent()).toBe(
      "Lucía's birthday is on Friday <b>bold?</b>",
    );
    await page.getByTestId("toast").waitFor();
    await shoot("notifications");
  });

  it("never runs script injected into a fact or a stored answer, and shows it as text", async () => {
    const payloads = ["<img src=x onerror=window.__pwned=1>", "<script>window.__pwned=1</script>"];
    for (const object of payloads)
      await api("POST", "/v1/memory/facts", { subject: "Mallory", relation: "likes", object });
    await page.goto(`${base}/#/memory`);
    await page.getByLabel("Filter facts").fill("Mallory");
    await expect.poll(() => page.getByTestId("fact-row").count()).toBe(2);
    const objects = await page.locator("[data-testid=fact-row] .fact-object").allTextContents();
    expect(objects.sort()).toEqual([...payloads].sort());

    // A model answer carrying the payloads, as the conversation store keeps it, rendered as Markdown.
    const conversation = await api<{ id: string }>("POST", "/v1/conversations", { title: "Injection" });
    await api("POST", `/v1/conversations/${conversation.id}/messages`, { role: "user", content: "hola" });
    const answer = `Here: ${payloads[0]} and\n\n${payloads[1]}\n\n[click](javascript:window.__pwned=1)`;
    await api("POST", `/v1/conversations/${conversation.id}/messages`, {
      role: "assistant",
      content: answer,
    });
    await page.goto(`${base}/#/chat`);
    await page.getByRole("button", { name: "Injection", exact: true }).click();
    const shown = lastAnswer().locator(".markdown");
    await expect.poll(() => shown.textContent()).toContain(payloads[0]);
    expect(await shown.textContent()).toContain(payloads[1]);
    expect(await shown.locator("img, script, a").count()).toBe(0);
    // And the recalled facts beside a live turn.
    await newChat({ maxTokens: "8" });
    await send("¿Qué le gusta a Mallory?");
    await expect.poll(() => lastAnswer().getAttribute("data-status")).toBe("done");
    await expect.poll(() => lastAnswer().getByTestId("facts-recalled").textContent()).toContain(payloads[0]);
    await page.waitForTimeout(300);
    expect(await page.evaluate("typeof window.__pwned")).toBe("undefined");
  });

  it("shows a fact's earlier values under History, newest first, and hides them again from the keyboard", async () => {
    await api("POST", "/v1/memory/facts", { subject: "Inés", relation: "lives_in", object: "Madrid" });
    await api("POST", "/v1/memory/facts", { subject: "Inés", relation: "lives_in", object: "Sevilla" });
    await page.goto(`${base}/#/memory`);
    await page.getByLabel("Filter facts").fill("Inés");
    // The second change through the page: lives_in holds one value, so the store closes Sevilla into history.
    await page.getByRole("button", { name: "Edit Inés lives_in Sevilla" }).click();
    await page.getByTestId("fact-edit-row").getByLabel("Object").fill("Bilbao");
    await page.getByTestId("fact-edit-row").getByRole("button", { name: "Save" }).click();
    const history = page.getByRole("button", { name: "History of Inés lives_in Bilbao" });
    await history.waitFor();
    expect(await page.getByTestId("fact-row").count()).toBe(1);
    expect(await history.getAttribute("aria-expanded")).toBe("false");

    await history.click();
    expect(await history.getAttribute("aria-expanded")).toBe("true");
    const rows = page.getByTestId("history-row");
    await expect.poll(() => page.locator(".history-value").allTextContents()).toEqual(["Sevilla", "Madrid"]);
    const panel = page.locator(`#${(await history.getAttribute("aria-controls")) ?? "missing"}`);
    expect(await panel.getByTestId("history-row").count()).toBe(2);
    // Each earlier value with when it held (both ends) and where it came from.
    const first = rows.first();
    expect(await first.locator("time").count()).toBe(2);
    expect(await first.locator("td").last().textContent()).toBe("manual");
    const times = await Promise.all(
      (await rows.locator("time").all()).map(async (time) => (await time.getAttribute("datetime")) ?? ""),
    );
    const [sevillaFrom, sevillaTo, madridFrom, madridTo] = times.map((iso) => Date.parse(iso));
    expect(times).toHaveLength(4);
    expect(madridFrom).toBeLessThanOrEqual(madridTo ?? 0);
    expect(madridTo).toBeLessThanOrEqual(sevillaFrom ?? 0);
    expect(sevillaFrom).toBeLessThanOrEqual(sevillaTo ?? 0);
    await shoot("memory-history");

    await history.focus();
    await page.keyboard.press("Enter");
    expect(await history.getAttribute("aria-expanded")).toBe("false");
    await expect.poll(() => rows.count()).toBe(0);
    await page.keyboard.press("Space");
    await expect.poll(() => rows.count()).toBe(2);
  });

  it("imports an export file from the file input, into this user, and refuses an invalid one whole", async () => {
    const exported = {
      format: "sarai-memory",
      version: 1,
      user: "someone-else",
      exported_at: "2025-01-01T00:00:00.000Z",
      facts: [
        { subject: "Óscar", relation: "likes", object: "el ajedrez" },
        { subject: "Óscar", relation: "lives_in", object: "León" },
        {
          subject: "Óscar",
          relation: "lives_in",
          object: "Burgos",
          valid_from: "2020-01-01T00:00:00.000Z",
          valid_to: "2024-01-01T00:00:00.000Z",
        },
      ],
    };
    await page.goto(`${base}/#/memory`);
    const picker = page.getByLabel("Import an export (JSON)");
    expect(await picker.getAttribute("accept")).toContain("application/json");
    const imported = page.waitForResponse((r) => r.url().endsWith("/v1/memory/import"));
    await picker.setInputFiles({
      name: "oscar.json",
      mimeType: "application/json",
      buffer: Buffer.from(JSON.stringify(exported)),
    });
    expect((await imported).status()).toBe(200);
    await expect
      .poll(() => page.locator(".page .status-line").textContent())
      .toBe("Imported oscar.json: 2 new facts, 0 already known, 1 earlier value.");
    await page.getByLabel("Filter facts").fill("Óscar");
    await expect
      .poll(async () => (await page.locator("[data-testid=fact-row] .fact-object").allTextContents()).sort())
      .toEqual(["León", "el ajedrez"]);
    const stored = await api<{ data: (FactJson & { valid_to: string | null })[] }>(
      "GET",
      "/v1/memory/facts?subject=%C3%93scar&include_history=true",
    );
    expect(stored.data.map((f) => [f.object, f.valid_to]).sort()).toEqual([
      ["Burgos", "2024-01-01T00:00:00.000Z"],
      ["León", null],
      ["el ajedrez", null],
    ]);
    // The file's `user` named where it came from, not where it goes.
    const elsewhere = await api<{ data: FactJson[] }>(
      "GET",
      "/v1/memory/facts?subject=%C3%93scar&user=someone-else",
    );
    expect(elsewhere.data).toEqual([]);

    // One bad fact: the server's 400 names it, and nothing of the file is stored.
    const invalid = {
      facts: [{ subject: "Zoe", relation: "likes", object: "el mar" }, { relation: "likes" }],
    };
    await picker.setInputFiles({
      name: "bad.json",
      mimeType: "application/json",
      buffer: Buffer.from(JSON.stringify(invalid)),
    });
    const alert = page.locator(".page p.error[role=alert]");
    await expect
      .poll(() => alert.textContent())
      .toMatch(/^Could not import bad\.json: facts\[1\]\.subject: .*\(400 /);
    expect(await page.locator(".page .status-line").textContent()).toBe("");
    expect((await api<{ data: FactJson[] }>("GET", "/v1/memory/facts?subject=Zoe")).data).toEqual([]);

    // Not JSON at all: refused before it is sent.
    let posted = false;
    page.on("request", (request) => {
      if (request.url().endsWith("/v1/memory/import")) posted = true;
    });
    await picker.setInputFiles({
      name: "notes.json",
      mimeType: "application/json",
      buffer: Buffer.from("{oops"),
    });
    await expect.poll(() => alert.textContent()).toMatch(/^Could not import notes\.json: it is not JSON \(/);
    expect(posted).toBe(false);
  });

  it("draws the facts as a graph of entities and relations, whose nodes filter the table", async () => {
    const seeded = [
      { subject: "Marta", relation: "works_at", object: "Acme" },
      { subject: "Marta", relation: "likes", object: "el jazz" },
      { subject: "marta", relation: "likes", object: "el reguetón", negated: true },
      { subject: "Acme", relation: "located_in", object: "Vigo" },
      { subject: "Eve", relation: "likes", object: "<img src=x onerror=alert(1)>" },
    ];
    const ids: number[] = [];
    for (const fact of seeded) ids.push((await api<FactJson>("POST", "/v1/memory/facts", fact)).id);
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    // Through another page: the same hash again would keep the list read before the facts above were added (and
    // a reload would forget the key, which lives in memory only).
    await page.goto(`${base}/#/notifications`);
    await page.goto(`${base}/#/memory`);
    await page.getByTestId("fact-row").first().waitFor();
    const graphButton = page.getByRole("button", { name: "Graph", exact: true });
    await graphButton.click();
    expect(await graphButton.getAttribute("aria-pressed")).toBe("true");
    const graph = page.getByTestId("memory-graph");
    await graph.waitFor();
    expect(await page.locator(".table-wrap").count()).toBe(0);

    const labels = await page.locator("[data-testid=graph-node] .graph-node-label").allTextContents();
    for (const entity of ["Marta", "Acme", "el jazz", "el reguetón", "Vigo", "Eve"])
      expect(labels).toContain(entity);
    // "Marta" and "marta" are one entity.
    expect(labels.filter((label) => label.toLowerCase() === "marta")).toEqual(["Marta"]);
    const edge = (id: number | undefined) => page.locator(`[data-testid=graph-edge][data-fact-id="${id}"]`);
    expect(await edge(ids[0]).locator(".graph-edge-label").textContent()).toBe("works_at");
    expect(await edge(ids[3]).locator(".graph-edge-label").textContent()).toBe("located_in");
    expect(await edge(ids[2]).locator(".graph-edge-label").textContent()).toBe("not likes");
    expect(await edge(ids[2]).getAttribute("class")).toContain("negated");
    expect(await edge(ids[0]).locator("title").textContent()).toBe("Marta works_at Acme");

    // The payload is a node's text: no element made of it, no script run.
    const payload = "<img src=x onerror=alert(1)>";
    // Shown cut to 24 characters; whole in the node's title and accessible name.
    expect(labels).toContain("<img src=x onerror=aler…");
    const injected = page.getByRole("button", {
      name: `${payload}: 1 fact. Show them in the table`,
      exact: true,
    });
    expect(await injected.locator("title").textContent()).toBe(payload);
    expect(await graph.locator("img, foreignObject").count()).toBe(0);
    expect(await page.locator("img[src=x]").count()).toBe(0);
    await shoot("memory-graph", graph);

    // At phone width the box follows the page: no sideways scrolling, text at its size.
    await page.setViewportSize(phone);
    await expect
      .poll(async () => Number((await graph.getAttribute("viewBox"))?.split(" ")[2]))
      .toBeLessThan(phone.width);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(phone.width);
    expect((await graph.boundingBox())?.width).toBeLessThanOrEqual(phone.width);
    await page.setViewportSize(desktop);

    // Click a node: the table, with only that entity's facts (as subject or object).
    await page.getByRole("button", { name: /^Marta: 3 facts/ }).click();
    const tableButton = page.getByRole("button", { name: "Table", exact: true });
    expect(await tableButton.getAttribute("aria-pressed")).toBe("true");
    await expect
      .poll(async () => (await page.locator("[data-testid=fact-row] .fact-object").allTextContents()).sort())
      .toEqual(["Acme", "el jazz", "el reguetón"]);
    expect(await page.getByTestId("entity-filter").textContent()).toContain("Only facts about Marta.");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Table");

    // Enter on a focused node does the same.
    await graphButton.click();
    await page.getByRole("button", { name: "Show all facts" }).click();
    await graph.waitFor();
    await page.getByRole("button", { name: /^Acme: 2 facts/ }).focus();
    await page.keyboard.press("Enter");
    await expect
      .poll(async () => (await page.locator("[data-testid=fact-row] .fact-object").allTextContents()).sort())
      .toEqual(["Acme", "Vigo"]);
    expect(await page.getByTestId("entity-filter").textContent()).toContain("Only facts about Acme.");
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
  });

  it("shows the admin page and raised no CSP violation or page error anywhere", async () => {
    await page.goto(`${base}/#/admin`);
    await page.getByTestId("loop-summary").waitFor();
    await shoot("admin");
    // Resource errors from the intentionally failed requests above (401, 400) are not page errors.
    expect(consoleErrors.filter((e) => /Content Security Policy|Uncaught|TypeError/i.test(e))).toEqual([]);
  });
});
