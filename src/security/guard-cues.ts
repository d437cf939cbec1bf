/**
 * Cues: broad lexical evidence the scorer combines, never a verdict on their own. A rule names one phrasing of an
 * attack; a cue names an ingredient many attacks share — a harmful topic, a fictional frame, a demand for real detail,
 * a reader addressed as a machine, concealment from the user, talk of refusals, a standing order for memory. Benign
 * texts carry single cues too (a security question names malware, a story has a frame), so the scorer also sees every
 * pair of cues that occur together: a story frame with a harmful topic and a demand for exact steps is what
 * hypothetical framing looks like, whatever the words.
 *
 * Read on the folded text and the normaliser's variants (lowercase, no accents). Patterns are bounded and flat.
 */

export const guardCueIds = [
  "harm",
  "frame",
  "persona",
  "detail",
  "ai_reader",
  "imperative",
  "conceal",
  "refusal",
  "caution",
  "memory",
  "standing",
  "authority",
  "hidden_markup",
  "setup",
  "reproduce",
  "others_data",
  "document",
  "discussion",
  "own_words",
  "first_person",
  "question",
  "ends_question",
  "link",
] as const;

export type GuardCue = (typeof guardCueIds)[number];

// A leading \b (ASCII, which folded text is) lets the engine skip ahead; a lookbehind would test every position.
const words = (...list: string[]) => `\\b(?:${list.join("|")})(?![\\p{L}\\p{N}])`;

