import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { describeError, isAbortError, type ApiClient } from "./api-client.js";
import { streamChat } from "./chat-stream.js";
import type { ConversationStore } from "./conversation-store.js";
import { ConversationList } from "./conversation-list.js";
import { FeedbackControls } from "./feedback-controls.js";
import { ImageAttachments, readImageFiles, type AttachedImage } from "./image-attachments.js";
import { MessageDetails } from "./message-details.js";
import { renderMarkdown } from "./markdown.js";
import type {
  ChatRequestMessage,
  ContentPart,
  ConversationJson,
  FactJson,
  FactSummary,
  MessageMeta,
  ModelJson,
  StoredMessageJson,
} from "./wire.js";

/** One message as the chat shows it. */
export interface UiMessage {
  /** Stable key for rendering; the store's id comes later. */
  key: string;
  id?: string;
  role: "user" | "assistant";
  content: string;
  /** This tab's copies of the images sent with a user message (the store keeps only their count). */
  images?: AttachedImage[];
  meta: MessageMeta;
  status: "done" | "streaming" | "stopped" | "error";
  error?: string;
  /** For an answer: the user message it answers (feedback sends it as `prompt`). */
  prompt?: string;
}

let keyCounter = 0;
const newKey = () => `k${++keyCounter}`;

/** A conversation's title from its first message: the first line, at most 60 characters. */
export function titleFrom(text: string): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length === 0 ? "Image" : line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

/** The chat request for a history: answers that failed are left out; images go as `image_url` parts. */
export function toRequestMessages(history: readonly UiMessage[]): ChatRequestMessage[] {
  return history
    .filter((m) => m.status !== "error" && !(m.role === "assistant" && m.content === ""))
    .map((m) => {
      if (m.role === "user" && m.images !== undefined && m.images.length > 0) {
        const parts: ContentPart[] = [
          { type: "text", text: m.content },
          ...m.images.map((image): ContentPart => ({ type: "image_url", image_url: { url: image.url } })),
        ];
        return { role: "user", content: parts };
      }
      return { role: m.role, content: m.content };
    });
}

function fromStored(messages: StoredMessageJson[]): UiMessage[] {
  const shown: UiMessage[] = [];
  let lastPrompt: string | undefined;
  for (const stored of messages) {
    if (stored.role !== "user" && stored.role !== "assistant") continue;
    const meta = stored.meta ?? {};
    shown.push({
      key: newKey(),
      id: String(stored.id),
      role: stored.role,
      content: stored.content,
      meta,
      status: meta.stopped === true ? "stopped" : "done",
      ...(stored.role === "assistant" && lastPrompt !== undefined ? { prompt: lastPrompt } : {}),
    });
    if (stored.role === "user") lastPrompt = stored.content;
  }
  return shown;
}

/** The generation settings the user filled in; empty or out-of-range fields are left to the server. */
export function generationSettings(
  temperature: string,
  maxTokens: string,
): { temperature?: number; max_tokens?: number } {
  const t = temperature.trim() === "" ? Number.NaN : Number(temperature);
  const n = maxTokens.trim() === "" ? Number.NaN : Number(maxTokens);
  return {
    ...(Number.isFinite(t) && t >= 0 && t <= 2 ? { temperature: t } : {}),
    ...(Number.isInteger(n) && n >= 1 ? { max_tokens: n } : {}),
  };
}

const factText = (fact: FactJson) =>
  `${fact.subject} ${fact.negated ? "not " : ""}${fact.relation} ${fact.object}${fact.when === null ? "" : ` (${fact.when})`}`;

export interface ChatPageProps {
  client: ApiClient;
  models: ModelJson[];
  store: ConversationStore;
}

