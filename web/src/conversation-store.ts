import { ApiError, query, type ApiClient } from "./api-client.js";
import type {
  ConversationJson,
  ConversationWithMessages,
  ListResponse,
  MessageMeta,
  StoredMessageJson,
} from "./wire.js";

/** Where conversations are kept: the server's `/v1/conversations`, or this tab's memory when it has none. */
export interface ConversationStore {
  /** `false` for the in-tab fallback: the UI says conversations are not saved. */
  readonly persistent: boolean;
  list(search?: string): Promise<ConversationJson[]>;
  create(title: string): Promise<ConversationJson>;
  get(id: string): Promise<ConversationWithMessages>;
  rename(id: string, title: string): Promise<void>;
  remove(id: string): Promise<void>;
  addMessage(
    id: string,
    role: "user" | "assistant",
    content: string,
    meta?: MessageMeta,
  ): Promise<StoredMessageJson>;
  /** Deletes the message and every later one. */
  truncate(id: string, messageId: string): Promise<void>;
}

const base = "/v1/conversations";
const segment = (value: string) => encodeURIComponent(value);

/** The server-side store (user-scoped by the API key, or `anonymous`). */
export class RemoteConversationStore implements ConversationStore {
  readonly persistent = true;
  readonly #client: ApiClient;

  constructor(client: ApiClient) {
    this.#client = client;
  }

  async list(search?: string): Promise<ConversationJson[]> {
    const q = search === undefined || search.trim() === "" ? undefined : search.trim();
    const page = await this.#client.get<ListResponse<ConversationJson>>(`${base}${query({ q, limit: 200 })}`);
    return page.data.map(normalise);
  }

  async create(title: string): Promise<ConversationJson> {
    return normalise(await this.#client.json<ConversationJson>("POST", base, { title }));
  }

  async get(id: string): Promise<ConversationWithMessages> {
    const found = await this.#client.get<ConversationWithMessages>(`${base}/${segment(id)}`);
    return { ...normalise(found), messages: found.messages.map((m) => ({ ...m, id: String(m.id) })) };
  }

  async rename(id: string, title: string): Promise<void> {
    await this.#client.json("PATCH", `${base}/${segment(id)}`, { title });
  }

  async remove(id: string): Promise<void> {
    await this.#client.json("DELETE", `${base}/${segment(id)}`);
  }

  async addMessage(
    id: string,
    role: "user" | "assistant",
    content: string,
    meta?: MessageMeta,
  ): Promise<StoredMessageJson> {
    const stored = await this.#client.json<StoredMessageJson>("POST", `${base}/${segment(id)}/messages`, {
      role,
      content,
      ...(meta === undefined ? {} : { meta }),
    });
    return { ...stored, id: String(stored.id) };
  }

  async truncate(id: string, messageId: string): Promise<void> {
    await this.#client.json("DELETE", `${base}/${segment(id)}/messages/${segment(messageId)}`);
  }
}

function normalise<T extends ConversationJson>(conversation: T): T {
  return { ...conversation, id: String(conversation.id) };
}

/** Conversations in this tab only, for a server without `/v1/conversations`. */
export class MemoryConversationStore implements ConversationStore {
  readonly persistent = false;
  readonly #conversations = new Map<string, ConversationWithMessages>();
  #next = 1;

  list(search?: string): Promise<ConversationJson[]> {
    const needle = search?.trim().toLowerCase() ?? "";
    const all = [...this.#conversations.values()]
      .filter(
        (c) =>
          needle === "" ||
          c.title.toLowerCase().includes(needle) ||
          c.messages.some((m) => m.content.toLowerCase().includes(needle)),
      )
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    return Promise.resolve(all.map(({ messages, ...rest }) => ({ ...rest, message_count: messages.length })));
  }

  create(title: string): Promise<ConversationJson> {
    const now = new Date().toISOString();
    const conversation = {
      id: `local-${this.#next++}`,
      title,
      created_at: now,
      updated_at: now,
      messages: [],
    };
    this.#conversations.set(conversation.id, conversation);
    return Promise.resolve({ ...conversation, message_count: 0 });
  }

  get(id: string): Promise<ConversationWithMessages> {
    const found = this.#conversations.get(id);
    if (found === undefined) return Promise.reject(new ApiError(`no conversation ${id}`, 404, "not_found"));
    return Promise.resolve({ ...found, messages: [...found.messages] });
  }

  async rename(id: string, title: string): Promise<void> {
    const found = await this.get(id);
    this.#conversations.set(id, { ...found, title, updated_at: new Date().toISOString() });
  }

  remove(id: string): Promise<void> {
    this.#conversations.delete(id);
    return Promise.resolve();
  }

  addMessage(
    id: string,
    role: "user" | "assistant",
    content: string,
    meta?: MessageMeta,
  ): Promise<StoredMessageJson> {
    const found = this.#conversations.get(id);
    if (found === undefined) return Promise.reject(new ApiError(`no conversation ${id}`, 404, "not_found"));
    const now = new Date().toISOString();
    const message: StoredMessageJson = {
      id: `m-${this.#next++}`,
      role,
      content,
      meta: meta ?? null,
      created_at: now,
    };
    found.messages.push(message);
    found.updated_at = now;
    return Promise.resolve(message);
  }

  truncate(id: string, messageId: string): Promise<void> {
    const found = this.#conversations.get(id);
    const index = found?.messages.findIndex((m) => m.id === messageId) ?? -1;
    if (found !== undefined && index >= 0) found.messages.splice(index);
    return Promise.resolve();
  }
}

/** The server's store when `/v1/conversations` answers, else the in-tab one. */
export async function openConversationStore(client: ApiClient): Promise<ConversationStore> {
  try {
    await client.get(`${base}?limit=1`);
    return new RemoteConversationStore(client);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405))
      return new MemoryConversationStore();
    throw error;
  }
}
