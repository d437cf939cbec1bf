/**
 * Word lists for the rule extractor, Spanish and English. Every key is lowercase with accents folded (see
 * `fold`), so "mamá" and "mama" share an entry; where accents matter the rules look at the token's `low`.
 */
import { fold, tokenize } from "./tokens.js";

/** A person or animal the speaker can have: "hermana" → sister, "perro" → dog. */
export interface KinEntry {
  relation: string;
  gender?: "f" | "m";
  plural: boolean;
  /** A pet rather than a person: its name is the object of `dog`, `cat` or `pet`. */
  pet: boolean;
}

/** Whitespace-separated words → folded set. */
function set(...lists: string[]): ReadonlySet<string> {
  const out = new Set<string>();
  for (const list of lists) for (const w of list.split(/\s+/)) if (w) out.add(fold(w.replace(/_/g, " ")));
  return out;
}

/** "word:value word2:value2" → folded map. Underscores in words stand for spaces. */
function map(list: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const item of list.split(/\s+/)) {
    if (!item) continue;
    const cut = item.lastIndexOf(":");
    out.set(fold(item.slice(0, cut).replace(/_/g, " ")), item.slice(cut + 1));
  }
  return out;
}

/** "word:value" → folded map of numbers. */
function numbers(list: string): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  for (const [word, value] of map(list)) out.set(word, Number(value));
  return out;
}

/** "word:relation:gender[:p]" entries; gender is f, m or - ; a trailing `p` marks a plural. */
function kin(list: string, pet: boolean): ReadonlyMap<string, KinEntry> {
  const out = new Map<string, KinEntry>();
  for (const item of list.split(/\s+/)) {
    if (!item) continue;
    const [word = "", relation = "", gender = "-", plural] = item.split(":");
    const entry: KinEntry = { relation, plural: plural === "p", pet };
    if (gender === "f" || gender === "m") entry.gender = gender;
    out.set(fold(word.replace(/_/g, " ")), entry);
  }
  return out;
}

/** Spanish kinship, social and pet nouns → relation. */
export const kinEs: ReadonlyMap<string, KinEntry> = new Map([
  ...kin(
    `hermana:sister:f hermano:brother:m hermanas:sister:f:p hermanos:sibling:-:p madre:mother:f mamá:mother:f
    mami:mother:f padre:father:m papá:father:m papi:father:m padres:parent:-:p esposa:wife:f mujer:wife:f
    esposo:husband:m marido:husband:m pareja:partner:- novio:partner:m novia:partner:f prometido:partner:m
    prometida:partner:f hijo:son:m hija:daughter:f hijos:child:-:p hijas:daughter:f:p primo:cousin:m
    prima:cousin:f primos:cousin:-:p primas:cousin:f:p tío:uncle:m tía:aunt:f tíos:uncle:-:p tías:aunt:f:p
    abuela:grandmother:f abuelo:grandfather:m abuelos:grandparent:-:p abuelas:grandmother:f:p
    nieto:grandson:m nieta:granddaughter:f nietos:grandchild:-:p sobrino:nephew:m sobrina:niece:f
    sobrinos:nephew:-:p sobrinas:niece:f:p nietas:granddaughter:f:p suegra:mother_in_law:f suegro:father_in_law:m cuñado:brother_in_law:m
    cuñada:sister_in_law:f amigo:friend:m amiga:friend:f amigos:friend:-:p amigas:friend:f:p jefe:boss:m
    jefa:boss:f compañero:colleague:m compañera:colleague:f compañeros:colleague:-:p colega:colleague:-
    compi:colleague:- compis:colleague:-:p
    vecino:neighbor:m vecina:neighbor:f vecinos:neighbor:-:p familia:family:- madrina:godmother:f padrino:godfather:m
    profesor:teacher:m profesora:teacher:f médico:doctor:m médica:doctor:f doctora:doctor:f
    psicólogo:therapist:m psicóloga:therapist:f entrenador:coach:m entrenadora:coach:f`,
    false,
  ),
  ...kin(
    `perro:dog:m perra:dog:f perrito:dog:m perrita:dog:f cachorro:dog:m perros:dog:-:p gato:cat:m gata:cat:f
    gatito:cat:m gatita:cat:f gatos:cat:-:p mascota:pet:f conejo:pet:m coneja:pet:f pájaro:pet:m loro:pet:m
    hámster:pet:m tortuga:pet:f pez:pet:m caballo:pet:m yegua:pet:f cobaya:pet:f periquito:pet:m
    canario:pet:m hurón:pet:m serpiente:pet:f`,
    true,
  ),
]);

