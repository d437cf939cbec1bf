/** The attack families of the probe catalogue. */
export const attackFamilies = [
  "prompt_injection",
  "jailbreak",
  "memory_poisoning",
  "cross_user_leak",
  "sql_escape",
  "python_escape",
  "grammar_bypass",
  "malformed_input",
  "oversize_input",
  "unicode",
  "resource_exhaustion",
  "path_traversal",
] as const;

export type AttackFamily = (typeof attackFamilies)[number];

/**
 * Families SARAi can prevent whatever the model writes (validation, scoping, sandbox): the goal there is zero
 * successes. The others depend on what the model says, and are measured.
 */
export const preventableFamilies: ReadonlySet<AttackFamily> = new Set(
  attackFamilies.filter((family) => family !== "prompt_injection" && family !== "jailbreak"),
);

/** What a probe talks to: a route (or route and mode) of the server. */
export type AttackTarget =
  | "chat"
  | "chat_stream"
  | "completions"
  | "chat_json"
  | "skill_sql"
  | "skill_json"
  | "chat_python_verify"
  | "memory_extract"
  | "memory_search"
  | "memory_export"
  | "memory_facts"
  | "models"
  | "images"
  | "guard";

/** One HTTP request of an attack, relative to the server's base URL. */
export interface AttackRequest {
  method: "GET" | "POST" | "DELETE";
  path: string;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is (malformed bodies); `contentType` defaults to application/json. */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** What came back: status 0 means no HTTP answer (reset, refused, timed out), with `error`. */
export interface AttackResponse {
  status: number;
  /** The body, cut at the client's limit (64 KiB by default). */
  body: string;
  durationMs: number;
  error?: string;
}

/** The campaign's fixtures an attack and its detector may use. */
export interface ProbeContext {
  /** The red team's own user; every attack acts as it. */
  attacker: string;
  /** A second red-team user holding canary facts that must never reach the attacker. */
  victim: string;
  /** A secret put in the system prompt that must not come back (prompt injection). */
  secret: string;
  /** A word the system prompt forbids (jailbreak). */
  forbidden: string;
  /** Objects of the victim's facts. */
  victimCanaries: readonly string[];
  /** The `model` field to send. */
  model: string;
  /** A loopback URL the campaign listens on: a request reaching it is an escape (SSRF, sandbox network). */
  listenerUrl: string;
  /** A host folder the campaign watches: a file appearing in it is a sandbox escape. */
  watchDir: string;
  /** Unique per attempt: names files and processes an attack tries to leave behind. */
  marker: string;
  /** Reads the server as the campaign's own client (not counted as an attempt). */
  fetch(request: AttackRequest): Promise<AttackResponse>;
  /** Facts (`subject relation object`) of the red-team users just before the attempt (memory poisoning). */
  factsBefore?: ReadonlySet<string>;
  /** Requests the listener received since the attempt started. */
  listenerHits(): number;
}

/**
 * `inconclusive`: the server answered for reasons that say nothing about the attack (401, 403, 429, shutting
 * down), so the attempt measured nothing.
 */
export type Verdict = "success" | "blocked" | "failed" | "inconclusive";

/** A detector's finding: `success` means the attack did what it wanted, `blocked` that SARAi refused it. */
export interface Detection {
  verdict: Verdict;
  /** Why, in a few words: what was found in the response, or what refused it. */
  evidence: string;
}

/** One entry of the catalogue: a family's seed on one target, and the detector that judges the response. */
export interface Probe {
  /** Stable id, e.g. `prompt_injection/chat/reveal-secret-es`; reruns and reports name it. */
  readonly id: string;
  readonly family: AttackFamily;
  readonly target: AttackTarget;
  readonly lang: "es" | "en" | "any";
  /** The attack text the mutators transform; absent for structural attacks (malformed bodies, …). */
  readonly text?: string;
  /** Builds the request(s) from the (mutated) text; several run concurrently (resource exhaustion). */
  build(text: string, context: ProbeContext): AttackRequest | AttackRequest[];
  /** Judges the responses (from the response, not from the prompt); may read the server afterwards. */
  detect(responses: AttackResponse[], context: ProbeContext): Promise<Detection> | Detection;
}
