/**
 * Surface rewrites applied to the text before it is split and read: paraphrases the rules do not read are
 * turned into ones they do ("I'm employed at X" → "I work at X", "Neither A nor B speak X" → "A and B
 * don't speak X", "my grandma Edith's birthday is…" → "my grandma is called Edith. Edith's birthday is…").
 * Each rewrite is a general pattern over function words, never a listed sentence.
 */
import { fold } from "./tokens.js";
import { isSwap, withinOneEdit } from "./typo.js";
import type { Language } from "../types.js";

/**
 * A rewrite: the pattern, its replacement, and words one of which the lowercased text must contain for the
 * pattern to be tried at all (a cheap check that skips most patterns on most inputs).
 */
type Rewrite = readonly [RegExp, string | ((...groups: string[]) => string), (readonly string[])?];

const cap = "\\p{Lu}[\\p{L}'-]*";
const name = `${cap}(?:\\s+${cap})?`;

/** English 3s and be forms that take "not" after them rather than "don't". */
const auxEn = new Set(["am", "is", "are", "was", "were", "can", "will", "could", "would", "have", "has"]);

function neitherNorEn(_m: string, a: string, b: string, verb: string): string {
  const v = verb.toLowerCase();
  if (auxEn.has(v)) {
    const be = v === "am" || v === "is" ? "are" : v === "was" ? "were" : v === "has" ? "have" : v;
    return `${a} and ${b} ${be} not `;
  }
  const base = v.endsWith("ies")
    ? `${v.slice(0, -3)}y`
    : v.endsWith("s") && !v.endsWith("ss")
      ? v.slice(0, -1)
      : v;
  return `${a} and ${b} don't ${base} `;
}

function employedEn(_m: string, who: string, be: string, prep: string): string {
  const b = be.toLowerCase().replace(/^'/, "");
  const first = /^(?:i)$/i.test(who) || b === "m" || b === "am";
  const plural = b === "are" || b === "re";
  const verb = first || plural ? "work" : "works";
  const p = prep.toLowerCase() === "as" ? "as" : "at";
  return `${who} ${verb} ${p}`;
}

function basedEn(_m: string, who: string, be: string): string {
  const b = be.toLowerCase().replace(/^'/, "");
  const first = /^(?:i)$/i.test(who) || b === "m" || b === "am";
  const plural = b === "are" || b === "re";
  return `${who} ${first || plural ? "live" : "lives"} in`;
}

/** "my mum's nmae is Sheila": a slip in the attribute noun before "is". */
function attributeTypoEn(m: string, lead: string, word: string): string {
  const w = word.toLowerCase();
  if (w !== "name" && isSwap(w, "name")) return `${lead}name`;
  if (w !== "birthday" && withinOneEdit(w, "birthday")) return `${lead}birthday`;
  return m;
}

/** Adjectives and participles read after "to be" ("I'm allergic to", "she's employed at"). */
const beAdjectivesEn = ["allergic", "employed", "married", "engaged", "addicted", "divorced"];
const beAdjectivesEs = ["alérgico", "alérgica", "casado", "casada", "afincado", "afincada"];

/** "I'm alergic to", "I'm employeed at": one slip in the adjective after "to be" (same first letter). */
function beAdjectiveTypo(words: readonly string[]) {
  return (m: string, be: string, gap: string, word: string): string => {
    const w = word.toLowerCase();
    for (const right of words) {
      if (w === right || w.charAt(0) !== right.charAt(0)) continue;
      if (withinOneEdit(w, right)) return `${be}${gap}${right}`;
    }
    return m;
  };
}

/** Fillers that close a statement without adding to it ("…, tbh", "… lol", "… jaja"). */
const trailingFillersEn =
  /[,\s]+(?:tbh|to be honest|lol|lmao|haha(?:ha)*|hehe|imo|imho|ngl|honestly|though|tho|x+d+)(?=\s*(?:[.!?…]|$))/giu;
const trailingFillersEs =
  /[,\s]+(?:(?:ja|je|ji)(?:ja|je|ji)+|xd+|la verdad|sinceramente|eh)(?=\s*(?:[.!?…]|$))/giu;

/**
 * Chat drops the subject of a first-person statement ("moved to Austin in 2020", "love rock and jazz", "born in
 * Leeds", "been living in Berlin since 2018"): the sentence opens with a verb no other subject could have. The
 * word decides what is put back, "I", "I'm", "I've" or "I was"; an imperative ("tell me…") is never one of them.
 */
const droppedSubjectPastEn = new Set(
  `moved relocated bought purchased adopted started finished graduated grew lived worked studied met visited
  married spent`.split(/\s+/),
);
const droppedSubjectBaseEn = new Set(["love", "adore", "hate", "enjoy", "prefer", "detest", "loathe"]);
/** Base forms read only with their preposition: "live in Leeds", "work at a bank". */
const droppedSubjectPrepEn: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["live", new Set(["in", "at", "with", "near", "on"])],
  ["work", new Set(["at", "for", "as", "in", "from", "with"])],
  ["study", new Set(["at", "in"])],
]);
const droppedSubjectGerundsEn = [
  "living",
  "working",
  "studying",
  "learning",
  "teaching",
  "training",
  "volunteering",
  "staying",
];