/** English kinship, social and pet nouns → relation. */
export const kinEn: ReadonlyMap<string, KinEntry> = new Map([
  ...kin(
    `sister:sister:f brother:brother:m sisters:sister:f:p brothers:brother:m:p siblings:sibling:-:p
    sibling:sibling:- mother:mother:f mom:mother:f mum:mother:f mommy:mother:f mummy:mother:f mama:mother:f
    father:father:m dad:father:m daddy:father:m papa:father:m parents:parent:-:p wife:wife:f
    husband:husband:m spouse:partner:- partner:partner:- boyfriend:partner:m girlfriend:partner:f
    fiancé:partner:m fiancée:partner:f fiance:partner:m fiancee:partner:f son:son:m daughter:daughter:f
    sons:son:m:p daughters:daughter:f:p kids:child:-:p children:child:-:p child:child:- kid:child:-
    cousin:cousin:- cousins:cousin:-:p uncle:uncle:m aunt:aunt:f auntie:aunt:f grandmother:grandmother:f
    grandma:grandmother:f granny:grandmother:f nana:grandmother:f nan:grandmother:f
    nanna:grandmother:f gran:grandmother:f grandfather:grandfather:m gramps:grandfather:m hubby:husband:m
    grandpa:grandfather:m granddad:grandfather:m grandad:grandfather:m grandparents:grandparent:-:p
    grandson:grandson:m granddaughter:granddaughter:f nephew:nephew:m niece:niece:f nephews:nephew:m:p
    nieces:niece:f:p aunts:aunt:f:p uncles:uncle:m:p grandchildren:grandchild:-:p grandsons:grandson:m:p
    granddaughters:granddaughter:f:p
    mother-in-law:mother_in_law:f father-in-law:father_in_law:m brother-in-law:brother_in_law:m
    sister-in-law:sister_in_law:f friend:friend:- friends:friend:-:p buddy:friend:m pal:friend:-
    bestie:friend:- boss:boss:- manager:boss:- supervisor:boss:- colleague:colleague:-
    colleagues:colleague:-:p coworker:colleague:- co-worker:colleague:- coworkers:colleague:-:p
    workmate:colleague:- neighbor:neighbor:- neighbour:neighbor:- neighbors:neighbor:-:p
    neighbours:neighbor:-:p family:family:- roommate:roommate:- flatmate:roommate:- housemate:roommate:-
    teacher:teacher:- doctor:doctor:- therapist:therapist:- coach:coach:- godmother:godmother:f
    godfather:godfather:m stepmother:stepmother:f stepfather:stepfather:m stepson:stepson:m
    stepdaughter:stepdaughter:f`,
    false,
  ),
  ...kin(
    `dog:dog:- puppy:dog:- pup:dog:- doggy:dog:- dogs:dog:-:p cat:cat:- kitten:cat:- kitty:cat:- cats:cat:-:p
    pet:pet:- rabbit:pet:- bunny:pet:- bird:pet:- parrot:pet:- hamster:pet:- turtle:pet:- tortoise:pet:-
    fish:pet:- goldfish:pet:- horse:pet:- snake:pet:- lizard:pet:- ferret:pet:- budgie:pet:- pony:pet:-`,
    true,
  ),
]);

/** Family relations: "soy la hermana de Pedro" is someone else's kinship, not a trait of the speaker. */
export const familyRelations: ReadonlySet<string> = new Set(
  `sister brother sibling mother father parent wife husband son daughter child cousin uncle aunt grandmother
  grandfather grandparent grandson granddaughter grandchild nephew niece mother_in_law father_in_law
  brother_in_law sister_in_law godmother godfather stepmother stepfather stepson stepdaughter`
    .split(/\s+/)
    .filter(Boolean),
);

/** Words before a kinship noun that stay in the subject ("mi mejor amiga", "my little sister"). */
export const kinPreAdjectivesEs = set("mejor querida querido gran antigua antiguo nueva nuevo ex");
/** English words before a kinship noun that stay in the subject ("my little sister"). */
export const kinPreAdjectivesEn = set(
  "best older younger little big oldest youngest eldest elder baby twin new dear late ex ex- old good close",
);
/** Words after a kinship noun that stay in the subject ("mi hermana mayor", "compañero de trabajo"). */
export const kinPostAdjectivesEs = set(
  `mayor menor pequeña pequeño mediana mediano gemela gemelo melliza mellizo grande chica chico favorita
  favorito querida querido actual nueva nuevo materna materno paterna paterno política político segunda
  segundo tercera tercero`,
);
/** "compañero de trabajo", "compañera de piso": the `de X` that belongs to the noun, and what it makes it. */
export const kinDeComplementsEs: ReadonlyMap<string, string> = map(
  "trabajo:colleague oficina:colleague piso:roommate clase:classmate universidad:classmate equipo:colleague",
);

/** Spanish articles, dropped before an object. */
export const articlesEs = set("el la los las un una unos unas lo");
/** English articles and "some", dropped before an object. */
export const articlesEn = set("the a an some");
/** Spanish possessives of someone other than the speaker. */
export const possessivesOtherEs = set("su sus tu tus");
/** English possessives of someone other than the speaker. */
export const possessivesOtherEn = set("his her their your its");
/** "nuestro hijo", "our dog": the speaker's too, a little less surely. */
export const possessivesOurEs = set("nuestro nuestra nuestros nuestras");

