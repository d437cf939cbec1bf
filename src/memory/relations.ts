import { favoriteThingsEn, favoriteThingsEs, kinDeComplementsEs, kinEn, kinEs } from "./extract/lexicon.js";

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
    "live_in",
    "resides_in",
    "resides",
    "living_in",
    "lives_at",
    "home",
    "moved_to",
    "moves_to",
    "relocated_to",
    "vive_en",
    "vivo_en",
    "reside_en",
    "se_mudo_a",
    "me_mude_a",
    "mudo_a",
    "se_traslado_a",
  ],
  works_at: [
    "work_at",
    "working_at",
    "employed_at",
    "employed_by",
    "employer",
    "works_for",
    "job_at",
    "trabaja_en",
    "trabajo_en",
    "trabaja_para",
  ],
  works_as: [
    "occupation",
    "profession",
    "job",
    "job_title",
    "trabaja_de",
    "trabaja_como",
    "profesion",
    "oficio",
  ],
  studies_at: ["study_at", "student_at", "estudia_en"],
  studies: ["studying", "major", "estudia"],
  from: ["comes_from", "is_from", "hometown", "origin", "es_de"],
  born_in: ["birthplace", "place_of_birth", "nacio_en"],
  born_on: ["birth_date", "date_of_birth", "nacio_el"],
  birthday: ["cumpleanos"],
  name: ["named", "is_named", "called", "first_name", "nombre", "se_llama", "llamado"],
  surname: ["last_name", "family_name", "apellido"],
  middle_name: ["segundo_nombre"],
  age: ["years_old", "edad"],
  likes: ["like", "enjoys", "loves", "fan_of", "le_gusta", "me_gusta", "le_encanta", "gusta"],
  dislikes: ["dislike", "hates", "no_le_gusta", "odia"],
  allergic_to: ["allergy", "allergies", "alergico_a", "alergica_a", "alergia"],
  intolerant_to: ["intolerance", "intolerante_a"],
  married_to: ["spouse_of", "casado_con", "casada_con"],
  is: ["is_a", "es"],
  has: ["owns", "have", "tiene"],
  plays: ["play", "juega", "toca"],
  speaks: ["speak", "language", "habla"],
  goes_to: ["attends", "va_a"],
  travels_to: ["trip_to", "traveling_to", "travelling_to", "viaja_a"],
  grew_up_in: ["raised_in", "crecio_en"],
  volunteers_at: ["volunteer_at", "voluntario_en"],
  appointment: ["has_appointment", "cita"],
  drives: ["conduce", "maneja"],
  uses: ["usa", "utiliza"],
  practices: ["practice", "practica"],
  learns: ["learning", "aprende"],
  teaches: ["teaching", "ensena"],
});

/** Kinship, social and pet relations of the extractor's lexicon, in English snake_case (`sister`, `dog`…). */
const kinRelations: ReadonlySet<string> = new Set([
  ...[...kinEs.values(), ...kinEn.values()].map((entry) => entry.relation),
  ...kinDeComplementsEs.values(),
]);
const favoriteThings: ReadonlySet<string> = new Set([
  ...favoriteThingsEs.values(),
  ...favoriteThingsEn.values(),
]);

function foldRelation(relation: string): string {
  return relation
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

const aliasToCanonical: ReadonlyMap<string, string> = new Map([
  // The lexicon's nouns for a relative or pet in either language: `hermana`, `mom`, `perrito` → sister, mother, dog.
  ...[...kinEs, ...kinEn]
    .map(([word, entry]): [string, string] => [foldRelation(word), entry.relation])
    .filter(([word]) => !kinRelations.has(word) && !Object.hasOwn(relationVocabulary, word)),
  ...Object.entries(relationVocabulary).flatMap(([canonical, aliases]) =>
    aliases.map((alias): [string, string] => [alias, canonical]),
  ),
]);

/**
 * `lives in`, `Lives-In`, `lives_in`, `resides_in`, `vive_en` → `lives_in`: relation ids are ASCII-folded
 * lowercase snake_case, and an alias becomes its canonical id (`favourite_colour` → `favorite_color`). An id
 * outside the vocabulary is returned folded (the store keeps what a person adds by hand); `canonicalRelation`
 * says whether it is known. Returns undefined when nothing usable is left.
 */
export function normalizeRelation(relation: string): string | undefined {
  const folded = foldRelation(relation);
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(folded)) return undefined;
  // British and short spellings of the favourite family: favourite_colour is favorite_colour.
  const spelled = folded
    .replace(/^(?:favourite|fave|fav)_/, "favorite_")
    .replace(/^favorite_colour$/, "favorite_color");
  return aliasToCanonical.get(spelled) ?? spelled;
}

/**
 * Whether a (normalised) relation is in the closed vocabulary: a canonical id of `relationVocabulary`, a kinship
 * or pet relation of the extractor's lexicon (`sister`, `husband`, `dog`…), or `favorite_<thing>` for a thing of
 * its lexicon (`favorite_color`, `favorite_food`, `favorite_team`…).
 */
export function isKnownRelation(relation: string): boolean {
  if (Object.hasOwn(relationVocabulary, relation) || kinRelations.has(relation)) return true;
  const thing = /^favorite_([a-z][a-z0-9_]*)$/.exec(relation)?.[1];
  return thing !== undefined && favoriteThings.has(thing);
}

/**
 * The canonical relation id for a raw one (any spelling, an alias in English or Spanish), or undefined when it
 * is outside the vocabulary: `"vive en"` → `lives_in`, `"I moved to"` is not a relation id → undefined.
 */
export function canonicalRelation(raw: string): string | undefined {
  const relation = normalizeRelation(raw);
  return relation !== undefined && isKnownRelation(relation) ? relation : undefined;
}
