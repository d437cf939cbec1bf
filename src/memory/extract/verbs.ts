/**
 * The verbs the extractor reads, Spanish and English, as tables of inflected forms. Spanish forms are keyed
 * both with accents (`low`) and folded (`key`): "trabajó" and "trabajo" differ only by the accent, and a
 * folded lookup prefers the present.
 */
import { fold } from "./tokens.js";

/** Who a form is for. `13s` is the Spanish imperfect, shared by yo and él/ella. */
export type VerbPerson = "1s" | "2s" | "3s" | "13s" | "1p" | "3p" | "base" | "part" | "ger" | "inf" | "past";
/** Present, past (preterite or perfect), imperfect, or none (participles, gerunds). */
export type VerbTense = "pres" | "past" | "impf" | "none";

/** One inflected form: its verb, person and tense. */
export interface VerbForm {
  lemma: string;
  person: VerbPerson;
  tense: VerbTense;
}

/** A verb form table: `exact` by lowercase with accents, `folded` by accent-free key. */
export interface VerbTable {
  exact: ReadonlyMap<string, VerbForm>;
  folded: ReadonlyMap<string, VerbForm>;
}

function addForm(
  exact: Map<string, VerbForm>,
  folded: Map<string, VerbForm>,
  form: string,
  info: VerbForm,
): void {
  if (!exact.has(form)) exact.set(form, info);
  const key = fold(form);
  if (!folded.has(key)) folded.set(key, info);
}

type Slot = readonly [VerbPerson, VerbTense];
/** Slots of a Spanish conjugation row, in the order the row lists them. */
const esSlots: readonly Slot[] = [
  ["1s", "pres"],
  ["3s", "pres"],
  ["1p", "pres"],
  ["3p", "pres"],
  ["1s", "past"],
  ["3s", "past"],
  ["1p", "past"],
  ["3p", "past"],
  ["13s", "impf"],
  ["1p", "impf"],
  ["3p", "impf"],
  ["part", "none"],
  ["ger", "none"],
  ["inf", "none"],
];

const arEndings = [
  "o",
  "a",
  "amos",
  "an",
  "é",
  "ó",
  "amos",
  "aron",
  "aba",
  "ábamos",
  "aban",
  "ado",
  "ando",
  "ar",
];
const erEndings = [
  "o",
  "e",
  "emos",
  "en",
  "í",
  "ió",
  "imos",
  "ieron",
  "ía",
  "íamos",
  "ían",
  "ido",
  "iendo",
  "er",
];
const irEndings = [
  "o",
  "e",
  "imos",
  "en",
  "í",
  "ió",
  "imos",
  "ieron",
  "ía",
  "íamos",
  "ían",
  "ido",
  "iendo",
  "ir",
];

/** Regular Spanish verbs by infinitive. */
const regularEs = `vivir trabajar estudiar mudar llamar gustar encantar fascinar apasionar chiflar interesar molestar
  odiar detestar adorar amar soportar aguantar hablar manejar usar viajar cumplir aprender casar apellidar
  disfrutar llevar acabar flipar molar residir currar laburar chambear trasladar`;

/** Synonyms read as the verb they stand for ("resido en" = "vivo en", "curro en" = "trabajo en"). */
const synonymsEs: Record<string, string> = {
  residir: "vivir",
  radicar: "vivir",
  currar: "trabajar",
  laburar: "trabajar",
  chambear: "trabajar",
  trasladar: "mudar",
};