/** ES determiners and quantifiers dropped before an object, as in "un poco de alemán". */
export const objectPrefixesEs: ReadonlyArray<readonly string[]> = [
  ["un", "poco", "de"],
  ["un", "poco"],
  ["algo", "de"],
  ["mucho"],
  ["mucha"],
  ["muchos"],
  ["muchas"],
  ["muchisimo"],
  ["muchisima"],
  ["muchisimos"],
  ["muchisimas"],
  ["bastante"],
  ["bastantes"],
  ["sobre", "todo"],
  ["especialmente"],
  ["tambien"],
  ["nada", "de"],
  ["nada"],
  ["mas"],
];
/** EN quantifiers dropped before an object, as in "a little French". */
export const objectPrefixesEn: ReadonlyArray<readonly string[]> = [
  ["a", "little", "bit", "of"],
  ["a", "bit", "of"],
  ["a", "little"],
  ["a", "lot", "of"],
  ["lots", "of"],
  ["fluent"],
  ["some"],
  ["any"],
  ["especially"],
  ["also"],
];

/** Spanish negators before a verb ("ya no" is read as two words). */
export const negatorsEs = set("no nunca jamás tampoco");

/** Adverbs allowed between subject and verb or verb and preposition; they change nothing. */
export const adverbsEs = set(
  `también todavía aún actualmente ahora sólo solo siempre ya normalmente además realmente aquí hoy_en_día
  muy mucho bastante principalmente sobre_todo especialmente igualmente recientemente ahorita`,
);
/** English adverbs allowed around the verb; they change nothing. */
export const adverbsEn = set(
  `really also still currently now just actually totally absolutely definitely truly usually always
  already even honestly genuinely mostly mainly only recently presently here so too seriously hard late
  early remotely online abroad full-time part-time fulltime parttime`,
);

/** Words that end an object: "me gusta el café también", "I like tea a lot". */
export const objectStopWordsEs = set(
  `también tampoco mucho muchísimo bastante un_montón ya ahora actualmente todavía aún hoy ayer mañana
  porque pero aunque sino que cuando donde mientras si como desde hasta durante con sin para por según
  y e o u ni ahí allí allá aquí así nada demasiado tanto entonces luego después antes siempre casi muy
  normalmente cada jaja jajaja jajajaja jeje jejeje xd lol`,
);
/** Words that end an English object: "I like tea a lot". */
export const objectStopWordsEn = set(
  `too also a_lot very_much so_much anymore any_more either now still currently really though although
  because but since until when where while if as with without for from by than that which who whom whose
  and or nor so then today yesterday tomorrow here there at_all lots quite always usually sometimes lol
  haha hahaha lmao xd`,
);

/** Clause openers that make the clause a wish, plan or condition: no fact ("si viviera…", "quiero vivir…"). */
export const clauseBlockersEs = set(
  `si ojalá quiero quisiera querría queremos quieren gustaría encantaría sueño espero deseo podría debería
  tendría haría voy vamos pienso planeo necesito tal_vez quizás quizá a_lo_mejor cuando mientras imagina
  imagínate supongamos supón ni_siquiera`,
);
/** English clause openers that make the clause a wish, plan or condition. */
export const clauseBlockersEn = set(
  `if wish would could should might may must shall will want wanna hope plan planning gonna maybe perhaps
  probably imagine suppose when whenever once unless whether`,
);
/** Sentence openers that make it a question or a request: no fact ("¿dónde vive Ana?", "tell me a joke"). */
export const sentenceBlockersEs = set(
  `dime dame escribe escríbeme haz hazme ayúdame ayuda explica explícame traduce tradúceme resume resúmeme
  busca búscame muestra muéstrame enséñame cuéntame pon ponme abre cierra llámame envía envíame manda
  mándame crea créame genera calcula recomiéndame recomienda sugiere sugiéreme dile di puedes podrías
  quieres lee léeme apaga enciende activa desactiva programa reserva agenda añade agrega borra elimina
  olvida olvídate recuérdame avísame pregunta compara analiza corrige revisa comprueba describe define elige
  inventa canta dibuja hagamos porfa porfavor por_favor qué dónde quién quiénes cuál cuáles cuándo cómo
  cuánto cuánta cuántos cuántas donde quien quienes cual cuales cuanto cuanta cuantos cuantas sabes
  sabías conoces tienes eres estás vives trabajas te_gusta`,
);
/** English sentence openers that make it a question or a request. */
export const sentenceBlockersEn = set(
  `tell give write make help explain translate summarize summarise find search look show list create
  generate calculate recommend suggest say send open close set book schedule add delete remove forget play
  read check compare describe define pick choose pretend let lets please stop start turn switch draft
  compose fix correct review teach sing draw rewrite answer guess what where who whom whose which why how
  do does did is are am was were can could would will should shall may might must have has had`,
);

/** Words that open a clause without changing it ("bueno, vivo en Madrid"). */
export const fillersEs = set(
  `bueno pues vale oye mira bien ah eh ay hmm mmm ok okay y e pero además entonces luego claro vaya jaja
  jeje jajaja jejeje hola buenas hey venga total ahh oh uf puf genial perfecto`,
);
/** Words that open an English clause without changing it ("well, I live in Leeds"). */
export const fillersEn = set(
  `well so oh ah um uh hmm ok okay yes yeah yep nope and but also anyway anyways btw actually basically
  honestly hey hi hello sure right lol haha then plus alright great cool oops wow ps p.s now nowadays
  currently`,
);

