/**
 * Relations a subject holds with one object at a time: a new positive fact with another object closes the old
 * one ("vivo en Sevilla" after "vivo en Madrid"). Everything else is multi-valued (likes, speaks, friend…).
 */
const singleValuedRelations = new Set([
  "name",
  "age",
  "lives_in",
  "works_at",
  "works_as",
  "from",
  "born_in",
  "born_on",
  "birthday",
  "married_to",
  "wife",
  "husband",
  "partner",
  "mother",
  "father",
  "boss",
]);

export function isSingleValuedRelation(relation: string): boolean {
  return singleValuedRelations.has(relation) || relation.startsWith("favorite_");
}

/** The speaker's own subject in either language: `user` and `usuario` are one subject. */
export const speakerSubjects: ReadonlySet<string> = new Set(["user", "usuario"]);

/**
 * `lives in`, `Lives-In`, `lives_in` → `lives_in`: relation ids are ASCII-folded lowercase snake_case. Returns
 * undefined when nothing usable is left.
 */
export function normalizeRelation(relation: string): string | undefined {
  const folded = relation
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return /^[a-z][a-z0-9_]{0,63}$/.test(folded) ? folded : undefined;
}
