/** The API's wire shapes the UI reads (snake_case as on the wire; only the fields used here). */

export interface ListResponse<T> {
  object: "list";
  data: T[];
  has_more?: boolean;
}

export interface ModelJson {
  id: string;
  sarai?: { role?: string; file?: string | null };
}

export interface FactJson {
  id: number;
  subject: string;
  relation: string;
  object: string;
  negated: boolean;
  confidence: number;
  source: string;
  when: string | null;
  pinned: boolean;
  mentions: number;
  updated_at: string;
  /** When this value became true; ISO 8601. */
  valid_from: string;
  /** When it stopped being true (replaced, negated, or imported as history); null while it is current. */
  valid_to: string | null;
  /** The fact that replaced this one, when one did. */
  superseded_by: number | null;
}

export interface NotificationJson {
  id: number;
  kind: string;
  text: string;
  created_at: string;
}

export interface FeedbackJson {
  id: number;
  rating: "up" | "down";
  response_id: string | null;
}

export interface ConversationJson {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  message_count?: number;
}

export interface StoredMessageJson {
  id: string | number;
  role: "user" | "assistant" | "system";
  content: string;
  meta?: MessageMeta | null;
  created_at?: string;
}

export interface ConversationWithMessages extends ConversationJson {
  messages: StoredMessageJson[];
}

/** A fact as shown beside a turn: enough to read it without asking the server again. */
export interface FactSummary {
  id: number;
  text: string;
}

export interface ReflectionJson {
  iterations: {
    n: number;
    response: string;
    confidence: number | null;
    signals: {
      verifiers?: { name: string; ok: boolean; issues: string[] }[];
      token_probability?: number;
      self_assessment?: { score: number; issues: string[] };
    };
    corrected: boolean;
    latency_ms: number;
    error?: string;
  }[];
  chosen: number;
  auto_corrected: boolean;
  stopped_by: string;
  total_latency_ms: number;
}

/** What the UI keeps with an assistant message in the conversation store. */
export interface MessageMeta {
  response_id?: string;
  model?: string;
  finish_reason?: string;
  stopped?: boolean;
  /** How many images the user message carried (their bytes are not stored). */
  images?: number;
  memory?: { recalled: FactSummary[]; stored: FactSummary[] };
  reflection?: ReflectionJson;
  fallback_used?: boolean;
  warnings?: string[];
}

export interface SaraiChunkExtension {
  memory?: { recalled: number[]; stored: number[] };
  reflection?: ReflectionJson;
  fallback_used?: boolean;
  fallback_reason?: string;
  warnings?: string[];
}

export interface ChatChunkJson {
  id?: string;
  model?: string;
  choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
  sarai?: SaraiChunkExtension;
  error?: { message: string; code?: string; param?: string | null };
}

export type ContentPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };

export interface ChatRequestMessage {
  role: "user" | "assistant" | "system";
  content: string | ContentPart[];
}

/** What `POST /v1/memory/import` answers. */
export interface ImportReportJson {
  /** Current facts added. */
  imported: number;
  /** Current facts already known, reinforced instead. */
  reinforced: number;
  /** Earlier (closed) values added as history. */
  historic: number;
}