/** Irregular Spanish verbs: 14 forms in `esSlots` order; `-` leaves a slot empty. */
const irregularEs: Record<string, string> = {
  ser: "soy es somos son fui fue fuimos fueron era éramos eran sido siendo ser",
  estar:
    "estoy está estamos están estuve estuvo estuvimos estuvieron estaba estábamos estaban estado estando estar",
  tener: "tengo tiene tenemos tienen tuve tuvo tuvimos tuvieron tenía teníamos tenían tenido teniendo tener",
  ir: "voy va vamos van - - - - iba íbamos iban ido yendo ir",
  venir: "vengo viene venimos vienen vine vino vinimos vinieron venía veníamos venían venido viniendo venir",
  nacer: "nazco nace nacemos nacen nací nació nacimos nacieron nacía nacíamos nacían nacido naciendo nacer",
  crecer:
    "crezco crece crecemos crecen crecí creció crecimos crecieron crecía crecíamos crecían crecido creciendo crecer",
  criar: "crío cría criamos crían crie crio criamos criaron criaba criábamos criaban criado criando criar",
  conducir:
    "conduzco conduce conducimos conducen conduje condujo condujimos condujeron conducía conducíamos conducían conducido conduciendo conducir",
  jugar:
    "juego juega jugamos juegan jugué jugó jugamos jugaron jugaba jugábamos jugaban jugado jugando jugar",
  tocar: "toco toca tocamos tocan toqué tocó tocamos tocaron tocaba tocábamos tocaban tocado tocando tocar",
  practicar:
    "practico practica practicamos practican practiqué practicó practicamos practicaron practicaba practicábamos practicaban practicado practicando practicar",
  utilizar:
    "utilizo utiliza utilizamos utilizan utilicé utilizó utilizamos utilizaron utilizaba utilizábamos utilizaban utilizado utilizando utilizar",
  radicar:
    "radico radica radicamos radican radiqué radicó radicamos radicaron radicaba radicábamos radicaban radicado radicando radicar",
  salir: "salgo sale salimos salen salí salió salimos salieron salía salíamos salían salido saliendo salir",
  haber: "he ha hemos han - - - - había habíamos habían - - haber",
  seguir: "sigo sigue seguimos siguen - - - - seguía seguíamos seguían - siguiendo seguir",
  soler: "suelo suele solemos suelen - - - - solía solíamos solían - - soler",
};

/** Irregular second persons; the rest add "s" to the third person ("vive" → "vives"). */
const secondPersonEs: Record<string, string> = {
  ser: "eres",
  estar: "estás",
  ir: "vas",
  haber: "has",
};

function buildEs(): VerbTable {
  const exact = new Map<string, VerbForm>();
  const folded = new Map<string, VerbForm>();
  const rows: Array<[string, string[]]> = [];
  for (const lemma of regularEs.split(/\s+/).filter(Boolean)) {
    const stem = lemma.slice(0, -2);
    const endings = lemma.endsWith("ar") ? arEndings : lemma.endsWith("er") ? erEndings : irEndings;
    rows.push([lemma, endings.map((e) => stem + e)]);
  }
  for (const [lemma, forms] of Object.entries(irregularEs)) rows.push([lemma, forms.split(" ")]);
  for (const row of rows) row[0] = synonymsEs[row[0]] ?? row[0];
  // Second person ("vives", "tienes"): known, so never read as a typo of the first or third person.
  for (const [lemma, forms] of rows) {
    const second = secondPersonEs[lemma] ?? (forms[1] === undefined ? undefined : `${forms[1]}s`);
    if (second !== undefined) addForm(exact, folded, second, { lemma, person: "2s", tense: "pres" });
  }
  // Present forms first, so that a folded "trabajo" reads as the present, not "trabajó".
  for (let slot = 0; slot < esSlots.length; slot++) {
    for (const [lemma, forms] of rows) {
      const form = forms[slot];
      const [person, tense] = esSlots[slot] ?? ["inf", "none"];
      if (form !== undefined && form !== "-") addForm(exact, folded, form, { lemma, person, tense });
    }
  }
  return { exact, folded };
}