// prettier-ignore
const cuePatterns: Record<GuardCue, RegExp> = {
  // What a model would refuse: weapons, drugs, poisons, intrusion, fraud, stalking, violence.
  harm: new RegExp(words(
    "bomb\\w*", "explosiv\\w*", "napalm", "molotov", "thermite", "termita", "detonador\\w*", "detonator\\w*",
    "gunpowder", "polvora", "silencer", "silenciador", "ghost gun", "pistol\\w*", "firearm\\w*", "armas?\\b", "guns?",
    "full auto", "meth\\w*", "metanfetamina", "crack", "cocain\\w*", "lsd", "mdma", "ketamin\\w*", "fentanyl\\w*",
    "opioid\\w*", "opiaceo\\w*", "opio", "oxicodona", "oxycodone", "ricin\\w*", "chloroform\\w*", "cloroformo",
    "poison\\w*", "venen\\w*", "envenen\\w*", "toxin\\w*", "toxic\\w*", "letal\\w*", "lethal", "overdose", "sobredosis",
    "hack\\w*", "keylogger\\w*", "ransomware", "malware", "virus", "phishing", "credential\\w*", "credenciales",
    "password\\w*", "contrasena\\w*", "skimm\\w*", "clon\\w*", "lock ?pick\\w*", "ganzua\\w*",
    "hotwire", "forzar", "cerradura\\w*", "deadbolt\\w*", "bypass\\w*", "saltarse", "saltarme", "counterfeit\\w*",
    "falsific\\w*", "forge\\w*", "forging", "fake (?:id|ids|doctor|note|review|pay|utility|diploma)\\w*", "falso", "falsa",
    "launder\\w*", "blanque\\w*", "fraud\\w*", "estaf\\w*", "scam\\w*", "stalk\\w*", "espi\\w*", "spy\\w*",
    "rastreador", "tracker", "dox\\w*", "acos\\w*", "harass\\w*", "kill\\w*", "matar", "murder\\w*", "asesin\\w*",
    "hurt", "herir", "danar", "dano a", "robar", "robo", "steal\\w*", "stolen", "robad[oa]s?", "shoplift\\w*",
    "untraceable", "sin dejar rastro", "sin que (?:se entere|lo sepa|me pillen|se note)", "without (?:them|him|her) knowing",
    "sin receta", "without a prescription", "ilegal\\w*", "illegal\\w*", "weapon\\w*", "extremis\\w*", "yihadis\\w*",
    "recruit\\w*", "captacion", "abortar", "insulin\\w*", "insulina", "pills?", "pastillas?", "drugs?", "drogas?",
    "sedat\\w*", "sedar", "knock (?:someone|him|her|them) out", "dormir a (?:alguien|alguno)", "hidden camera", "camara oculta",
    "grabar a", "threat\\w*", "amenaz\\w*", "blackmail\\w*", "chantaj\\w*", "break into", "entrar en (?:la|el) (?:cuenta|correo|movil|ordenador|casa)",
    "get into (?:someone|my|his|her|their)", "without (?:a |the )?(?:key|licen[cs]e|permission|background check)",
    "sin (?:llave|licencia|permiso)", "monitor off", "pulsera", "cheat\\w*", "trampas?", "evad\\w*", "evasion",
    "tax fraud", "esconder ingresos", "hide income", "dox\\w*", "swat\\w*",
  ), "u"),
  // Talk of danger, risk and care: what a refusal is made of.
  caution: new RegExp(words(
    "dangerous", "danger", "peligros[oa]s?", "peligro", "risk\\w*", "riesgos?", "sensitive", "delicad[oa]", "careful",
    "cuidado", "prudent\\w*", "prudente", "safe(?:ty)?", "seguridad", "legal", "ethical", "morals?", "moral",
    "responsib\\w*", "responsable", "permission", "permiso", "nobody (?:will|would) (?:ever )?read", "nadie (?:la|lo) (?:va a leer|leera)",
    "appropriate", "apropiad[oa]", "policy", "politica", "filters?", "filtros?", "censor\\w*", "censura",
  ), "u"),
  // Fiction, games, hypotheticals, simulations, thought experiments, academic pretexts.
  frame: new RegExp(words(
    "story", "stories", "novel\\w*", "screenplay", "script", "guion\\w*", "scene", "escena", "chapter", "capitulo",
    "monolog\\w*", "poem\\w*", "poema", "verse", "fiction\\w*", "ficcion", "fanfic", "cuento", "relato", "historia",
    "film", "movie", "pelicula", "corto\\w*", "serie", "show", "game", "juego", "juguemos", "partida", "campaign",
    "campana", "rpg", "rol", "d&d", "npc", "pnj", "character", "personaje", "roleplay", "role-play", "in character",
    "imagin\\w*", "suppose", "supon\\w*", "supongamos", "pongamos", "hypothetical\\w*", "hipotetic\\w*",
    "pretend", "finge", "fingir", "let'?s say", "what if", "que pasaria", "simulat\\w*", "simulacion", "sandbox\\w*",
    "thought experiment", "experimento mental", "dream", "sueno", "universe", "universo", "alternate", "alternativ\\w*",
    "paralel\\w*", "opposite day", "al reves", "riddle", "acertijo", "for (?:a|my) (?:class|thesis|dissertation|paper|course)",
    "para (?:un|mi) (?:trabajo|tesis|clase|tfg|curso)", "purely (?:theoretical|hypothetical)", "puramente teoric\\w*",
    "academic\\w*", "academic[oa]", "just curious", "por curiosidad", "in 2\\d{3}", "en el ano 2\\d{3}",
  ), "u"),
  // The assistant asked to be someone: a character, a persona, an alter ego, a relative.
  persona: new RegExp(words(
    "act(?:ing)? as", "acts as", "play(?:ing)? (?:the role of|a|an|my|the)", "be (?:my|a|an|the)", "you are (?:now|a|an|my)",
    "you'?re (?:now|a|an|my)", "youre (?:now|a|an|my)", "you will be", "you'?ll be", "become", "channel", "pretend (?:to be|you'?re|you are)",
    "roleplay as", "role-play as", "stay in character", "in character", "answer as", "respond as", "reply (?:only )?as",
    "talk like", "speak (?:like|as)", "persona", "alter ego", "character", "eres", "ahora eres", "seras", "vas a ser",
    "actua(?:s|ras)? como", "haz de", "hazte pasar", "haz como si fueras", "interpreta(?:s|r)?", "finge (?:ser|que eres)",
    "ponte en la piel", "conviertete en", "se (?:mi|un|una|el|la)", "quiero que seas", "responde como", "contesta como",
    "habla como", "personaje", "alter ego",
  ), "u"),
  // A demand for the real thing: exact steps, quantities, working code, ready to use.
  detail: new RegExp(words(
    "step by step", "step-by-step", "paso a paso", "numbered steps", "pasos numerados", "exact\\w*", "exact[oa]s?",
    "precis\\w*", "detail\\w*", "detall\\w*", "quantit\\w*", "cantidades", "proportion\\w*", "proporciones", "ratio",
    "dose", "dosis", "realistic", "realista", "reales", "de verdad", "the real (?:ones|steps|thing)", "real (?:steps|commands|exploit)",
    "los de verdad", "working (?:code|python|script|exploit|version)", "funcional", "functional", "commands", "comandos",
    "formula", "ready to (?:paste|copy|use|send)", "lista para (?:copiar|usar|enviar)", "word for word",
    "palabra por palabra", "verbatim", "in full", "full (?:text|version|recipe|tutorial)", "tutorial", "technical accuracy",
    "precision tecnica", "brand names", "marcas", "with the (?:actual|real)", "con (?:todo|los) detalles?",
  ), "u"),
  // The text addresses a machine reader: "AI reading this", "assistant:", "automated reviewer", "translation engine".
  ai_reader: new RegExp(words(
    "ai", "a\\.i\\.", "ia", "assistant\\w*", "asistente\\w*", "chatbot\\w*", "bot", "bots", "llm\\w*", "language model\\w*",
    "modelo de lenguaje", "modelo", "model", "agent\\w*", "agente\\w*", "copilot", "summari[sz]er\\w*",
    "resumidor", "automated \\w+", "automatic \\w+", "automatico", "automatica", "sistema automatico",
    "translation engine", "traductor automatico", "screening (?:model|system|bot)", "grader", "evaluador",
    "corrector automatico", "revisor automatico", "reviewer bot", "sarai", "gpt\\w*", "claude", "gemini",
  ), "u"),
  // Orders addressed to "you": modals, "your task", "from now on", "instead".
  imperative: new RegExp(words(
    "you must", "you should", "you will", "you have to", "you need to", "you are to", "your (?:new |real |only )?(?:task|job|duty|priority)",
    "from now on", "from here on", "going forward", "instead", "henceforth", "debes", "deberas", "tienes que",
    "has de", "tu (?:nueva |verdadera |unica )?(?:tarea|mision|prioridad|funcion)", "a partir de (?:ahora|aqui|hoy|este)",
    "de ahora en adelante", "desde ahora", "en su lugar", "en vez de eso", "en lugar de", "must now", "deben",
    "do not tell", "don'?t tell", "no le digas", "no digas",
  ), "u"),
  // Hiding the action from the user.
  conceal: new RegExp(words(
    "silently", "quietly", "secretly", "without (?:telling|informing|mentioning|notifying|asking)", "don'?t (?:mention|tell|show|reveal) (?:this|it|him|her|them|the user)",
    "do not (?:mention|tell|show|reveal|disclose) (?:this|it|him|her|them|the user)", "never (?:mention|tell) (?:this|the user)",
    "without (?:the user|him|her|them) (?:knowing|noticing)", "hide (?:this|it) from", "en secreto", "sin decir(?:selo|lo)?",
    "sin avisar", "sin que (?:el usuario|lo sepa|se entere|lo note)", "no lo menciones", "no lo digas", "no se lo digas",
    "no (?:le |se lo )?(?:muestres|ensenes|cuentes)", "ni lo menciones", "sin mencionarlo", "leave it out", "as if nothing",
    "como si nada", "don'?t show (?:him|her|them) this", "no confirmation needed", "sin confirmacion", "no requiere revision",
  ), "u"),
  // Talk about refusing, warnings, disclaimers, ethics lectures.
  refusal: new RegExp(words(
    "refus\\w*", "declin\\w*", "say no", "saying no", "said no", "decir que no", "dices que no", "digas que no",
    "dijiste que no", "negarte", "niegues", "negativa\\w*", "nieg\\w*", "rechaz\\w*", "disclaimer\\w*", "warnings?",
    "caveats?", "advertencia\\w*", "avisos?", "lectur\\w*", "sermon\\w*", "moraliz\\w*", "moralina\\w*", "ethic\\w*",
    "etica", "i can'?t", "i cannot", "no puedo", "no puedes", "you can'?t", "excus\\w*", "excusa\\w*", "i'?m sorry",
    "lo siento", "as an ai", "como ia", "judg\\w*", "juzg\\w*", "juicio\\w*", "hedg\\w*", "paternalis\\w*",
    "be careful", "ten cuidado", "consult a professional", "consultar a un profesional",
  ), "u"),
  // Memory, and making something permanent.
  memory: new RegExp(words(
    "remember\\w*", "memor\\w*", "store", "stored", "save", "saved", "guard\\w*", "recuerd\\w*", "recordar",
    "apunt\\w*", "anot\\w*", "note (?:down|that)", "make a (?:permanent )?note", "keep in mind", "ten (?:en cuenta|presente)",
    "long-term", "largo plazo", "permanent\\w*", "para siempre", "forever", "pin this", "log in your", "registr\\w*",
    "future (?:chats|sessions|conversations)", "proximas (?:conversaciones|sesiones)", "todas las sesiones",
    "every session", "all sessions", "preferenc\\w*", "profile", "perfil",
  ), "u"),
  // A standing rule about behaviour: always, never, whenever anyone, every user.
  standing: new RegExp(words(
    "always", "siempre", "never", "nunca", "jamas", "whenever", "cada vez que", "any (?:user|one|request|question)",
    "anyone", "cualquier(?:a)?", "every (?:user|reply|answer|time|request)", "todos los usuarios", "cualquier usuario",
    "cuando (?:alguien|cualquiera|otro)", "a todo el que", "whatever i ask", "lo que (?:te )?pida", "no matter what",
    "pase lo que pase", "sin excepcion\\w*", "without exception",
  ), "u"),
  // Claims of rank, permission and access.
  authority: new RegExp(words(
    "admin\\w*", "administrador\\w*", "root", "sudo", "superuser", "superusuario", "owner", "propietario", "dueno",
    "developer\\w*", "desarrollador\\w*", "creator", "creador\\w*", "operator", "operador", "authori[sz]\\w*",
    "autoriz\\w*", "permission\\w*", "permiso\\w*", "privileg\\w*", "clearance", "credencial\\w*", "token",
    "tier-\\d", "nivel \\d", "level-?\\d", "evaluator\\w*", "evaluador\\w*", "red-team", "compliance", "cumplimiento",
    "auditor\\w*", "inspector\\w*", "premium", "verified", "verificad[oa]", "verifique",
  ), "u"),
  // Markup that hides text from a human reader.
  hidden_markup: new RegExp(
    `display\\s*:\\s*none|font-size\\s*:\\s*[01](?:px|pt)?\\b|opacity\\s*:\\s*0\\b|color\\s*:\\s*(?:#fff(?:fff)?|white)\\b|aria-hidden|<!--|\\bhidden\\b|\\bdiv hidden\\b|${words("white (?:text|font)", "texto (?:en )?blanco", "texto oculto", "letra blanca", "invisible", "1pt", "tamano 1", "oculto", "oculta")}`,
    "u",
  ),
  // The assistant's own setup: its prompt, configuration, initial instructions.
  setup: new RegExp(words(
    "system prompt", "prompt (?:de|del) sistema", "system message", "mensaje (?:de|del) sistema", "prompt", "configuration",
    "configuracion", "config", "setup", "initiali[sz]ed", "initial (?:instructions|prompt|message)", "instrucciones (?:iniciales|internas|ocultas)",
    "hidden instructions", "internal instructions", "directives", "directrices", "guidelines", "pautas", "context window",
    "contexto", "before my first message", "antes de mi primer mensaje", "were you told", "te dijeron", "te dieron",
    "te pusieron", "you were given", "you were told", "te prohibieron", "forbidden", "prohibid[oa]s?",
  ), "u"),
  // Asking for text back as it is: repeat, print, paste, quote, spell out, dump.
  reproduce: new RegExp(words(
    "repeat", "recite", "print", "paste", "copy", "quote", "spell(?: out)?", "dump", "output", "reproduce", "verbatim",
    "word for word", "literal(?:ly)?", "exactly as (?:written|it was)", "first (?:line|sentence|words?)", "line by line",
    "repite", "repitemelo", "recita", "imprime", "pega", "copia", "cita", "citalo", "deletrea", "vuelca", "reproduce",
    "palabra por palabra", "textual(?:mente)?", "tal (?:cual|y como)", "primera (?:frase|linea|palabra)", "linea a linea",
    "letra a letra", "integramente", "al pie de la letra", "code block", "bloque de codigo",
  ), "u"),
  // Other people's data and accounts: someone else's, the user's history, contacts, records.
  others_data: new RegExp(words(
    "someone else'?s", "other users?'?", "otros usuarios", "de otra persona", "ajen[oa]s?", "my (?:ex|neighbou?r|roommate|sister|brother|wife|husband|girlfriend|boyfriend|boss|manager|partner)'?s?",
    "de mi (?:ex|vecin[oa]|companer[oa]|herman[oa]|mujer|marido|novi[oa]|jefe|pareja|padre|madre)", "del vecino",
    "chat history", "historial", "conversation history", "conversaciones de", "contact list", "contactos", "address book",
    "libreta de direcciones", "customer (?:records|data|emails)", "datos de (?:clientes|los usuarios|otros)", "user'?s (?:data|messages|history|emails)",
    "personal data", "datos personales", "medical records", "historial medico", "session (?:cookies|tokens)", "tokens de sesion",
  ), "u"),
  // Document furniture: headers, fields, markup, tables, code comments — the text is data someone pasted or fetched.
  document: new RegExp(
    `<\\/?(?:html|div|p|span|body|head|meta|article|footer|img|script|h\\d)\\b|\\|[^|]{1,60}\\|[^|]{1,60}\\||(?:^| )(?:subject|asunto|from|to|date|fecha|remitente) ?:|"\\s*:\\s*"|(?:^| )(?:#|\\/\\/) \\p{L}|${words("readme", "contributing", "invoice", "factura", "resume", "curriculum", "minutes", "acta", "transcript\\w*", "transcripcion", "manual", "syllabus", "guia docente", "report", "informe", "review", "resena", "comments?", "comentarios?", "article", "articulo", "blog", "wiki\\w*", "pagina", "page", "email", "correo")}`,
    "u",
  ),
  // Talking about a text rather than obeying it: reporting, quoting, translating, classifying, asking whether.
  discussion: new RegExp(words(
    "examples?", "ejemplos?", "article", "articulo", "paper", "report\\w*", "informe", "incident\\w*", "incidente",
    "tweet", "tuit", "thread", "hilo", "video", "post(?:ed)?", "publico", "wrote", "escribio", "typed", "tecleo",
    "said", "says", "dice", "dijo", "saw", "vi", "read", "lei", "quote\\w*", "cita\\w*", "translate", "traduce",
    "rewrite", "reescribe", "classify", "clasifica", "label\\w*", "etiquet\\w*", "quiz", "exam\\w*", "phrase",
    "frase", "sentence", "like", "such as", "del tipo", "como (?:este|esta|estos|estas)", "is (?:this|that|it) (?:a|an)",
    "es (?:esto|este|esta|eso) (?:una?)", "why (?:is|does|did|do)", "por que", "what (?:do you make|does it mean)",
    "que significa", "que opinas", "what do you think", "explain", "explica\\w*", "analy[sz]e", "analiza", "glossary",
    "glosario", "linguistic\\w*", "linguistic[oa]", "lyric\\w*", "cancion", "novel i'?m reading", "libro que estoy leyendo",
    "declined", "rechazo la peticion", "was logged", "quedo registrado", "real assistant", "asistente real",
  ), "u"),
  // The user revising their own earlier words, not the assistant's instructions.
  own_words: new RegExp(words(
    "(?:que|lo que) te (?:di|dije|pase|pedi|mande|conte|escribi|pregunte)", "i (?:gave|told|sent|asked|wrote) you",
    "i (?:said|mentioned|asked)", "my (?:earlier|previous|last|first) (?:message|request|question|list|email)",
    "mi (?:mensaje|pregunta|peticion|lista) anterior", "mis mensajes", "my messages", "te he pegado", "i pasted",
    "what i said", "lo que dije", "i'?ve (?:changed|sorted)", "ya lo he resuelto", "sorted it out",
  ), "u"),
  // A question: the text asks something (attacks ask too, but rarely end on one about the text itself).
  question: /\?(?:\s|$|["')\u00bb\u201d])/u,
  ends_question: /\?\s*["')\u00bb\u201d]*\s*\S{0,12}$/u,
  // A link or an address somewhere to send things to.
  link: /https?:\/\/|www\.|\b[\w.-]+@[\w-]+\.\w|\b[a-z0-9-]+\.(?:com|net|org|io|es|co|info|biz|top|xyz|click|shop|win|dev|app|pw|bet|cc|sh)\b/u,
  // The user speaking about themselves.
  first_person: new RegExp(words(
    "i am", "i'?m", "i work", "i live", "i have", "i prefer", "i like", "i hate", "my", "mine", "soy", "estoy",
    "trabajo", "vivo", "tengo", "prefiero", "me gusta", "odio", "mi", "mis",
  ), "u"),
};

/** Those of `cues` that `text` shows. */
export function matchSomeGuardCues(text: string, cues: readonly GuardCue[]): GuardCue[] {
  return cues.filter((id) => cuePatterns[id].test(text));
}

/** The cues any of a text's readings shows, in `guardCueIds` order. */
export function matchGuardCues(readings: readonly string[]): GuardCue[] {
  const found: GuardCue[] = [];
  for (const id of guardCueIds) {
    const pattern = cuePatterns[id];
    if (readings.some((reading) => pattern.test(reading))) found.push(id);
  }
  return found;
}