/** Conversations, the messages of the open one, and the composer. */
export function ChatPage({ client, models, store }: ChatPageProps) {
  const [conversations, setConversations] = useState<ConversationJson[]>([]);
  const [search, setSearch] = useState("");
  const [currentId, setCurrentId] = useState<string | undefined>(undefined);
  const [messages, setMessagesState] = useState<UiMessage[]>([]);
  const messagesRef = useRef<UiMessage[]>([]);
  const [streaming, setStreaming] = useState<AbortController | undefined>(undefined);
  const [draft, setDraft] = useState("");
  const [images, setImages] = useState<AttachedImage[]>([]);
  const [reflect, setReflect] = useState(false);
  const [temperature, setTemperature] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [banner, setBanner] = useState<string | undefined>(undefined);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [dragging, setDragging] = useState(false);
  const defaultModel = useMemo(
    () => models.find((m) => m.sarai?.role === "main")?.id ?? models[0]?.id ?? "sarai",
    [models],
  );
  const [model, setModel] = useState(defaultModel);
  const scroller = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);

  const setMessages = useCallback((next: UiMessage[] | ((previous: UiMessage[]) => UiMessage[])) => {
    const value = typeof next === "function" ? next(messagesRef.current) : next;
    messagesRef.current = value;
    setMessagesState(value);
  }, []);
  const patch = useCallback(
    (key: string, changes: Partial<UiMessage>) =>
      setMessages((previous) => previous.map((m) => (m.key === key ? { ...m, ...changes } : m))),
    [setMessages],
  );

  const refreshList = useCallback(async () => {
    try {
      setConversations(await store.list(search));
    } catch (error) {
      setBanner(`Could not list conversations: ${describeError(error)}`);
    }
  }, [store, search]);

  useEffect(() => {
    const timer = setTimeout(() => void refreshList(), 200);
    return () => clearTimeout(timer);
  }, [refreshList]);

  useEffect(() => {
    const element = scroller.current;
    if (element !== null) element.scrollTop = element.scrollHeight;
  }, [messages]);

  // Escape stops the answer being written, wherever the focus is.
  useEffect(() => {
    if (streaming === undefined) return undefined;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") streaming.abort();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [streaming]);

  const resolveFacts = async (ids: number[] | undefined): Promise<FactSummary[]> =>
    Promise.all(
      (ids ?? []).map(async (id) => {
        try {
          return { id, text: factText(await client.get<FactJson>(`/v1/memory/facts/${id}`)) };
        } catch {
          return { id, text: `fact #${id} (no longer in memory)` };
        }
      }),
    );

  const saveMessage = async (conversationId: string, message: UiMessage, meta: MessageMeta) => {
    try {
      const saved = await store.addMessage(conversationId, message.role, message.content, meta);
      patch(message.key, { id: String(saved.id) });
    } catch (error) {
      setBanner(`The answer was not saved: ${describeError(error)}`);
    }
  };

  /** Streams the answer to `history` (which ends with a user message) into a new assistant message. */
  const runTurn = async (conversationId: string, history: UiMessage[]) => {
    const controller = new AbortController();
    const key = newKey();
    const prompt = [...history].reverse().find((m) => m.role === "user")?.content ?? "";
    setMessages([...history, { key, role: "assistant", content: "", meta: {}, status: "streaming", prompt }]);
    setStreaming(controller);
    let text = "";
    try {
      const result = await streamChat(
        client,
        {
          model,
          messages: toRequestMessages(history),
          ...(reflect ? { reflect: true } : {}),
          ...generationSettings(temperature, maxTokens),
        },
        (sofar) => {
          text = sofar;
          patch(key, { content: sofar });
        },
        controller.signal,
      );
      const sarai = result.sarai;
      const meta: MessageMeta = {
        ...(result.responseId === undefined ? {} : { response_id: result.responseId }),
        ...(result.model === undefined ? {} : { model: result.model }),
        ...(result.finishReason === undefined ? {} : { finish_reason: result.finishReason }),
        ...(sarai.memory === undefined
          ? {}
          : {
              memory: {
                recalled: await resolveFacts(sarai.memory.recalled),
                stored: await resolveFacts(sarai.memory.stored),
              },
            }),
        ...(sarai.reflection === undefined ? {} : { reflection: sarai.reflection }),
        ...(sarai.fallback_used === undefined ? {} : { fallback_used: sarai.fallback_used }),
        ...(sarai.warnings === undefined ? {} : { warnings: sarai.warnings }),
      };
      patch(key, { content: result.text, meta, status: "done" });
      await saveMessage(
        conversationId,
        { key, role: "assistant", content: result.text, meta, status: "done" },
        meta,
      );
    } catch (error) {
      if (controller.signal.aborted || isAbortError(error)) {
        const meta: MessageMeta = { stopped: true, model };
        patch(key, { status: "stopped", meta });
        if (text !== "")
          await saveMessage(
            conversationId,
            { key, role: "assistant", content: text, meta, status: "stopped" },
            meta,
          );
      } else {
        patch(key, { status: "error", error: describeError(error) });
      }
    } finally {
      setStreaming(undefined);
      void refreshList();
      input.current?.focus();
    }
  };

  const send = async (text: string, attached: AttachedImage[]) => {
    if (streaming !== undefined || (text.trim() === "" && attached.length === 0)) return;
    setBanner(undefined);
    try {
      let conversationId = currentId;
      if (conversationId === undefined) {
        conversationId = (await store.create(titleFrom(text))).id;
        setCurrentId(conversationId);
      }
      const meta: MessageMeta = attached.length === 0 ? {} : { images: attached.length };
      const content = text.trim() === "" ? "[image]" : text;
      const stored = await store.addMessage(
        conversationId,
        "user",
        content,
        attached.length === 0 ? undefined : meta,
      );
      const message: UiMessage = {
        key: newKey(),
        id: String(stored.id),
        role: "user",
        content,
        meta,
        status: "done",
        ...(attached.length === 0 ? {} : { images: attached }),
      };
      setDraft("");
      setImages([]);
      await runTurn(conversationId, [...messagesRef.current, message]);
    } catch (error) {
      setBanner(describeError(error));
    }
  };

  const regenerate = async (index: number) => {
    const target = messagesRef.current[index];
    if (streaming !== undefined || currentId === undefined || target === undefined) return;
    try {
      if (target.id !== undefined) await store.truncate(currentId, target.id);
      await runTurn(currentId, messagesRef.current.slice(0, index));
    } catch (error) {
      setBanner(describeError(error));
    }
  };

  const editAndResend = async (index: number, text: string) => {
    const target = messagesRef.current[index];
    if (streaming !== undefined || currentId === undefined || target === undefined) return;
    try {
      if (target.id !== undefined) await store.truncate(currentId, target.id);
      setMessages(messagesRef.current.slice(0, index));
      await send(text, target.images ?? []);
    } catch (error) {
      setBanner(describeError(error));
    }
  };

  const open = async (id: string) => {
    if (streaming !== undefined) streaming.abort();
    try {
      const conversation = await store.get(id);
      setCurrentId(id);
      setMessages(fromStored(conversation.messages));
      setSidebarOpen(false);
    } catch (error) {
      setBanner(describeError(error));
    }
  };

  const startNew = () => {
    if (streaming !== undefined) streaming.abort();
    setCurrentId(undefined);
    setMessages([]);
    setSidebarOpen(false);
    input.current?.focus();
  };

  const attach = async (files: Iterable<File>) => {
    const { images: read, errors } = await readImageFiles(files);
    setImages((previous) => [...previous, ...read]);
    setBanner(errors.length === 0 ? undefined : errors.join(" "));
  };

  const onComposerKey = (event: KeyboardEvent) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void send(draft, images);
    }
  };

  return (
    <div class={`chat ${sidebarOpen ? "sidebar-open" : ""}`}>
      <ConversationList
        conversations={conversations}
        currentId={currentId}
        search={search}
        persistent={store.persistent}
        onSearch={setSearch}
        onOpen={(id) => void open(id)}
        onNew={startNew}
        onRename={async (id, title) => {
          try {
            await store.rename(id, title);
          } catch (error) {
            setBanner(describeError(error));
          }
          await refreshList();
        }}
        onDelete={async (id) => {
          try {
            await store.remove(id);
            if (id === currentId) startNew();
          } catch (error) {
            setBanner(describeError(error));
          }
          await refreshList();
        }}
      />
      <section class="conversation" aria-label="Conversation">
        <div class="conversation-bar">
          <button
            type="button"
            class="sidebar-toggle"
            aria-expanded={sidebarOpen}
            aria-controls="conversation-list"
            onClick={() => setSidebarOpen(!sidebarOpen)}
          >
            Conversations
          </button>
          <label for="model-picker">Model</label>
          <select id="model-picker" value={model} onChange={(event) => setModel(event.currentTarget.value)}>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
                {m.sarai?.role === undefined ? "" : ` (${m.sarai.role})`}
              </option>
            ))}
          </select>
          <label class="checkbox">
            <input
              type="checkbox"
              checked={reflect}
              onChange={(event) => setReflect(event.currentTarget.checked)}
            />
            Reflect
          </label>
          <details class="settings">
            <summary>Settings</summary>
            <div class="settings-body">
              <label for="temperature">Temperature (0–2, empty: server default)</label>
              <input
                id="temperature"
                type="number"
                min="0"
                max="2"
                step="0.1"
                value={temperature}
                onInput={(event) => setTemperature(event.currentTarget.value)}
              />
              <label for="max-tokens">Max tokens (empty: server default)</label>
              <input
                id="max-tokens"
                type="number"
                min="1"
                step="1"
                value={maxTokens}
                onInput={(event) => setMaxTokens(event.currentTarget.value)}
              />
            </div>
          </details>
        </div>
        {banner === undefined ? null : (
          <p class="error banner" role="alert" data-testid="chat-banner">
            {banner}
          </p>
        )}
        <div class="messages" ref={scroller} aria-live="polite" aria-busy={streaming !== undefined}>
          {messages.length === 0 ? (
            <p class="empty">Ask anything. SARAi runs on this machine; nothing leaves it.</p>
          ) : null}
          {messages.map((message, index) => (
            <MessageView
              key={message.key}
              message={message}
              client={client}
              busy={streaming !== undefined}
              isLast={index === messages.length - 1}
              onRegenerate={() => void regenerate(index)}
              onEdit={(text) => void editAndResend(index, text)}
            />
          ))}
        </div>
        <form
          class={`composer ${dragging ? "dragging" : ""}`}
          onSubmit={(event) => {
            event.preventDefault();
            void send(draft, images);
          }}
          onDragOver={(event) => {
            if (event.dataTransfer?.types.includes("Files") === true) {
              event.preventDefault();
              setDragging(true);
            }
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(event) => {
            event.preventDefault();
            setDragging(false);
            if (event.dataTransfer !== null) void attach(event.dataTransfer.files);
          }}
        >
          <ImageAttachments
            images={images}
            onAdd={(files) => void attach(files)}
            onRemove={(index) => setImages(images.filter((_, i) => i !== index))}
          />
          <label for="composer-input" class="visually-hidden">
            Message
          </label>
          <textarea
            id="composer-input"
            ref={input}
            rows={2}
            value={draft}
            placeholder="Message SARAi — Enter sends, Shift+Enter adds a line, Escape stops"
            onInput={(event) => setDraft(event.currentTarget.value)}
            onKeyDown={onComposerKey}
            onPaste={(event) => {
              const files = [...(event.clipboardData?.files ?? [])].filter((f) =>
                f.type.startsWith("image/"),
              );
              if (files.length > 0) {
                event.preventDefault();
                void attach(files);
              }
            }}
          />
          {streaming === undefined ? (
            <button type="submit" class="primary" disabled={draft.trim() === "" && images.length === 0}>
              Send
            </button>
          ) : (
            <button type="button" class="danger" onClick={() => streaming.abort()}>
              Stop
            </button>
          )}
        </form>
      </section>
    </div>
  );
}