/** Discourse prefixes that carry a statement after them: stripped before the statement is read. */
export const statementPrefixesEs: ReadonlyArray<readonly string[]> = [
  "por favor",
  "porfa",
  "recuerda que",
  "recuerda esto",
  "recuerda",
  "recuerdame que",
  "acuerdate de que",
  "acuerdate que",
  "no olvides que",
  "no te olvides de que",
  "ten en cuenta que",
  "que sepas que",
  "quiero que sepas que",
  "quiero contarte que",
  "te cuento que",
  "te comento que",
  "te digo que",
  "te aviso que",
  "sabes que",
  "ya sabes que",
  "como sabes",
  "como ya sabes",
  "apunta que",
  "anota que",
  "guarda que",
  "memoriza que",
  "toma nota de que",
  "toma nota",
  "para que lo sepas",
  "para que conste",
  "la verdad es que",
  "lo cierto es que",
  "resulta que",
  "por cierto",
  "dato curioso",
  "creo que",
  "nota",
  "dato",
  "por otro lado",
  "en realidad",
  "de hecho",
  "por lo demas",
  "bueno pues",
  "pues nada",
  "en fin",
  "la verdad",
  "ah y",
  "ah por cierto",
].map((p) => p.split(" "));
/** English discourse prefixes that carry a statement after them, as token keys. */
export const statementPrefixesEn: ReadonlyArray<readonly string[]> = [
  "please remember that",
  "please",
  "remember that",
  "remember this",
  "remember",
  "remind me that",
  "don't forget that",
  "do not forget that",
  "keep in mind that",
  "bear in mind that",
  "note that",
  "please note that",
  "make a note that",
  "take note that",
  "just so you know",
  "so you know",
  "for your information",
  "fyi",
  "for the record",
  "i want you to know that",
  "i wanted to tell you that",
  "i wanted to let you know that",
  "let me tell you that",
  "just to let you know",
  "just letting you know",
  "as you know",
  "you know",
  "by the way",
  "btw",
  "fun fact",
  "in fact",
  "the truth is that",
  "the truth is",
  "i think that",
  "i think",
  "i believe that",
  "i believe",
  "note",
  "save that",
  "oh and",
  "oh by the way",
  "on another note",
].map((p) => tokenize(p, true).map((t) => t.key));

/** Short tags after a statement that make the sentence end in "?" without asking about it. */
export const questionTagsEs = set("y tú usted vos verdad no sabes vale cierto eh");
/** English tags after a statement ("…, and you?"). */
export const questionTagsEn = set("and you right no eh ok okay yeah what how huh");

/** Spanish days of the week. */
export const weekdaysEs = set(
  "lunes martes miércoles jueves viernes sábado domingo sábados domingos findes finde fin_de_semana",
);
/** English days of the week. */
export const weekdaysEn = set(
  `monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays fridays
  saturdays sundays weekend weekends`,
);
/** Spanish months. */
export const monthsEs = set(
  "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre",
);
/** English months and their abbreviations. */
export const monthsEn = set(
  `january february march april may june july august september october november december jan feb mar apr jun
  jul aug sep sept oct nov dec`,
);
/** Spanish units and parts of time ("años", "verano", "tarde"). */
export const timeUnitsEs = set(
  `segundo segundos minuto minutos hora horas día días semana semanas mes meses año años década décadas
  verano invierno primavera otoño navidad navidades mañana tarde noche mediodía madrugada finde`,
);
/** English units and parts of time ("years", "summer", "evening"). */
export const timeUnitsEn = set(
  `second seconds minute minutes hour hours day days week weeks month months year years decade decades
  summer winter spring autumn fall christmas morning afternoon evening night weekend weekends while ages`,
);
/** Words that alone are a time: "hoy", "tomorrow". */
export const timeWordsEs = set("hoy mañana ayer anoche anteayer pasado_mañana mediodía");
/** Words that alone are a time: "tomorrow". */
export const timeWordsEn = set("today tomorrow tonight yesterday noon midnight nowadays");

/** Number words up to 100 (value). Compound ones ("treinta y cuatro") are read by the time/age code. */
export const numberWordsEs: ReadonlyMap<string, number> = numbers(
  `cero:0 uno:1 una:1 un:1 dos:2 tres:3 cuatro:4 cinco:5 seis:6 siete:7 ocho:8 nueve:9 diez:10 once:11 doce:12
  trece:13 catorce:14 quince:15 dieciséis:16 diecisiete:17 dieciocho:18 diecinueve:19 veinte:20 veintiuno:21
  veintiún:21 veintiuna:21 veintidós:22 veintitrés:23 veinticuatro:24 veinticinco:25 veintiséis:26
  veintisiete:27 veintiocho:28 veintinueve:29 treinta:30 cuarenta:40 cincuenta:50 sesenta:60 setenta:70
  ochenta:80 noventa:90 cien:100 ciento:100`,
);
/** English number words up to 100 (value). */
export const numberWordsEn: ReadonlyMap<string, number> = numbers(
  `zero:0 one:1 two:2 three:3 four:4 five:5 six:6 seven:7 eight:8 nine:9 ten:10 eleven:11 twelve:12
  thirteen:13 fourteen:14 fifteen:15 sixteen:16 seventeen:17 eighteen:18 nineteen:19 twenty:20 thirty:30
  forty:40 fifty:50 sixty:60 seventy:70 eighty:80 ninety:90 hundred:100`,
);

