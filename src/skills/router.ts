import type { SkillRegistry } from "./registry.js";
import type { Skill } from "./skill.js";

/**
 * One rule of the message classifier: the skill it picks and the patterns that must all match (a rule with
 * `unless` does not fire when that pattern matches).
 */
interface RouteRule {
  skill: string;
  all: readonly RegExp[];
  unless?: RegExp;
}

/** Words that make a question about the user's own memory (es/en). */
const aboutMemory =
  /\b(?:memoria|memory|recuerdas|sabes|te (?:he )?dich[oa]|hechos|facts?|remember|you know|told you|know about me|stored|guardad[oa]s?)\b|\bte cont[eé]|\bdatos (?:de|sobre) m[ií]/i;

/**
 * The classifier's rules, first match wins. A request to remember something ("recuerda que…", "remember
 * that…") is plain chat: memory stores it, no skill runs.
 */
const rules: readonly RouteRule[] = [
  { skill: "sql_query", all: [/\bsql\b/i] },
  { skill: "sql_query", all: [/\b(?:consulta|query)\b/i, aboutMemory] },
  { skill: "sql_query", all: [/(?:\bcu[aá]nt[oa]s\b|\bhow many\b|\bcount\b)/i, aboutMemory] },
  {
    skill: "json_extract",
    all: [
      /\bjson\b/i,
      /\b(?:extra[eé]|extraer|extract|devu[eé]lve(?:me)?|return|give|dame|output|convierte|convert|format[oa]?|as|en|como|in)\b/i,
    ],
    unless: /\b(?:qu[eé] es|what is|what's|explain|explica)\b/i,
  },
  {
    skill: "extract_entities",
    all: [/\b(?:extra[eé]|extraer|extract|list[a]?|saca)\b/i, /\b(?:entidades|entities|hechos|facts)\b/i],
  },
  {
    skill: "summarize_markdown",
    all: [
      /(?:\bres[uú]me(?:me|lo|la|los|las)?\s+(?:el|la|los|las|este|esta|esto|estos|estas|en|lo|:)|\bres[uú]me(?:me|lo|la|los|las)\b|\bresumen\b|\bresumir\b|\bsummar(?:y|ise|ize)\b|\btl;?dr\b)/i,
    ],
  },
  {
    skill: "python_code",
    all: [
      /\bpython\b/i,
      /\b(?:escribe|write|funci[oó]n|function|c[oó]digo|code|script|programa|program|clase|class)\b/i,
    ],
  },
];

/** Requests to remember are never a skill. */
const rememberRequest =
  /^\s*(?:por favor,?\s*)?(?:please,?\s*)?(?:recuerda|acu[eé]rdate|no olvides|apunta|remember|don'?t forget|note that)\b/i;

/** Picks a skill for a message by keyword rules (Spanish and English), or undefined for plain chat. */
export function classifySkill(message: string): string | undefined {
  if (rememberRequest.test(message)) return undefined;
  for (const rule of rules) {
    if (rule.all.every((pattern) => pattern.test(message)) && !(rule.unless?.test(message) ?? false))
      return rule.skill;
  }
  return undefined;
}

export interface SkillRouterOptions {
  registry: SkillRegistry;
  /** Route by `classifySkill` when a turn names no skill. Default: true. */
  autoRoute?: boolean;
}

/** The turn pipeline's skill choice: the explicit `skill` parameter, else the classifier when turned on. */
export class SkillRouter {
  readonly registry: SkillRegistry;
  readonly autoRoute: boolean;

  constructor(options: SkillRouterOptions) {
    this.registry = options.registry;
    this.autoRoute = options.autoRoute ?? true;
  }

  /** An explicit name must exist (`INVALID_REQUEST`, param `skill`); the classifier picks only offered skills. */
  route(explicit: string | undefined, message: string): Skill | undefined {
    if (explicit !== undefined) return this.registry.get(explicit);
    if (!this.autoRoute) return undefined;
    const name = classifySkill(message);
    return name === undefined ? undefined : this.registry.find(name);
  }
}
