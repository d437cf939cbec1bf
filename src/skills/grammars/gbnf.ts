/** Small helpers for writing GBNF grammars in TypeScript. */

/** `{0,n}` when a bound is given, else `*`. */
export function upTo(max: number | undefined): string {
  return max === undefined ? "*" : `{0,${max}}`;
}

/** `{1,n}` when a bound is given, else `+`. */
export function oneTo(max: number | undefined): string {
  return max === undefined ? "+" : max <= 1 ? "" : `{1,${max}}`;
}

/** A case-insensitive literal: `select` → `[sS][eE][lL][eE][cC][tT]`. */
export function keyword(word: string): string {
  return [...word]
    .map((ch) => (/[a-z]/i.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : JSON.stringify(ch)))
    .join(" ");
}

/** A character class from a set of plain ASCII letters, digits and `_`. */
function charClass(chars: Iterable<string>): string {
  return `[${[...chars].sort().join("")}]`;
}

const letters = [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"];
const digits = [..."0123456789"];

export interface IdentifierRuleOptions {
  /** Rule-name prefix; every rule this helper writes starts with it. */
  name: string;
  /** Words the identifier must never be (SQL or Python keywords, forbidden built-ins). */
  exclude: readonly string[];
  /** Match `exclude` without regard to case (SQL). Default false (Python). */
  caseInsensitive?: boolean;
  /** Prefixes no identifier may start with (`sqlite_`: SQLite's internal tables). */
  excludePrefixes?: readonly string[];
  /** Longest identifier in characters; unbounded when omitted. */
  maxLength?: number;
}

/**
 * Rules for an identifier (`[A-Za-z_][A-Za-z0-9_]*`) that is none of the excluded words. GBNF has no negative
 * lookahead, so the exclusion is a trie: at each prefix of an excluded word the next character either leaves
 * the trie (any identifier character that no excluded word continues with) or follows it, and a prefix that
 * is itself an excluded word cannot end there. Returns the rule text; the identifier is rule `name`.
 */
export function identifierRules(options: IdentifierRuleOptions): string {
  const { name, caseInsensitive = false, maxLength } = options;
  const fold = (s: string): string => (caseInsensitive ? s.toLowerCase() : s);
  const words = new Set(options.exclude.map(fold));
  const prefixes = new Set<string>();
  const banned = new Set((options.excludePrefixes ?? []).map(fold));
  for (const word of [...words, ...banned])
    for (let i = 0; i <= word.length; i++) prefixes.add(word.slice(0, i));
  const rules: string[] = [];
  const ruleOf = new Map<string, string>();
  const tail = (depth: number): string => {
    const rest = maxLength === undefined ? undefined : maxLength - depth;
    if (rest !== undefined && rest <= 0) return "";
    return `${charClass([...letters, ...digits])}${upTo(rest)}`;
  };
  const visit = (prefix: string): string => {
    const existing = ruleOf.get(prefix);
    if (existing !== undefined) return existing;
    const ruleName = `${name}-t${ruleOf.size}`;
    ruleOf.set(prefix, ruleName);
    const depth = prefix.length;
    const pool = depth === 0 ? letters : [...letters, ...digits];
    const children = new Map<string, string>();
    for (const ch of pool) if (prefixes.has(prefix + fold(ch))) children.set(fold(ch), prefix + fold(ch));
    const free = pool.filter((ch) => !children.has(fold(ch)));
    const alternatives: string[] = [];
    if (maxLength === undefined || depth < maxLength) {
      if (free.length > 0) alternatives.push(`${charClass(free)} ${tail(depth + 1)}`.trim());
      for (const [ch, next] of children) {
        const cls = caseInsensitive && /[a-z]/.test(ch) ? `[${ch}${ch.toUpperCase()}]` : charClass([ch]);
        if (banned.has(next)) continue;
        if (maxLength !== undefined && next.length >= maxLength) {
          if (!words.has(next)) alternatives.push(cls);
        } else alternatives.push(`${cls} ${visit(next)}`);
      }
    }
    const canEnd = depth > 0 && !words.has(prefix);
    const body = `( ${alternatives.join(" | ")} )${canEnd ? "?" : ""}`;
    rules.push(`${ruleName} ::= ${body}`);
    return ruleName;
  };
  const root = visit("");
  return [`${name} ::= ${root}`, ...rules].join("\n");
}