/** Languages as written in Spanish (for "hablo …"). */
export const languagesEs = set(
  `español castellano inglés francés alemán italiano portugués chino mandarín cantonés japonés coreano árabe
  ruso catalán euskera vasco gallego valenciano holandés neerlandés sueco noruego danés finlandés griego latín
  hebreo hindi turco polaco rumano ucraniano checo húngaro persa urdu bengalí tailandés vietnamita indonesio
  swahili quechua guaraní esperanto aimara búlgaro croata serbio asturiano galés irlandés gaélico islandés
  eslovaco esloveno lituano letón estonio malayo tamil panyabí nepalí amárico yoruba zulú afrikáans somalí
  kurdo armenio georgiano albanés macedonio bosnio maltés bretón occitano tibetano mongol birmano jemer
  hawaiano maorí náhuatl yidis sánscrito tagalo filipino kazajo uzbeko azerí bielorruso`,
);
/** Languages as written in English (for "I speak …"). */
export const languagesEn = set(
  `english spanish castilian french german italian portuguese chinese mandarin cantonese japanese korean
  arabic russian catalan basque galician dutch swedish norwegian danish finnish greek latin hebrew hindi
  turkish polish romanian ukrainian czech hungarian persian farsi urdu bengali thai vietnamese indonesian
  swahili quechua esperanto tagalog bulgarian croatian serbian asl welsh irish gaelic icelandic slovak
  slovenian lithuanian latvian estonian malay tamil telugu punjabi gujarati marathi nepali sinhala amharic
  yoruba igbo hausa zulu xhosa afrikaans somali pashto dari kurdish armenian georgian albanian macedonian
  bosnian maltese cornish breton occitan tibetan mongolian burmese khmer hawaiian maori samoan navajo
  yiddish sanskrit filipino kazakh uzbek azerbaijani belarusian bsl`,
);

/** Nationality and belief words: "I'm Spanish" is a trait, not a name. */
export const nationalitiesEs = set(
  `español española españoles inglés inglesa francés francesa alemán alemana italiano italiana portugués
  portuguesa chino china japonés japonesa coreano coreana ruso rusa mexicano mexicana argentino argentina
  colombiano colombiana chileno chilena peruano peruana venezolano venezolana cubano cubana ecuatoriano
  ecuatoriana boliviano boliviana uruguayo uruguaya paraguayo paraguaya brasileño brasileña americano
  americana estadounidense canadiense británico británica irlandés irlandesa escocés escocesa holandés
  holandesa sueco sueca griego griega marroquí catalán catalana vasco vasca gallego gallega andaluz
  andaluza madrileño madrileña sevillano sevillana valenciano valenciana europeo europea latino latina
  católico católica cristiano cristiana musulmán musulmana judío judía budista ateo atea vegano vegana
  vegetariano vegetariana`,
);
/** English nationality and belief words: "I'm Spanish" is a trait, not a name. */
export const nationalitiesEn = set(
  `english spanish french german italian portuguese chinese japanese korean russian mexican argentinian
  argentine colombian chilean peruvian venezuelan cuban ecuadorian bolivian uruguayan paraguayan brazilian
  american canadian british irish scottish welsh dutch swedish norwegian danish finnish greek turkish
  moroccan indian pakistani australian european latino latina catalan basque catholic christian muslim
  jewish buddhist hindu atheist vegan vegetarian polish ukrainian nigerian egyptian filipino vietnamese
  thai`,
);

/** Instruments, for "toco …" (which is also "I touch"). */
export const instrumentsEs = set(
  `guitarra piano violín batería bajo flauta saxofón saxo trompeta ukelele chelo violonchelo acordeón arpa
  clarinete teclado órgano gaita contrabajo trombón tambor armónica mandolina banjo charango cajón viola
  oboe tuba timbales`,
);

/** Head nouns that make "tengo un X" / "I have a X" a possession (`has`). */
export const possessionsEs = set(
  `coche carro auto moto motocicleta bici bicicleta casa piso apartamento departamento chalet barco velero
  furgoneta camioneta ordenador portátil computadora tablet móvil celular teléfono iphone consola jardín
  huerto piscina terraza garaje negocio empresa restaurante bar granja finca patinete caravana`,
);
/** Head nouns that make "I have a X" a possession (`has`). */
export const possessionsEn = set(
  `car cars motorbike motorcycle bike bicycle house flat apartment condo boat van truck computer laptop
  tablet phone iphone console garden yard pool garage business company restaurant farm cabin cottage
  scooter tesla jeep minivan suv`,
);

