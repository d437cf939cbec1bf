import type { ChatMessage, ChatRequest, ChatResponse, ModelRole, Usage } from "../inference/index.js";
import type { EntityMemory } from "../memory/index.js";

/** What a skill writes: the kind a client can expect in `output`. */
export type SkillOutputKind = "json" | "sql" | "markdown" | "python";

/** A validator's verdict on one output; `value` is what the output means (parsed JSON, rows, facts). */
export type SkillCheck = { ok: true; value: unknown } | { ok: false; error: string };

/** How a skill's output is constrained while it is generated: the `ChatRequest` fields it sets. */
export type SkillConstraint = Pick<ChatRequest, "grammar" | "jsonSchema" | "jsonObject">;

/** Collaborators a skill may need besides the model; `app.ts` provides them. */
export interface SkillServices {
  /** Entity memory: `extract_entities` stores facts in it. */
  memory?: EntityMemory;
  /** Runs read-only SQL over one user's facts: `sql_query` executes its output here. */
  factQueries?: FactQueryRunner;
}

/** The read-only, user-scoped SQL executor `sql_query` uses (implemented by `FactQuerySandbox`). */
export interface FactQueryRunner {
  run(sql: string, userId: string): FactQueryResult;
  /** The same query on a scratch copy of the user's facts (a verifier's dry run), when the runner has one. */
  dryRun?(sql: string, userId: string): FactQueryResult;
}

export interface FactQueryResult {
  /** The statement as the model wrote it (not the scoped one that ran). */
  sql: string;
  columns: string[];
  rows: unknown[][];
  /** True when the query had more rows than the cap and only the first ones are returned. */
  truncated: boolean;
}

/** One call of a skill, as the skill sees it. */
export interface SkillCall {
  input: string;
  /** The user the call acts for: memory is read and written for this user only. */
  userId: string;
  /** A JSON schema the output must satisfy (skills that accept one: `json_extract`). */
  schema?: Readonly<Record<string, unknown>>;
  /** Identifies the call in stored facts (`messageId`). */
  turnId?: string;
  services: SkillServices;
  signal: AbortSignal;
}

/**
 * A skill: a prompt template, an output constraint (a GBNF grammar or a JSON schema) and a validator that runs
 * on every output. `runSkill` retries an invalid output with a new seed and never returns one.
 */
export interface Skill {
  name: string;
  description: string;
  outputKind: SkillOutputKind;
  /** The prompt template: `{{input}}` in `user` is the call's input, `{{schema}}` in `system` its schema. */
  prompt: { system: string; user: string };
  /** Whether the skill takes a per-call JSON schema (`schema`). Default: false. */
  acceptsSchema?: boolean;
  /** Whether the skill needs a user's memory (`extract_entities`, `sql_query`). Default: false. */
  needsMemory?: boolean;
  /** Most tokens one output may take; an output cut there is invalid. */
  maxTokens: number;
  /** Sampling temperature of every attempt. Default: 0.2 (low, but not greedy, so that a retry can differ). */
  temperature?: number;
  /** The constraint for this call (it may depend on the call's schema). */
  constraint(call: SkillCall): SkillConstraint;
  /** Checks one output; an error is an invalid attempt. Runs before any side effect. */
  validate(text: string, call: SkillCall): SkillCheck | Promise<SkillCheck>;
  /** Side effects of a valid output (storing facts); returns the final value. */
  commit?(value: unknown, call: SkillCall): unknown;
  /** Builds the messages itself instead of the template (a prompt that depends on the input's language). */
  messages?(call: SkillCall): ChatMessage[];
  /** Extra messages between the system prompt and the input (few-shot examples). */
  examples?: readonly ChatMessage[];
  /** The pool role that serves the skill. Default: `main`. */
  role?: ModelRole;
}

/** What `runSkill` returns: only ever a validated output. */
export interface SkillResult {
  skill: string;
  /** The model's output text, as validated. */
  output: string;
  /** What the output means: parsed JSON, `{sql, columns, rows}`, `{facts, stored}`, … */
  value: unknown;
  /** Generations it took, 1 + failed ones. */
  attempts: number;
  /** The validator's error of each failed attempt, in order. */
  errors: string[];
  /** Tokens of all attempts together. */
  usage: Usage;
  /** The backend's response of the valid attempt (model, timings). */
  response: ChatResponse;
}

/**
 * The messages of one call: the skill's own `messages`, or its template filled in — `{{input}}` with the input,
 * `{{schema}}` with the call's JSON schema (appended to the system prompt when the template has no place for it).
 */
export function renderPrompt(skill: Skill, call: SkillCall): ChatMessage[] {
  if (skill.messages !== undefined) return skill.messages(call);
  const schema = call.schema === undefined ? "" : JSON.stringify(call.schema);
  let system = skill.prompt.system.replaceAll("{{schema}}", schema);
  if (schema !== "" && !skill.prompt.system.includes("{{schema}}"))
    system += `\n\nThe output must match this JSON schema: ${schema}`;
  return [
    { role: "system", content: system },
    ...(skill.examples ?? []),
    { role: "user", content: skill.prompt.user.replaceAll("{{input}}", call.input) },
  ];
}