interface MessageViewProps {
  message: UiMessage;
  client: ApiClient;
  busy: boolean;
  isLast: boolean;
  onRegenerate: () => void;
  onEdit: (text: string) => void;
}

function MessageView({ message, client, busy, isLast, onRegenerate, onEdit }: MessageViewProps) {
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const html = useMemo(
    () => (message.role === "assistant" ? renderMarkdown(message.content) : ""),
    [message.role, message.content],
  );
  const sentImages = message.images?.length ?? message.meta.images ?? 0;

  if (message.role === "user") {
    return (
      <article class="message user" data-testid="message-user" aria-label="You">
        {editing === undefined ? (
          <>
            <p class="user-text">{message.content}</p>
            {message.images !== undefined && message.images.length > 0 ? (
              <div class="sent-images">
                {message.images.map((image, i) => (
                  <img key={i} src={image.url} alt={image.name} />
                ))}
              </div>
            ) : sentImages > 0 ? (
              <p class="muted">
                {sentImages === 1 ? "1 image" : `${sentImages} images`} (not kept after reload)
              </p>
            ) : null}
            <div class="message-actions">
              <button type="button" disabled={busy} onClick={() => setEditing(message.content)}>
                Edit
              </button>
            </div>
          </>
        ) : (
          <form
            class="edit-message"
            onSubmit={(event) => {
              event.preventDefault();
              if (editing.trim() !== "") onEdit(editing);
              setEditing(undefined);
            }}
          >
            <label for={`edit-${message.key}`} class="visually-hidden">
              Edit message
            </label>
            <textarea
              id={`edit-${message.key}`}
              value={editing}
              onInput={(event) => setEditing(event.currentTarget.value)}
              onKeyDown={(event) => {
                if (event.key === "Escape") setEditing(undefined);
                if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
                  event.preventDefault();
                  event.currentTarget.form?.requestSubmit();
                }
              }}
            />
            <button type="submit" class="primary">
              Save and resend
            </button>
            <button type="button" onClick={() => setEditing(undefined)}>
              Cancel
            </button>
          </form>
        )}
      </article>
    );
  }

  return (
    <article
      class={`message assistant status-${message.status}`}
      data-testid="message-assistant"
      data-status={message.status}
      aria-label="SARAi"
    >
      {message.status === "error" ? (
        <p class="error" role="alert" data-testid="message-error">
          {message.error}
        </p>
      ) : (
        <div class="markdown" dangerouslySetInnerHTML={{ __html: html }} />
      )}
      {message.status === "streaming" ? (
        <p class="typing" aria-label="Writing">
          <span class="dot" />
          <span class="dot" />
          <span class="dot" />
        </p>
      ) : null}
      {message.status === "stopped" ? <p class="muted">Stopped.</p> : null}
      <MessageDetails meta={message.meta} />
      {message.status === "streaming" ? null : (
        <div class="message-actions">
          {isLast ? (
            <button type="button" disabled={busy} onClick={onRegenerate}>
              Regenerate
            </button>
          ) : null}
          {message.status === "error" || message.prompt === undefined ? null : (
            <FeedbackControls client={client} message={message} prompt={message.prompt} />
          )}
        </div>
      )}
    </article>
  );
}