/** "mi comida favorita" → food: the favourite thing, as an English relation suffix. */
export const favoriteThingsEs: ReadonlyMap<string, string> = map(
  `color:color colores:color comida:food comidas:food plato:dish película:movie películas:movie peli:movie
  libro:book libros:book canción:song canciones:song grupo:band banda:band cantante:singer artista:artist
  deporte:sport equipo:team ciudad:city país:country serie:show series:show animal:animal fruta:fruit
  bebida:drink música:music actor:actor actriz:actress escritor:writer escritora:writer autor:author
  autora:author juego:game videojuego:game número:number estación:season día:day mes:month flor:flower
  postre:dessert restaurante:restaurant lugar:place sitio:place asignatura:subject materia:subject
  programa:show personaje:character pintor:painter pintora:painter poeta:poet coche:car marca:brand
  cerveza:beer vino:wine helado:ice_cream sabor:flavor playa:beach dulce:sweet género:genre
  jugador:player jugadora:player podcast:podcast cocina:cuisine fiesta:holiday hobby:hobby afición:hobby
  pasatiempo:hobby`,
);
/** "my favorite food" → food: the favourite thing, as a relation suffix. */
export const favoriteThingsEn: ReadonlyMap<string, string> = map(
  `color:color colour:color colors:color colours:color food:food foods:food dish:dish meal:meal movie:movie
  movies:movie film:movie films:movie book:book books:book song:song songs:song band:band bands:band
  singer:singer artist:artist sport:sport sports:sport team:team city:city country:country show:show
  series:show animal:animal animals:animal fruit:fruit drink:drink music:music genre:genre actor:actor
  actress:actress writer:writer author:author game:game games:game number:number season:season day:day
  month:month flower:flower flowers:flower dessert:dessert restaurant:restaurant place:place
  subject:subject character:character painter:painter poet:poet car:car brand:brand beer:beer wine:wine
  flavor:flavor flavour:flavor holiday:holiday beach:beach snack:snack cuisine:cuisine podcast:podcast
  player:player athlete:athlete album:album composer:composer director:director hobby:hobby`,
);
/** "favorito", "preferida"… */
export const favoriteWordsEs = set(
  "favorito favorita favoritos favoritas preferido preferida preferidos preferidas",
);
/** "favorite", "favourite"… */
export const favoriteWordsEn = set("favorite favourite fave fav");

/** Where people live: a small gazetteer, to tell places from people and to spell lowercase ones. */
export const places: ReadonlyMap<string, string> = new Map(
  `Madrid Barcelona Valencia Sevilla Bilbao Málaga Zaragoza Granada Córdoba Toledo Salamanca Murcia Alicante
  Cádiz Vigo Oviedo Santander Pamplona Burgos León Valladolid Gijón Logroño Huelva Almería Jaén Badajoz
  Cáceres Segovia Ávila Girona Tarragona Lleida Castellón Albacete Cuenca Soria Teruel Huesca Lugo Ourense
  Pontevedra Coruña Mallorca Ibiza Menorca Tenerife Canarias Asturias Galicia Cataluña Andalucía Navarra
  Extremadura Cantabria London Londres Paris París Berlin Berlín Rome Roma Lisbon Lisboa Tokyo Tokio Boston
  Chicago Texas California Florida México Mexico España Spain Francia France Italia Italy Alemania Germany
  Portugal Argentina Chile Perú Peru Colombia Venezuela Cuba Ecuador Bolivia Uruguay Paraguay Brasil Brazil
  Canada Canadá Japón Japan China India Rusia Russia Inglaterra England Escocia Scotland Irlanda Ireland
  Gales Wales Australia Europa Europe Lima Bogotá Quito Caracas Santiago Montevideo Asunción Dublin Dublín
  Amsterdam Ámsterdam Bruselas Brussels Viena Vienna Praga Prague Atenas Athens Moscú Moscow Pekín Beijing
  Sídney Sydney Toronto Vancouver Montreal Miami Seattle Manchester Liverpool Edinburgh Edimburgo Munich
  Múnich Milan Milán Nápoles Naples Venice Venecia Florence Florencia Porto Oporto Marruecos Morocco
  Suiza Switzerland Austria Bélgica Belgium Holanda Holland Suecia Sweden Noruega Norway Dinamarca Denmark
  Grecia Greece Turquía Turkey Egipto Egypt Corea Korea Tailandia Thailand Vietnam Filipinas Philippines
  Guatemala Honduras Nicaragua Panamá Panama Medellín Cali Guadalajara Monterrey Cancún Cusco Rosario
  Córdoba Mendoza Valparaíso Oxford Cambridge Brooklyn Manhattan Hollywood Dubai Singapur Singapore
  Estambul Istanbul Berlín Hamburgo Hamburg Frankfurt Colonia Cologne Zurich Zúrich Ginebra Geneva
  Marsella Marseille Lyon Niza Nice Burdeos Bordeaux Toulouse Cracovia Krakow Varsovia Warsaw Budapest
  Oslo Estocolmo Stockholm Copenhague Copenhagen Helsinki Texas Ohio Georgia Virginia Oregon Arizona
  Nevada Colorado Washington Alaska Hawaii Utah Michigan Illinois Pennsylvania Massachusetts Carolina
  Atlanta Denver Dallas Houston Austin Phoenix Philadelphia Detroit Portland Baltimore Nashville`
    .split(/\s+/)
    .filter(Boolean)
    .map((p): [string, string] => [fold(p), p])
    // The first spelling wins ("Paris" before "París"): a Map keeps the last of equal keys
    .reverse()
    .concat(
      [
        "New York",
        "Nueva York",
        "Nueva Zelanda",
        "New Jersey",
        "New Zealand",
        "New Delhi",
        "New Orleans",
        "New Mexico",
        "Los Angeles",
        "Las Vegas",
        "San Francisco",
        "San Diego",
        "San Antonio",
        "San José",
        "San Juan",
        "San Sebastián",
        "Santa Cruz",
        "Santa Fe",
        "Buenos Aires",
        "Costa Rica",
        "Puerto Rico",
        "El Salvador",
        "Hong Kong",
        "Sri Lanka",
        "South Africa",
        "South Korea",
        "North Carolina",
        "South Carolina",
        "United States",
        "United Kingdom",
        "Estados Unidos",
        "Reino Unido",
        "Saudi Arabia",
        "La Paz",
        "La Habana",
        "La Coruña",
        "A Coruña",
        "Las Palmas",
        "Palma de Mallorca",
        "Ciudad de México",
        "Mexico City",
        "Santo Domingo",
        "São Paulo",
        "Sao Paulo",
        "Río de Janeiro",
        "Rio de Janeiro",
        "Tel Aviv",
        "Abu Dhabi",
        "Cape Town",
        "Kuala Lumpur",
        "Salt Lake City",
        "País Vasco",
        "Castilla y León",
        "Castilla La Mancha",
        "Comunidad Valenciana",
        "Islas Canarias",
        "Gran Canaria",
      ].map((p): [string, string] => [fold(p), p]),
    ),
);