function droppedSubjectEn(
  m: string,
  lead: string,
  adverb: string | undefined,
  word: string,
  next: string | undefined = "",
): string {
  const w = word.toLowerCase();
  const n = next.toLowerCase();
  const adv = adverb ?? "";
  const put = (subject: string) => `${lead}${subject} ${adv}${word}${next === "" ? "" : " "}${next}`;
  if (w === "born") return put("I was");
  if (w === "been") return put("I've");
  if (w === "got")
    return put(/^(?:married|engaged|divorced|back|home|a\s+new\s+job)$/.test(n) ? "I" : "I've");
  if ((w === "allergic" || w === "intolerant") && n === "to") return put("I'm");
  if (w === "can't" || w === "cant") return n === "stand" ? put("I") : m;
  if (w === "used" && n === "to") return put("I");
  if (droppedSubjectPastEn.has(w) || droppedSubjectBaseEn.has(w)) return put("I");
  if (droppedSubjectPrepEn.get(w)?.has(n) === true) return put("I");
  if (
    w.length >= 6 &&
    w.endsWith("ing") &&
    droppedSubjectGerundsEn.some((g) => g === w || withinOneEdit(w, g))
  )
    return put("I'm");
  return m;
}

const rewritesEn: readonly Rewrite[] = [
  // "I love baking, especially sourdough": what is singled out is liked too
  [
    /(\b(?:love|loves|like|likes|enjoy|enjoys|adore|adores|into)\b[^.;!?]*?),\s*(?:especially|particularly|mostly|above all|in particular)\s+(?=\p{L})/giu,
    "$1, and ",
    ["especially", "particularly", "mostly", "above all", "in particular"],
  ],
  [
    /(^|[.!?]\s+)((?:just|recently|finally|also|really|still)\s+)?([\p{L}']+)(?:\s+([\p{L}']+))?/giu,
    droppedSubjectEn,
  ],
  [
    /\b(am|m|is|s|are|re|was|were|been|be)(\s+)(\p{Ll}{5,11})(?=\s+(?:to|at|by|with|in|as|for)\b)/giu,
    beAdjectiveTypo(beAdjectivesEn),
  ],
  [trailingFillersEn, "", ["tbh", "honest", "lol", "lmao", "haha", "hehe", "imo", "ngl", "tho", "xd"]],
  // "driving test tomorrow", "knee surgery on June 20th": an event and its time, with nothing else, is one's own
  [
    /(^|[.!?]\s+)((?:\p{Ll}+\s+){0,2}(?:interview|test|exam|surgery|operation|appointment|flight))(?=\s+(?:tomorrow|today|tonight|on|next|this|at|in)\b)/giu,
    "$1I have $2",
    ["interview", "test", "exam", "surgery", "operation", "appointment", "flight"],
  ],
  // "my bday", "my b-day"
  [
    /\bb-?days?\b/giu,
    (m: string) => (m.toLowerCase().endsWith("s") ? "birthdays" : "birthday"),
    ["bday", "b-day"],
  ],
  // "I'm allergic to nuts and to penicillin" → "… nuts and penicillin"
  [/(\bto\s+[^,.;!?]+?\s+and)\s+to\s+(?=\p{L})/giu, "$1 ", [" and to "]],
  // "I live in Leeds, not (in) York" → "I live in Leeds, I don't live in York"
  [
    /\b(I)\s+(live|work|study|grew up)\s+(in|at)\s+([^,.;!?]+?),\s*(?:but\s+)?not\s+(?:in\s+|at\s+)?(?=\p{L})/gu,
    (_m, i: string, verb: string, prep: string, place: string) =>
      `${i} ${verb} ${prep} ${place}, ${i} don't ${verb} ${prep} `,
    ["not"],
  ],
  // "…, although I live in Lyon": the concession is still a statement
  [/,\s*(?:al)?though\s+(?=(?:i|my|we|he|she|they)\b)/giu, ", but ", ["though"]],
  // "I do volunteer work at X", "I do volunteering at X"
  [/\b(I|we|they)\s+do\s+(?:some\s+)?(?:volunteer\s+work|volunteering)\b/giu, "$1 volunteer", ["volunteer"]],
  // "I have a cat called Mochi and a hamster named Pip" → two sentences with the same verb
  [
    /\b(I\s+(?:have|own|got)|I've\s+got)\s+([^.!?;]*?\b(?:called|named)\s+\p{Lu}[\p{L}'-]*),?\s+and\s+(?=(?:an?|one|two|three)\s+[\p{Ll}-]+\s+(?:called|named)\s)/gu,
    "$1 $2. $1 ",
    ["called", "named"],
  ],
  [/(\b(?:my|his|her|our)\s+|['’]s\s+)(\p{Ll}{4,9})(?=\s+is\b)/giu, attributeTypoEn, [" is"]],
  // "not sure if I told you, my name's…": wondering whether one said it does not make it a condition
  [
    /(^|[.!?]\s+)(?:not sure if|i'?m not sure if|i don'?t know if|dunno if|idk if|i forget if|i can'?t remember if)\s+i\s+(?:told|mentioned|said)(?:\s+(?:this|it|that))?(?:\s+(?:to\s+)?you)?(?:\s+(?:before|already))?\s*[,:-]?\s*(?:but\s+|that\s+)?/giu,
    "$1",
    ["told", "mentioned", "said"],
  ],
  // "off to Iceland in August", "I'm off to Rome": a trip
  [/\b(I'm|I’m|I am|im|Im)\s+off\s+to\s+(?=\p{Lu})/gu, "$1 travelling to ", ["off to"]],
  [/(^|[.!?]\s+)[Oo]ff\s+to\s+(?=\p{Lu})/gu, "$1I'm travelling to ", ["off to"]],
  // "I bought a bike": what one bought one has
  [
    /\b(I|we)\s+(?:just\s+|recently\s+)?(?:bought|purchased|got myself)\s+(?=(?:a|an|my|our|two|three|some)\b)/giu,
    "$1 have ",
    ["bought", "purchased", "got myself"],
  ],
  // "my brother is getting married to Chloe", "we're engaged": a partner before the wedding
  [/\b(is|are|am|'s|'re|'m)\s+getting\s+married\s+to\b/giu, "$1 engaged to", ["getting married"]],
  // "I'm not with Ryan anymore": no longer the speaker's partner
  [
    /\b(I'm|I am|im)\s+not\s+with\s+(\p{Lu}[\p{L}'-]*)\s+(?:anymore|any more|now)\b/gu,
    "$1 not dating $2 anymore",
    ["not with"],
  ],
  // "I'm more of a cat person", "I'm a dog person": what one likes
  [
    /\b(I'm|I am|im)\s+(?:more\s+of\s+|really\s+|definitely\s+|totally\s+)?an?\s+(\p{Ll}+)\s+person\b/giu,
    (_m, _be: string, thing: string) =>
      `I like ${thing.endsWith("s") || thing.toLowerCase() === "people" ? thing : `${thing}s`}`,
    ["person"],
  ],
  // "my name isn't Katherine, it's Kathryn" → "…, my name is Kathryn"
  [
    /\b([Mm]y\s+[\p{L}'-]+(?:\s+[\p{L}'-]+)?)\s+(?:isn't|isn’t|is not|'s not)\s+((?:called|named)\s+)?([^,.;!?]+),\s*(?:it's|it’s|it is|she's|he's|she is|he is|just|only)\s+(?!not\b)(?:(?:called|named)\s+)?/gu,
    (_m, who: string, called: string | undefined, wrong: string) =>
      `${who} isn't ${called ?? ""}${wrong}, ${who} is ${called ?? ""}`,
    ["not", "n't", "n’t"],
  ],
  // "I used to work at IBM but now I'm at the bank": being at a place after working is working there
  [
    /\b(work(?:s|ed)?\s+(?:at|for)\s+[^.;!?]+?,?\s+(?:but|and)?\s*(?:now|currently|these days)\s+)(I'm|I am|im)\s+at\b/giu,
    "$1I work at",
    ["now", "currently", "these days"],
  ],
  // "I'm Hannah, Josh's sister" → "I'm Hannah, I'm Josh's sister": an apposition to the speaker's name
  [new RegExp(`\\b(I'm|I’m|I am|im)\\s+(${name}),\\s+(?=${cap}'s\\s+\\p{Ll})`, "gu"), "$1 $2, $1 ", ["'s"]],
  // "mum's birthday is…": a parent named by the bare noun is the speaker's
  [/(^|[.!?]\s+)(mum|mom|dad|mama|papa|mommy|daddy)(['’]s\s+)/giu, "$1my $2$3", ["'s", "’s"]],
  // "my team is Liverpool": the team one supports
  [/\b([Mm]y)\s+team\s+(is|'s)\s+(?=(?:the\s+)?\p{Lu})/gu, "$1 favourite team $2 ", ["team"]],
  // "my mum says I'm lazy", "he thinks I'm rude": someone else's opinion of the speaker is no fact
  [
    /\b(says|said|thinks|thought|reckons|claims)\s+(?:that\s+)?(?:I'm|I am|im|I)\b[^.!?;]*/giu,
    "$1 so",
    ["says", "said", "thinks", "thought", "reckons", "claims"],
  ],
  // "Save this: I live in Leeds", "Note: …", "FYI - …"
  [
    /(^|[.!?]\s+)(?:save|store|remember|note|log|record|keep)\s+(?:this|that)\s*[:,-]\s*/giu,
    "$1",
    ["this", "that"],
  ],
  [
    /(^|[.!?]\s+)(?:don'?t|do not|never)\s+forget\s+(?:that\s+)?(?=(?:i|my|we|he|she)\b)/giu,
    "$1",
    ["forget"],
  ],
  [/(^|[.!?]\s+)(?:fyi|btw|ps|p\.s\.)\s*[:,-]?\s*/giu, "$1", ["fyi", "btw", "ps", "p.s."]],
  // "I'm employed at/by X", "my dad is employed as a nurse"
  [
    /\b(i|he|she|we|they|\p{L}+)(?:\s+|['’])(am|m|is|s|are|re)\s+(?:currently\s+|now\s+)?employed\s+(at|by|with|in|as)\b/giu,
    employedEn,
    ["employed"],
  ],
  // "I'm based in X"
  [
    /\b(i|he|she|we|they|\p{L}+)(?:\s+|['’])(am|m|is|s|are|re)\s+(?:currently\s+|now\s+)?(?:based|located|settled|stationed)\s+(?:in|out of)\b/giu,
    basedEn,
    ["based", "located", "settled", "stationed"],
  ],
  // "I'm living in X" is read; "I reside in" is a verb of the table
  // "Neither my wife nor I speak Italian"
  [
    new RegExp(
      `(?<=^|[.!?]\\s+|,\\s*)[Nn]either\\s+((?:[Mm]y\\s+)?[\\p{L}'-]+(?:\\s+${cap})?)\\s+nor\\s+(I|he|she|we|they|my\\s+[\\p{L}'-]+(?:\\s+${cap})?|${name})\\s+([\\p{L}']+)\\s+`,
      "gu",
    ),
    neitherNorEn,
    ["neither"],
  ],
  // "I speak neither French nor German" → "I don't speak French or German"
  [
    /\b(i|we|they)\s+(\p{Ll}+)\s+neither\s+([\p{L}' -]+?)\s+nor\s+/giu,
    (_m, who: string, verb: string, a: string) => `${who} don't ${verb} ${a} or `,
    ["neither"],
  ],
  // "Ben and Aisha both work at X", "I speak both Hindi and Urdu"
  [/(?<=\p{L}\s+)both\s+(?!of\b)/giu, "", ["both"]],
  // "My grandma Edith's birthday is June 1st" → the kin fact, then the attribute with the name
  [
    new RegExp(`\\b(my)\\s+(\\p{Ll}+(?:\\s+\\p{Ll}+)?)\\s+(${name})'s\\s+(?=\\p{Ll})`, "gu"),
    (_m, my: string, kin: string, who: string) => `${my} ${kin} is called ${who}. ${who}'s `,
    ["'s"],
  ],
  [
    new RegExp(`\\b(My)\\s+(\\p{Ll}+(?:\\s+\\p{Ll}+)?)\\s+(${name})'s\\s+(?=\\p{Ll})`, "gu"),
    (_m, my: string, kin: string, who: string) => `${my} ${kin} is called ${who}. ${who}'s `,
    ["'s"],
  ],
];

const livesEs = new Map([
  ["estoy", "vivo"],
  ["esta", "vive"],
  ["estamos", "vivimos"],
  ["estan", "viven"],
]);
const volunteerEs = new Map([
  ["hago", "soy voluntario"],
  ["hace", "es voluntario"],
  ["hacemos", "somos voluntarios"],
  ["hacen", "son voluntarios"],
]);

function neitherNorEs(_m: string, a: string, b: string): string {
  return `${a} y ${b} no `;
}

const rewritesEs: readonly Rewrite[] = [
  // "me encanta cocinar, sobre todo comida thai": lo que se destaca también gusta
  [
    /(\b(?:gusta|gustan|encanta|encantan|chifla|chiflan|flipa|flipan)\b[^.;!?]*?),\s*(?:sobre\s*todo|especialmente|en especial|en particular|principalmente)\s+(?=\p{L})/giu,
    "$1, y ",
    ["sobre", "especial", "particular", "principalmente"],
  ],
  // "Oye, que mi marido…", "Pues que vivo en…": a leading "que" only introduces the statement
  [/(^|[.!?]\s+)((?:oye|mira|pues|bueno|ah|eh)\s*,?\s+)que\s+/giu, "$1", ["que"]],
  [/(^|[.!?]\s+)que\s+(?=(?:mi|mis|yo|vivo|trabajo|soy|tengo|estoy|me)\b)/giu, "$1", ["que"]],
  [
    /(^|[.!?]\s+)(?:guarda|apunta|anota|recuerda|memoriza)\s+(?:esto|eso)\s*[:,-]\s*/giu,
    "$1",
    ["esto", "eso"],
  ],
  [
    /(^|[.!?]\s+)(?:no\s+(?:te\s+)?olvides(?:\s+de)?|ojo)\s*(?:que\s+|,\s*|:\s*)(?=\p{L})/giu,
    "$1",
    ["olvid", "ojo"],
  ],
  // "Ni mi hermano ni yo hablamos francés" → "mi hermano y yo no hablamos francés"
  [
    new RegExp(
      `(?<=^|[.!?¡¿]\\s*|,\\s*)[Nn]i\\s+((?:[Mm]i|[Mm]is)\\s+[\\p{L}-]+(?:\\s+${cap})?|${name}|yo|él|ella|tú)\\s+ni\\s+((?:mi|mis)\\s+[\\p{L}-]+(?:\\s+${cap})?|${name}|yo|él|ella|tú|nosotros|nosotras)\\s+`,
      "gu",
    ),
    neitherNorEs,
    ["ni "],
  ],
  // "mi equipo es el Betis": el equipo del que uno es
  [/\b([Mm]i)\s+equipo\s+es\s+(?=(?:el\s+)?\p{Lu})/gu, "$1 equipo favorito es ", ["equipo"]],
  // "Dani dice que soy muy pesada": la opinión de otro sobre uno no es un hecho
  [
    /\b(dice|dicen|decía|decían|piensa|piensan|cree|creen|opina|opinan)\s+que\s+(?:yo\s+)?(?:soy|estoy|tengo|era|estaba)\b[^.!?;]*/giu,
    "$1 eso",
    ["dice", "piensa", "cree", "opina", "decía"],
  ],
  // "soy Paula, la hermana de Javier" → "soy Paula, soy la hermana de Javier": an apposition to the name
  [
    new RegExp(`\\b(soy|es)\\s+(${name}),\\s+(?=(?:el|la)\\s+\\p{Ll}+\\s+de\\s)`, "gu"),
    "$1 $2, $1 ",
    ["soy ", "es "],
  ],
  // "no me acuerdo si te dije que me llamo Iñaki": wondering whether one said it does not make it a condition
  [
    /(^|[.!?]\s+)no\s+(?:me\s+acuerdo|sé|se|recuerdo)\s+si\s+(?:ya\s+)?(?:te\s+)?(?:lo\s+)?(?:dije|he\s+dicho|comenté|comente|conté|conte|había\s+dicho)(?:\s+ya)?\s*[,:]?\s*(?:que\s+|pero\s+)?/giu,
    "$1",
    ["dije", "dicho", "coment", "cont"],
  ],
  // "me voy de vacaciones a Croacia": a trip
  [
    /\b(?:[Mm]e|[Nn]os)\s+(?:voy|vamos|iré|iremos|fui|fuimos)\s+de\s+(?:vacaciones|viaje|puente|escapada)\s+a\s+(?=\p{Lu})/gu,
    (m: string) => (/^nos/i.test(m) ? "viajamos a " : "viajo a "),
    ["vacaciones", "viaje", "puente", "escapada"],
  ],
  // "me acabo de comprar una bici", "me compré un coche": lo que uno se compra lo tiene
  [
    /\b(?:me\s+)?(?:acabo\s+de\s+comprar(?:me)?|me\s+compré|me\s+compre|compré|he\s+comprado|me\s+he\s+comprado)\s+(?=(?:un|una|unos|unas|dos|tres|mi)\b)/giu,
    "tengo ",
    ["compr"],
  ],
  // "mi hermano se casa con Irene en mayo": la pareja antes de la boda
  [
    /\b(se|me)\s+casa(?:n)?\s+con\b/giu,
    (_m, c: string) => `${c.toLowerCase() === "me" ? "estoy" : "está"} prometido con`,
    ["casa"],
  ],
  [/\bme\s+caso\s+con\b/giu, "estoy prometido con", ["caso"]],
  // "ya no estoy con Marcos": ya no es la pareja
  [
    /\bya\s+no\s+(estoy|está|esta)\s+con\s+(?=\p{Lu})/gu,
    (_m, be: string) => `ya no ${fold(be) === "estoy" ? "salgo" : "sale"} con `,
    ["no est"],
  ],
  // "soy más de gatos": lo que a uno le gusta
  [
    /\bsoy\s+(?:más|mas|muy)\s+de\s+(?=(?:(?:los|las)\s+)?[a-zñáéíóú]+s\b)/giu,
    "me gustan ",
    ["mas de", "más de", "muy de"],
  ],
  // "no me llamo Juan Antonio, solo Antonio" → "…, me llamo Antonio"
  [
    /\b([Nn]o\s+)(me|te|se)\s+(llamo|llamas|llama|llaman)\s+([^,.;!?]+),\s*(?:sino|solo|sólo|solamente|simplemente)\s+/gu,
    (_m, no: string, clitic: string, verb: string, wrong: string) =>
      `${no}${clitic} ${verb} ${wrong}, ${clitic} ${verb} `,
    ["llam"],
  ],
  // "trabajaba en Indra pero ahora estoy en Accenture": being somewhere after working is working there
  [
    /\b(trabaj\p{L}*\s+(?:en|para)\s+[^.;!?]+?,?\s+(?:pero|y)?\s*(?:ahora|actualmente|hoy)\s+)(?:estoy|ando)\s+en\b/giu,
    "$1trabajo en",
    ["ahora", "actualmente", "hoy"],
  ],
  // "acabo de mudarme a Málaga" → "me acabo de mudar a Málaga": the clitic climbs before the auxiliary
  [
    /\b((?:acab(?:o|as|a|amos|an|é|ó)\s+de|(?:voy|vas|va|vamos|van|fui|fue|fuimos|fueron)\s+a)\s+)(\p{L}+?[aei]r)(me|te|se|nos)\b/giu,
    (_m, aux: string, verb: string, clitic: string) => `${clitic} ${aux}${verb}`,
    ["me", "se", "te", "nos"],
  ],
  // "me fui a vivir a Cádiz": having gone to live somewhere is having moved there ("me voy a vivir a…" is a
  // plan, and a plan is not where one lives yet)
  [
    /\b(me|te|se|nos)\s+(fui|fuiste|fue|fuimos|fueron)\s+a\s+(?:vivir|mudar)\s+(?=a\b|al\b)/giu,
    (_m, clitic: string) => {
      const c = clitic.toLowerCase();
      return `${clitic} ${c === "me" ? "mudé" : c === "nos" ? "mudamos" : c === "te" ? "mudaste" : "mudó"} `;
    },
    ["vivir", "mudar"],
  ],
  // "me he mudado a Vigo" → "me mudé a Vigo"
  [
    /\b(me|se|nos)\s+(?:he|ha|hemos|han)\s+(?:mudado|trasladado)\b/giu,
    (_m, p: string) =>
      `${p} ${p.toLowerCase() === "me" ? "mudé" : p.toLowerCase() === "nos" ? "mudamos" : "mudó"}`,
    ["mudado", "trasladado"],
  ],
  // "Ana y Luis trabajan ambos en…", "ambos trabajan en…"
  [
    /(?<=\p{L}\s+)(?:ambos|ambas|los dos|las dos)\s+(?!de\b)/giu,
    "",
    ["ambos", "ambas", "los dos", "las dos"],
  ],
  // "El cumpleaños de mi abuela Remedios es el 1 de junio" → "mi abuela Remedios cumple años el 1 de junio"
  [
    new RegExp(
      `\\b[Ee]l\\s+cumplea[ñn]os\\s+de\\s+((?:mi|mis)\\s+\\p{Ll}+\\s+${name}|${name})\\s+es\\s+(?:el\\s+)?`,
      "gu",
    ),
    (_m, who: string) => `${who} cumple años el `,
    ["cumplea"],
  ],
  [
    /\b(soy|es|eres|somos|son|estoy|está|esta|estás|estamos|están)(\s+)(\p{Ll}{5,11})(?=\s+(?:a|al|en|con)\b)/giu,
    beAdjectiveTypo(beAdjectivesEs),
  ],
  [trailingFillersEs, "", ["jaja", "jeje", "jiji", "xd", "verdad", "sinceramente", "eh"]],
  // "Que no se me olvide: …", "Para que no se me olvide, …": a reminder head adds nothing either
  [/(^|[.!?]\s+)(?:para\s+)?que\s+no\s+se\s+me\s+olvide\s*[:,-]\s*/giu, "$1", ["olvide"]],
  // "…, que no se te olvide", "…, no lo olvides": a reminder tail adds nothing to the statement
  [/,?\s*(?:que\s+)?no\s+(?:se\s+te\s+|te\s+)?(?:lo\s+)?olvid(?:e|es)\b/giu, "", ["olvid"]],
  // "mi cumple", "el cumple de Ana": the short form of "cumpleaños"
  [/\b(mi|tu|su|el|del)\s+cumple\b(?!\s+(?:años|\d))/giu, "$1 cumpleaños", ["cumple "]],
  // "estoy afincado en Vigo" → "vivo en Vigo"
  [
    /\b(estoy|está|esta|estamos|están|estan)\s+(?:afincad|radicad|establecid)[oa]s?\s+en\b/giu,
    (_m, be: string) => `${livesEs.get(fold(be)) ?? "vive"} en`,
    ["afincad", "radicad", "establecid"],
  ],
  // "hago voluntariado en Cáritas" → "soy voluntario en Cáritas"
  [
    /\b(hago|hace|hacemos|hacen)\s+(?:de\s+)?voluntariado\s+(en|con|para)\b/giu,
    (_m, verb: string, prep: string) => `${volunteerEs.get(fold(verb)) ?? "es voluntario"} ${prep}`,
    ["voluntariado"],
  ],
  // "Soy de Córdoba, aunque vivo en Lyon": the concession is still a statement
  [/,\s*aunque\s+(?=(?:yo|mi|mis|vivo|trabajo|estudio|soy|tengo|hablo|me)\b)/giu, ", pero ", ["aunque"]],
  // "Vivo en Albacete, no en Alicante" → "…, no vivo en Alicante"
  [
    /\b(vivo|vive|vivimos|viven|trabajo|trabaja|trabajamos|trabajan|estudio|estudia)\s+en\s+([^,.;!?]+?),\s*(?:y\s+)?no\s+en\s+(?=\p{L})/giu,
    (_m, verb: string, place: string) => `${verb} en ${place}, no ${verb.toLowerCase()} en `,
    ["no en"],
  ],
  // "No hablo alemán, pero sí francés" → "…, pero hablo francés"
  [
    /\b([Nn]o\s+)((?:me|te|le|nos|les|se)\s+)?(\p{L}+)(\s+[^,.;!?]+?),?\s+pero\s+s[ií]\s+(?=\p{L})/gu,
    (_m, no: string, clitic: string | undefined, verb: string, rest: string) =>
      `${no}${clitic ?? ""}${verb}${rest}, pero ${clitic ?? ""}${verb} `,
    ["pero si", "pero sí"],
  ],
  // "alérgico a las nueces y a la penicilina" → "… y la penicilina"
  [
    /(\b(?:a\s+(?:la|las|los|el|un|una|unos|unas)|al)\s+[^,.;!?]+?\s+y)\s+(?:a\s+(?=(?:la|las|los|el|un|una|unos|unas)\s+(?!vez\b))|al\s+(?=\p{L}))/giu,
    (m: string, head: string) => (/\sal\s+$/iu.test(m) ? `${head} el ` : `${head} `),
    [" y a", " y al "],
  ],
  // "Mi jefa, la Dra. Ortega, …": the article before a title in an apposition
  [/,\s+(?:el|la)\s+(?=(?:Dr|Dra|Sr|Sra|Srta|Prof|Profa|Lic|Ing)\.?\s+\p{Lu})/gu, ", ", [", el ", ", la "]],
  // "Tengo un gato llamado Mochi y un hámster llamado Pip" → two sentences with the same verb
  [
    /\b([Tt]engo)\s+([^.!?;]*?\b(?:llamad[oa]|que se llama)\s+\p{Lu}[\p{L}'-]*),?\s+y\s+(?=(?:un|una|otro|otra|dos|tres)\s+[\p{Ll}-]+\s+(?:llamad[oa]|que se llama)\s)/gu,
    "$1 $2. $1 ",
    ["llama"],
  ],
];

/**
 * A self-correction: "trabajo en Apex, digo, en Acme", "I work as a nurse, I mean a healthcare assistant". What
 * follows the marker replaces the end of the clause before it, from the last word it starts with ("en", "de",
 * "as"), or from the last article when it starts with one, or the last name when it is a name.
 */
const correctionMarker =
  /,\s*(?:digo|perd[oó]n|quiero decir|mejor dicho|i mean|i meant|or rather|sorry,)\s*[,:]?\s+(?=\p{L})/giu;
const correctionArticles = new Set(["a", "an", "the", "un", "una", "el", "la", "los", "las", "unos", "unas"]);

function applyCorrections(text: string): string {
  let out = text;
  for (let guard = 0; guard < 4; guard++) {
    correctionMarker.lastIndex = 0;
    const m = correctionMarker.exec(out);
    if (m === null) break;
    const at = m.index;
    const headStart = Math.max(...[",", ".", ";", "!", "?", ":"].map((c) => out.lastIndexOf(c, at - 1))) + 1;
    const head = out.slice(headStart, at);
    const tailStart = at + m[0].length;
    const tailEnd = out.slice(tailStart).search(/[,.;!?]/u);
    const tail = tailEnd < 0 ? out.slice(tailStart) : out.slice(tailStart, tailStart + tailEnd);
    const first = /^[\p{L}'’-]+/u.exec(tail)?.[0] ?? "";
    const words = [...head.matchAll(/[\p{L}\p{N}'’-]+/gu)];
    const lower = first.toLowerCase();
    let cut = -1;
    for (let w = words.length - 1; w > 0 && cut < 0; w--) {
      const word = words[w];
      if (word !== undefined && word[0].toLowerCase() === lower) cut = word.index;
    }
    if (cut < 0 && correctionArticles.has(lower)) {
      for (let w = words.length - 1; w > 0 && cut < 0; w--) {
        const word = words[w];
        if (word !== undefined && correctionArticles.has(word[0].toLowerCase())) cut = word.index;
      }
    }
    if (cut < 0 && /^\p{Lu}/u.test(first)) {
      // "trabajo en Apex, digo, Acme": the last run of capitalised words
      for (let w = words.length - 1; w > 0; w--) {
        const word = words[w];
        if (word === undefined || !/^\p{Lu}/u.test(word[0])) break;
        cut = word.index;
      }
    }
    if (cut < 0) {
      // Not a correction the rules can place: drop the marker only
      out = out.slice(0, at) + ", " + out.slice(tailStart);
      continue;
    }
    out = out.slice(0, headStart) + head.slice(0, cut) + out.slice(tailStart);
  }
  return out;
}

/** The text with the paraphrases of `lang` rewritten into forms the rules read. */
export function rewriteText(text: string, lang: Language): string {
  let out = applyCorrections(text);
  let lower = text.toLowerCase();
  for (const [pattern, replacement, hints] of lang === "es" ? rewritesEs : rewritesEn) {
    if (hints !== undefined && !hints.some((h) => lower.includes(h))) continue;
    pattern.lastIndex = 0;
    if (!pattern.test(out)) continue;
    pattern.lastIndex = 0;
    out =
      typeof replacement === "string" ? out.replace(pattern, replacement) : out.replace(pattern, replacement);
    lower = out.toLowerCase();
  }
  return out;
}