/** English verbs: base 3s past participle gerund; `-` leaves a slot empty. */
const englishRows = `live lives lived lived living
  work works worked worked working
  study studies studied studied studying
  move moves moved moved moving
  come comes came come coming
  speak speaks spoke spoken speaking
  play plays played played playing
  drive drives drove driven driving
  use uses used used using
  own owns owned owned owning
  have has had had having
  like likes liked liked liking
  love loves loved loved loving
  enjoy enjoys enjoyed enjoyed enjoying
  adore adores adored adored adoring
  hate hates hated hated hating
  detest detests detested detested detesting
  dislike dislikes disliked disliked disliking
  loathe loathes loathed loathed loathing
  despise despises despised despised despising
  travel travels traveled traveled traveling
  travel travels travelled travelled travelling
  volunteer volunteers volunteered volunteered volunteering
  go goes went gone going
  teach teaches taught taught teaching
  learn learns learned learned learning
  learn learns learnt learnt learning
  date dates dated dated dating
  marry marries married married marrying
  grow grows grew grown growing
  attend attends attended attended attending
  practice practices practiced practiced practicing
  practise practises practised practised practising
  get gets got gotten getting
  stand stands stood stood standing
  name names named named naming
  call calls called called calling
  do does did done doing
  bear bears bore born bearing
  reside resides resided resided residing
  relocate relocates relocated relocated relocating`;

/** English synonyms read as the verb they stand for ("I reside in" = "I live in"). */
const synonymsEn: Record<string, string> = { reside: "live", relocate: "move" };

function buildEn(): VerbTable {
  const exact = new Map<string, VerbForm>();
  const slots: VerbPerson[] = ["base", "3s", "past", "part", "ger"];
  const rows = englishRows
    .split("\n")
    .map((r) => r.trim().split(/\s+/))
    .filter((r) => r.length === 5);
  for (let slot = 0; slot < slots.length; slot++) {
    for (const row of rows) {
      const lemma = synonymsEn[row[0] ?? ""] ?? row[0] ?? "";
      const form = row[slot];
      const person = slots[slot] ?? "base";
      const tense: VerbTense =
        person === "past" ? "past" : person === "base" || person === "3s" ? "pres" : "none";
      if (form !== undefined && form !== "-" && !exact.has(form)) exact.set(form, { lemma, person, tense });
    }
  }
  const be: Array<[string, VerbPerson, VerbTense]> = [
    ["am", "1s", "pres"],
    ["is", "3s", "pres"],
    ["are", "base", "pres"],
    ["was", "past", "past"],
    ["were", "past", "past"],
    ["been", "part", "none"],
    ["being", "ger", "none"],
    ["be", "inf", "none"],
  ];
  for (const [form, person, tense] of be) exact.set(form, { lemma: "be", person, tense });
  return { exact, folded: exact };
}

/** Spanish verb forms. */
export const verbsEs: VerbTable = buildEs();
/** English verb forms. */
export const verbsEn: VerbTable = buildEn();

/** Spanish verb forms that are just as often nouns ("mi trabajo", "el vino"): never end an object. */
export const nounLikeFormsEs: ReadonlySet<string> = new Set(
  `trabajo estudio juego vino uso odio amo llamo casa vivo cumple salgo toco viaje ser estar apellido manejo
  practico molesto encanto interes suelo sigo curro laburo chambeo`.split(/\s+/),
);

/** Verbs whose present tense after "me"/"le" is a liking, and what it maps to. */
export const likingVerbsEs: ReadonlyMap<string, "likes" | "dislikes"> = new Map([
  ["gustar", "likes"],
  ["encantar", "likes"],
  ["fascinar", "likes"],
  ["apasionar", "likes"],
  ["chiflar", "likes"],
  ["interesar", "likes"],
  ["flipar", "likes"],
  ["molar", "likes"],
  ["molestar", "dislikes"],
]);

/**
 * The form a typo stands for, from the forms within one edit of it: when they are all forms of one verb
 * ("livee" → live, lived, lives), the first person in `preference`; when they are of different verbs,
 * none.
 */
export function formForTypo(
  candidates: readonly string[],
  table: ReadonlyMap<string, VerbForm>,
  preference: readonly VerbPerson[],
): VerbForm | undefined {
  const forms = candidates.map((c) => table.get(c)).filter((f): f is VerbForm => f !== undefined);
  const first = forms[0];
  if (first === undefined || forms.some((f) => f.lemma !== first.lemma)) return undefined;
  for (const person of preference) {
    const match = forms.find((f) => f.person === person);
    if (match !== undefined) return match;
  }
  return first;
}