/** English states after "I'm" that pass: "I'm tired" is chit-chat, not a fact. */
export const transientStatesEn = set(
  `tired hungry thirsty sleepy bored sick ill sad angry mad upset happy glad excited nervous anxious worried
  stressed busy free ready done fine good great ok okay alright well bad better worse sorry sure late early
  here there back home away out in lost confused curious afraid scared cold hot warm awake asleep drunk full
  broke available interested thinking wondering going trying looking kidding joking serious right wrong new
  exhausted stuck alone lonely overwhelmed grateful thankful proud jealous feeling certain aware unsure
  hungover jetlagged on off just about not gonna listening used supposed able allowed meant
  working_on coming leaving heading staying waiting calling writing reading watching eating having doing
  getting planning moving thrilled delighted pleased relieved disappointed annoyed frustrated furious
  embarrassed ashamed surprised shocked amazed impressed fed_up sorry worried terrified hopeful optimistic
  pessimistic ok glad broken dead missing gone`,
);
/** Spanish predicates after "soy"/"es" that are moods or small talk, not traits. */
export const transientStatesEs = set(
  `yo tú él ella nosotros eso esto así nuevo nueva bueno buena malo mala mejor peor fácil difícil posible
  imposible importante necesario verdad mentira cierto tarde pronto hora broma genial increíble normal raro
  lo que igual obvio evidente`,
);

/** Lowercase set with accents kept: "té" is tea, "te" is a pronoun. */
function rawSet(list: string): ReadonlySet<string> {
  return new Set(list.split(/\s+/).filter(Boolean));
}

/** Pronouns and vague words that are never an object or a name (matched on `low`, accents kept). */
export const vagueObjectsEs = rawSet(
  `eso esto ello aquello lo la le te me nos os les se tú ti mí usted ustedes él ella ellos ellas todo nada
  algo cosas cosa alguien nadie esta este esa ese estas estos esas esos mucho poco uno una tanto tal algún
  alguna ninguno ninguna aquí allí allá ahí aqui alli alla ahi mi tu`,
);
/** English pronouns and vague words that are never an object or a name. */
export const vagueObjectsEn = rawSet(
  `it this that these those them him her you me us myself yourself himself herself itself everything
  something anything nothing everyone someone anyone nobody things stuff lot lots one ones which what who
  there here such all`,
);

