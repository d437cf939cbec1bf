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
 * The relation vocabulary: each canonical id with the ids that mean the same (other spellings, Spanish ids, near
 * synonyms), so "vivo en", "me mudé a", "I live in" and "I moved to" are one relation with one history.
 * Kinship and pet relations (sister, husband, dog…) come from the extractor's lexicon; `favorite_<thing>` is open.
 */
export const relationVocabulary: Readonly<Record<string, readonly string[]>> = Object.freeze({
  lives_in: [
    "resides_in",
    "living_in",
    "lives_at",
    "moved_to",
    "relocated_to",
    "vive_en",
    "reside_en",
    "se_mudo_a",
  ],
  works_at: ["employed_at", "employer", "works_for", "job_at", "trabaja_en", "trabaja_para"],
  works_as: ["occupation", "profession", "job_title", "trabaja_de", "trabaja_como", "profesion", "oficio"],
  studies_at: ["student_at", "estudia_en"],
  studies: ["studying", "major", "estudia"],
  from: ["comes_from", "hometown", "es_de"],
  born_in: ["birthplace", "place_of_birth", "nacio_en"],
  born_on: ["birth_date", "date_of_birth", "nacio_el"],
  birthday: ["cumpleanos"],
  name: ["named", "first_name", "nombre", "se_llama"],
  surname: ["last_name", "family_name", "apellido"],
  middle_name: [],
  age: ["years_old", "edad"],
  likes: ["enjoys", "loves", "fan_of", "le_gusta", "me_gusta"],
  dislikes: ["hates", "no_le_gusta", "odia"],
  allergic_to: ["allergy", "alergico_a", "alergica_a"],
  intolerant_to: ["intolerance", "intolerante_a"],
  married_to: ["spouse_of", "casado_con", "casada_con"],
  is: ["is_a", "es"],
  has: ["owns", "tiene"],
  plays: ["juega"],
  speaks: ["habla"],
  goes_to: ["attends", "va_a"],
  travels_to: ["trip_to", "viaja_a"],
  grew_up_in: ["raised_in", "crecio_en"],
  volunteers_at: ["voluntario_en"],
  appointment: ["cita"],
  drives: ["conduce", "maneja"],
  uses: ["usa", "utiliza"],
});

const aliasToCanonical: ReadonlyMap<string, string> = new Map(
  Object.entries(relationVocabulary).flatMap(([canonical, aliases]) =>
    aliases.map((alias): [string, string] => [alias, canonical]),
  ),
);

/**
 * `lives in`, `Lives-In`, `lives_in`, `resides_in`, `vive_en` → `lives_in`: relation ids are ASCII-folded
 * lowercase snake_case, and an alias becomes its canonical id. Returns undefined when nothing usable is left.
 */
export function normalizeRelation(relation: string): string | undefined {
  const folded = relation
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(folded)) return undefined;
  return aliasToCanonical.get(folded) ?? folded;
}

/**
 * Whether a (normalised) relation is in the closed vocabulary: a canonical id, a kinship or pet relation of
 * `kinRelations`, or `favorite_<thing>`. What a model returns outside it is dropped.
 */
export function isKnownRelation(relation: string, kinRelations: ReadonlySet<string>): boolean {
  return (
    Object.hasOwn(relationVocabulary, relation) ||
    kinRelations.has(relation) ||
    /^favorite_[a-z][a-z0-9_]*$/.test(relation)
  );
}