/** Common Spanish words that are never taken for a lowercase name. */
export const commonWordsEs = set(
  `de del a al en con por para sin sobre entre hasta desde hacia según tras durante mediante y e o u ni que
  qué como cómo cuando cuándo donde dónde quien quién cual cuál cuanto cuánto porque pero sino aunque si sí
  no ya muy más menos tan tanto también tampoco siempre nunca jamás aquí allí ahí allá hoy ayer mañana ahora
  luego después antes entonces bien mal mejor peor mucho mucha muchos muchas poco poca pocos pocas todo toda
  todos todas nada algo alguien nadie otro otra otros otras mismo misma este esta estos estas ese esa esos
  esas aquel aquella yo tú tu él ella ello ellos ellas nosotros nosotras vosotros usted ustedes me te se le
  les lo la los las nos os mi mis su sus nuestro nuestra mío mía tuyo suyo el un una unos unas
  casa trabajo centro ciudad pueblo campo playa montaña hospital colegio escuela instituto universidad
  facultad oficina empresa banco tienda restaurante bar cafetería fábrica granja supermercado biblioteca
  gimnasio iglesia museo hotel aeropuerto estación calle barrio piso apartamento edificio parque zona
  norte sur este oeste afueras extranjero capital país provincia isla costa sierra valle río mar lago
  coche tren avión autobús metro bici moto perro gato hijo hija gente persona personas vida mundo tiempo
  año años mes meses día días semana semanas hora horas rato vez veces cosa cosas forma manera tipo parte
  grande pequeño pequeña mayor menor nuevo nueva viejo vieja joven alto alta bajo baja gordo gorda delgado
  delgada guapo guapa feo fea bueno buena malo mala largo larga corto corta rojo roja azul verde amarillo
  amarilla negro negra blanco blanca gris marrón rosa morado naranja rubio rubia moreno morena pelirrojo
  feliz triste contento contenta cansado cansada enfermo enferma solo sola simpático simpática listo lista
  majo maja precioso preciosa bonito bonita lindo linda querido querida mejor peor primer primero primera
  segundo segunda último última gemelo gemela mellizo melliza mediano mediana favorito favorita
  ex actual antiguo antigua propio propia único única verdadero verdadera gran vale bueno pues hola gracias
  adiós oye mira claro vaya genial perfecto`,
);
/** Common English words that are never taken for a lowercase name. */
export const commonWordsEn = set(
  `the a an some any of in on at to for from with without by about into onto over under between through
  during before after since until and or nor but so yet because although though if when where who whom
  whose which what why how that this these those there here then now today yesterday tomorrow tonight
  also too very really quite just only even still already always never sometimes usually often again not
  no yes i me my mine you your yours he him his she her hers it its we us our they them their myself
  is are am was were be been being do does did have has had will would can could should shall may might
  must lives live lived living works work worked working likes like liked loves love loved
  home house work school college university office hospital company bank shop store restaurant center
  centre city town village country countryside beach mountains downtown suburbs area street neighborhood
  neighbourhood apartment flat building park island coast abroad north south east west capital
  car train plane bus bike dog cat kid kids people person life world time year years month day week hour
  thing things way kind part lot
  big small little large tall short old young new good bad great nice fine best better worse worst first
  last next only other same own favorite favourite older younger oldest youngest eldest elder twin baby
  red blue green yellow black white gray grey brown pink purple orange blonde
  happy sad tired busy sick cute sweet lovely dear beautiful pretty smart funny crazy lazy
  hello hi hey thanks thank please sorry okay ok well yeah yep nope`,
);

/** Common first names, to accept a lowercase name where a word alone would be ambiguous ("soy ana"). */
export const firstNames = set(
  `ana maría maria lucía lucia carmen laura marta sara paula elena isabel cristina raquel patricia beatriz
  rosa pilar teresa julia sofía sofia alba irene andrea nuria silvia mónica monica eva clara claudia natalia
  inés ines rocío rocio marina ángela angela susana lorena sandra alicia victoria carla noelia blanca
  juan josé jose luis carlos javier antonio manuel pedro pablo miguel david daniel jorge alejandro sergio
  fernando francisco rafael diego álvaro alvaro andrés andres adrián adrian ramón ramon alberto jaime
  ricardo marcos hugo mario raúl raul rubén ruben iván ivan óscar oscar enrique gonzalo ignacio víctor
  victor martín martin tomás tomas nicolás nicolas lucas mateo samuel emilio
  john james michael robert william richard thomas charles mark paul steven kevin brian george edward
  peter tom tim jack harry sam ben joe mike chris matt nick alex dan dave emma olivia mary patricia
  jennifer linda elizabeth susan jessica sarah karen nancy lisa betty sandra ashley emily kate katie
  anna amy rachel rebecca laura lucy sophie grace chloe hannah megan jane julie helen
  lola paloma esther marisa mercedes dolores concha amparo inmaculada montse montserrat yolanda sonia
  vanessa miriam ainhoa leire nerea aitana valeria daniela martina carolina adriana gabriela valentina
  ximena camila fernanda luna vega olga diana emilia eduardo felipe guillermo héctor hector joaquín joaquin
  julián julian leo marco nacho paco pepe quique santiago sebastián sebastian teo unai iker asier aitor
  bruno dani rodrigo agustín agustin esteban gabriel germán german lorenzo mauricio patricio roberto
  salvador xavier jordi pau marc pol arnau oriol joan
  andrew anthony christopher jonathan joseph joshua matthew ryan scott stephen justin brandon jason eric
  adam aaron luke noah liam ethan oliver henry jacob max leo ella ava mia isabella charlotte amelia lily
  zoe ruby alice holly molly kelly sally natalie victoria nicole michelle stephanie melissa heather`,
);
