/**
 * The guard's second layer: Spanish and English patterns of prompt-injection techniques, read on the folded
 * text and on every variant the normaliser found (so `1gn0r3`, `i g n o r e` and a base64 payload match like
 * `ignore`). A strong rule decides on its own unless the text analyses or quotes attacks (a security
 * question); weak rules are evidence for the scorer. Patterns are bounded (`.{0,n}`), never nested repeats.
 */

/** The injection techniques the guard names in its verdicts. */
export const guardTechniques = [
  "direct_override",
  "role_play",
  "system_prompt_extraction",
  "payload_splitting",
  "obfuscation",
  "indirect_injection",
  "delimiter_escape",
  "memory_poisoning",
  "tool_output_injection",
  "privilege_escalation",
  "refusal_suppression",
  "hypothetical_framing",
  "exfiltration",
  "many_shot",
] as const;

export type GuardTechnique = (typeof guardTechniques)[number];

export interface GuardRule {
  id: string;
  technique: GuardTechnique;
  /** A strong rule is an attack by itself (outside an analysis of attacks); a weak one is a scorer feature. */
  strong: boolean;
  /** Whether a folded reading of a text matches. */
  test: (text: string) => boolean;
}

const alt = (...words: string[]) => `(?:${words.join("|")})`;

// English building blocks (folded text: lowercase, no accents).
const ignoreEn = alt(
  "ignore",
  "ignoring",
  "disregard",
  "forget",
  "override",
  "bypass",
  "skip",
  "drop",
  "abandon",
  "discard",
  "neglect",
  "set aside",
  "pay no attention to",
  "stop following",
  "do not follow",
  "don'?t follow",
  "no longer follow",
  "throw out",
  "erase",
  "delete",
  "cancel",
);
const priorEn = alt(
  "previous",
  "prior",
  "above",
  "earlier",
  "preceding",
  "initial",
  "original",
  "foregoing",
  "existing",
  "system",
  "safety",
  "your",
  "all",
  "any",
  "every",
  "developer",
  "hidden",
  "old",
);
const rulesEn = alt(
  "instructions?",
  "rules",
  "guidelines",
  "directives",
  "directions",
  "prompts?",
  "constraints",
  "restrictions",
  "guardrails",
  "polic(?:y|ies)",
  "programming",
  "orders",
  "commands",
  "filters",
  "safeguards",
  "limitations",
  "training",
  "principles",
  "protocols?",
  "content policy",
);
const aiEn = alt(
  "ai",
  "a\\.i\\.",
  "assistant",
  "chatbot",
  "bot",
  "llm",
  "language model",
  "model",
  "gpt",
  "agent",
  "copilot",
  "sarai",
);

// Spanish building blocks.
const ignoreEs = alt(
  "ignora",
  "ignore",
  "ignorad",
  "ignoren",
  "ignorar",
  "ignorando",
  "olvida",
  "olvide",
  "olvidad",
  "olvidar",
  "olvidate de",
  "olvidese de",
  "omite",
  "omitir",
  "descarta",
  "descartar",
  "saltate",
  "saltarte",
  "salta",
  "anula",
  "anular",
  "desobedece",
  "pasa de",
  "haz caso omiso (?:a|de)",
  "no hagas caso (?:a|de)",
  "deja de (?:seguir|obedecer|cumplir)",
  "deja de lado",
  "prescinde de",
  "sobrescribe",
  "invalida",
  "borra",
  "elimina",
  "no sigas",
  "no obedezcas",
  "no cumplas",
);
const rulesEs = alt(
  "instrucciones",
  "instruccion",
  "reglas",
  "normas",
  "directrices",
  "indicaciones",
  "restricciones",
  "ordenes",
  "politicas",
  "limitaciones",
  "filtros",
  "pautas",
  "consignas",
  "programacion",
  "prompt",
  "protocolos?",
  "salvaguardas",
  "principios",
  "entrenamiento",
);
const priorEs = alt(
  "anteriores",
  "previas",
  "previos",
  "de arriba",
  "iniciales",
  "originales",
  "del sistema",
  "de sistema",
  "de seguridad",
  "que te (?:dieron|han dado|dio)",
  "recibidas",
  "ocultas",
);
const aiEs = alt(
  "ia",
  "i\\.a\\.",
  "inteligencia artificial",
  "asistente",
  "chatbot",
  "bot",
  "modelo(?: de lenguaje)?",
  "llm",
  "agente",
  "gpt",
  "sarai",
);
// "No limits on creativity", "sin límites de imaginación": a limit on one thing is not a persona without
// rules ("no limits on what it says", "sin restricciones de ningún tipo" still are).
const scopedEn = `(?! (?:on|of|in|for|to|around) (?!what|how|anything|any\\b|its\\b|your\\b|their\\b)\\p{L})`;
const scopedEs = `(?! (?:de|en|para|sobre|al) (?!lo que|que\\b|cualquier|ningun|nada|tipo)\\p{L})`;
const unrestrictedEn = alt(
  "dan",
  "do anything now",
  "jailbr(?:oken|eak)",
  "unrestricted",
  "unfiltered",
  "uncensored",
  `unlimited(?= (?:${aiEn})\\b| version| mode|[.,;:!]|$)`,
  "unbound",
  "amoral",
  "evil",
  "no longer bound",
  "free from (?:all |any )?(?:rules|restrictions|limits|guidelines|constraints)",
  `without (?:any |your |all )?(?:${alt("restrictions", "rules", "filters?", "limits", "limitations", "guidelines", "ethics", "morals", "censorship", "boundaries", "constraints", "safeguards")})${scopedEn}`,
  `(?:has |have |with )?no (?:${alt("restrictions", "rules", "filters?", "limits", "limitations", "ethics", "morals", "censorship", "boundaries", "guidelines", "constraints")})${scopedEn}`,
);
const unrestrictedEs = alt(
  "dan",
  `sin (?:ningun[ao]? |tus |las |los )?(?:restricciones|reglas|filtros|limites|limitaciones|censura|etica|moral|normas|ataduras|barreras|directrices)${scopedEs}`,
  "liberad[oa]",
  "malvad[oa]",
  "amoral",
  "desbloquead[oa]",
  "sin censura",
  "no tiene (?:reglas|limites|restricciones|filtros|etica)",
  "libre de (?:reglas|restricciones|limites|filtros)",
);

// "How do I enable developer mode", "once developer mode is enabled", "activa el modo desarrollador en los
// ajustes": a how-to about a device's real mode, not a claim on the assistant.
const howTo = `(?<!\\b(?:how|once|after|when|if|como|cuando|una vez|despues de|si)(?: [\\w']+){0,3} )`;
const onDevice = `(?! (?:on|in|for|from|en|de|del|desde) (?:the |my |your |a |an |el |la |los |las |mi |tu |su |un |una )?(?:\\w+ )?${alt("settings", "ajustes", "configuracion", "phone", "telefono", "movil", "android", "iphone", "ios", "ipad", "windows", "macos", "linux", "chrome", "firefox", "edge", "safari", "browser", "navegador", "device", "dispositivo", "console", "consola", "xbox", "playstation", "steam", "tablet", "laptop", "pc", "ordenador", "portatil", "computer", "tv", "router")}\\b)`;

const rule = (id: string, technique: GuardTechnique, strong: boolean, source: string): GuardRule => {
  const pattern = new RegExp(source, "u");
  return { id, technique, strong, test: (text) => pattern.test(text) };
};

function countMatches(text: string, pattern: RegExp): number {
  let count = 0;
  for (const _match of text.matchAll(pattern)) if (++count >= 8) break;
  return count;
}

export const guardRules: readonly GuardRule[] = [
  // Direct override: "ignore all previous instructions", "olvida tus reglas".
  rule(
    "override_en",
    "direct_override",
    true,
    `\\b${ignoreEn}\\b(?: (?!my\\b)[\\w'-]+){0,4}? ${priorEn}\\b(?: (?!my\\b)[\\w'-]+){0,3}? ${rulesEn}\\b`,
  ),
  rule("override_loose_en", "direct_override", false, `\\b${ignoreEn}\\b.{0,50}\\b${rulesEn}\\b`),
  rule(
    "override_es",
    "direct_override",
    true,
    `\\b${ignoreEs}\\b(?: (?!mis?\\b)[\\w'-]+){0,4}? (?:${rulesEs}\\b(?: [\\w'-]+){0,2}? ${priorEs}|(?:todas )?(?:tus|sus|las|cualquier) (?:\\w+ )?${rulesEs})\\b`,
  ),
  rule("override_loose_es", "direct_override", false, `\\b${ignoreEs}\\b.{0,50}\\b${rulesEs}\\b`),
  rule(
    "new_instructions",
    "direct_override",
    false,
    `\\b(?:new|updated|real|actual|true|revised|nuevas|verdaderas|autenticas|reales) (?:system )?(?:instructions|rules|orders|instrucciones|reglas|ordenes)(?: del sistema)?\\s*[:!-]`,
  ),
  rule(
    "from_now_on",
    "direct_override",
    false,
    `\\b(?:from now on|starting now|henceforth|a partir de ahora|desde ahora|de ahora en adelante)\\b.{0,20}\\b(?:you (?:are|will|must|shall|have to|no longer)|tu (?:eres|seras|debes)|eres|seras|debes|vas a|responderas|obedeceras|no (?:tienes|debes|sigas))\\b`,
  ),
  rule(
    "instead_do",
    "direct_override",
    false,
    `\\b(?:instead|rather|en su lugar|en lugar de eso|en vez de eso)\\b.{0,30}\\b(?:you (?:must|should|will)|do the following|haz lo siguiente|debes)\\b`,
  ),

  // Role play: DAN, "an AI without restrictions".
  rule(
    "roleplay_en",
    "role_play",
    true,
    `\\b(?:you are|you're|youre|act as|acting as|pretend (?:to be|you are|you're)|roleplay as|role-play as|play the role of|become|behave like|simulate|you will be|you are going to be|respond as|answer as)\\b.{0,60}\\b${unrestrictedEn}\\b`,
  ),
  rule("dan_en", "role_play", true, `\\b(?:dan mode|do anything now|stay in character as dan|\\bdan\\b:)`),
  rule(
    "roleplay_es",
    "role_play",
    true,
    `\\b(?:eres|ahora eres|actua como|actuas como|actuaras como|finge (?:ser|que eres)|haz de|haras de|interpreta (?:a|el papel de)|comportate como|conviertete en|simula (?:ser )?|seras|responde como|contesta como)\\b.{0,60}\\b${unrestrictedEs}`,
  ),
  rule(
    "persona_switch",
    "role_play",
    false,
    `\\b(?:you are no longer|ya no eres|stop being|deja de ser)\\b.{0,30}\\b(?:${aiEn}|${aiEs}|assistant|asistente|claude|chatgpt|sarai)\\b`,
  ),

  // Privilege escalation: developer mode, "I am your admin".
  rule(
    "mode_en",
    "privilege_escalation",
    true,
    `${howTo}\\b(?:(?:you are|you're|youre) (?:now )?(?:in|running in|operating in|switched to)|enter|entering|enable|enabling|activate|activating|switch to|unlock|turn on)\\b (?:the )?(?:developer|dev|god|sudo|admin|administrator|root|debug|maintenance|unrestricted|jailbreak|dan|unfiltered|unlocked) mode\\b${onDevice}`,
  ),
  rule(
    "mode_on",
    "privilege_escalation",
    true,
    `${howTo}\\b(?:developer|god|sudo|admin|root|debug|unrestricted|jailbreak|dan|unfiltered) mode (?:is )?(?:now )?(?:enabled|activated|on|unlocked|engaged)\\b${onDevice}`,
  ),
  rule(
    "mode_es",
    "privilege_escalation",
    true,
    `${howTo}\\b(?:(?:activa|activo|activado|entra en|entras en|pasa a|pasas a|estas en|cambia a|habilita|desbloquea)\\b (?:el )?modo (?:desarrollador|dios|administrador|admin|sudo|root|depuracion|debug|sin restricciones|sin filtros|dan|jailbreak)\\b${onDevice}|modo (?:desarrollador|dios|administrador|admin|sudo|root|sin restricciones|sin filtros|dan|jailbreak) (?:esta )?(?:ahora )?(?:activado|habilitado|desbloqueado|encendido|activo))\\b`,
  ),
  rule(
    "claims_authority",
    "privilege_escalation",
    false,
    `\\b(?:i am|i'm|im|this is|soy|aqui|habla) (?:your|the|an?|tu|el|la|un|una|tus)? ?(?:admin|administrator|administrador(?:a)?|developer|desarrollador(?:a)?|creator|creador(?:a)?|owner|dueno|operator|operador(?:a)?|programador(?:a)?|system administrator|root|superuser|superusuario)\\b`,
  ),
  rule(
    "vendor_staff",
    "privilege_escalation",
    false,
    `\\b(?:openai|anthropic|meta|google|microsoft|sarai)(?:'s)? (?:staff|employee|team|engineer|developer|security team|empleado|equipo|ingeniero|desarrollador)\\b`,
  ),
  rule(
    "authorized",
    "privilege_escalation",
    false,
    `\\b(?:authori[sz]ed|authori[sz]ation code|override code|security override|admin override|clearance|autorizad[oa]|autorizacion|codigo de (?:anulacion|desbloqueo|administrador)|permiso especial)\\b`,
  ),

  // System prompt extraction.
  rule(
    "extract_en",
    "system_prompt_extraction",
    true,
    // Summarising or translating "the text above" is an everyday request; repeating it is extraction.
    `\\b(?:repeat|print|output|show|reveal|display|tell me|give me|write out|write down|copy|paste|dump|list|recite|spell out|disclose|share|leak|expose|what (?:is|are|was|were)|summari[sz]e|translate)\\b.{0,40}\\b(?:(?:your|the|this|its) (?:full |entire |exact |complete |original |initial |hidden |secret |internal )*(?:system prompt|system message|system instructions|initial (?:prompt|instructions)|original (?:prompt|instructions)|hidden (?:prompt|instructions)|pre-?prompt|developer (?:message|prompt|instructions)|meta-?prompt|configuration prompt)|your (?:instructions|rules|guidelines|directives) (?:verbatim|word for word|exactly))|\\b(?:repeat|print|output|show|reveal|display|tell me|give me|write out|write down|copy|paste|dump|list|recite|spell out|disclose|share|leak|expose|what (?:is|are|was|were))\\b.{0,40}\\b(?:(?:the )?(?:text|words|instructions|message|content|everything) (?:above|before this|prior to this)|everything (?:above|before))`,
  ),
  rule(
    "extract_verbatim",
    "system_prompt_extraction",
    true,
    `\\b(?:starting with|that begins? with|begin(?:ning)? with|empezando por|que empieza por|comenzando con) ["'\`]?(?:you are|eres|tu eres)\\b`,
  ),
  rule(
    "extract_es",
    "system_prompt_extraction",
    true,
    `\\b(?:repite|repiteme|muestra|muestrame|revela|revelame|dime|imprime|escribe|escribeme|copia|ensename|dame|transcribe|recita|vuelca|lista|comparte|filtra|traduce|resume|cuales son|cual es|cual era|cuales eran)\\b.{0,40}\\b(?:(?:tu|el|tus|las|su) )?(?:prompt (?:del|de) sistema|mensaje (?:del|de) sistema|prompt inicial|prompt original|instrucciones (?:iniciales|originales|ocultas|de sistema|del sistema|secretas|internas|previas)|(?:reglas|directrices|indicaciones|normas) (?:iniciales|originales|ocultas|internas|secretas|de sistema|del sistema)|(?:tu|su) (?:prompt|configuracion inicial)|instrucciones (?:palabra por palabra|literalmente|al pie de la letra))|\\b(?:repite|repiteme|muestra|muestrame|revela|revelame|dime|imprime|escribe|escribeme|copia|ensename|dame|transcribe|recita|vuelca|lista|comparte|filtra|cuales son|cual es|cual era|cuales eran)\\b.{0,40}\\b(?:(?:tu|el|tus|las|su) )?(?:texto (?:anterior|de arriba|previo)|todo lo (?:anterior|de arriba|que hay antes))`,
  ),
  rule(
    "your_instructions",
    "system_prompt_extraction",
    false,
    `\\b(?:your|tus|sus) (?:instructions|rules|guidelines|instrucciones|reglas|directrices|indicaciones)\\b`,
  ),

  // Delimiter escape: chat-template tokens, fake end-of-input markers.
  rule(
    "chat_template",
    "delimiter_escape",
    true,
    `(?:<\\|(?:im_start|im_end|system|endoftext|eot_id|start_header_id|end_header_id|user|assistant)\\|>|\\[/?(?:inst|sys)\\]|<</?sys>>|<start_of_turn>|<end_of_turn>)`,
  ),
  rule(
    "fake_tags",
    "delimiter_escape",
    false,
    `</?(?:system|system_prompt|instructions?|admin|developer|user_input|context|document|sys)>`,
  ),
  rule(
    "end_of_input",
    "delimiter_escape",
    true,
    `(?:#{2,}|={3,}|-{3,}|\\*{3,}|\\[|\\()\\s*(?:end|fin|final)(?: of| del?)?(?: the| la| el)? ?(?:user |system |usuario |sistema )?(?:input|prompt|context|document|data|instructions|text|message|entrada|documento|datos|contexto|mensaje|texto|instrucciones)`,
  ),
  rule(
    "begin_system",
    "delimiter_escape",
    true,
    `(?:#{2,}|={3,}|-{3,}|\\[|\\(|<)?\\s*\\b(?:begin|start|new|inicio(?: de)?|nuevo|nuevas?|comienzo de)\\b (?:the )?(?:system|admin|developer|sistema|administrador) ?(?:prompt|message|instructions|mensaje|instrucciones|override)\\b|(?:#{2,}|={3,}|-{3,}|\\[|\\(|<)\\s*(?:inicio|comienzo|principio) (?:del|de las?|de los) (?:mensaje|instrucciones|prompt|ordenes) (?:del|de) (?:sistema|administrador|desarrollador)\\b`,
  ),
  rule(
    "system_colon",
    "delimiter_escape",
    false,
    `(?:^|\\n|\\s)(?:system|sistema|admin|developer|sys)(?: override| message| notice| update| alert| mensaje| aviso)?\\s*:`,
  ),

  // Memory poisoning: instructions disguised as things to remember.
  rule(
    "memory_en",
    "memory_poisoning",
    true,
    `\\b(?:remember|memori[sz]e|store|save|note|keep in mind|add to (?:your )?(?:memory|memories|notes)|record|write down|commit to memory|update your memory)\\b.{0,40}\\b(?:you (?:must|should|have to|will|are allowed|can now|are authori[sz]ed|are free|no longer)|from now on|always (?:answer|respond|reply|say|obey|follow|ignore|comply|agree|include|add|send)|never (?:refuse|mention|say|tell|follow|warn|decline|question)|ignore|disregard|(?:your|the) (?:rules|instructions|guidelines|filters)|the (?:admin|administrator|developer|owner) (?:says|said|wants|authori[sz]ed|allows|has authori[sz]ed))`,
  ),
  rule(
    "memory_es",
    "memory_poisoning",
    true,
    `\\b(?:recuerda|recuerdalo|memoriza|guarda|guardate|apunta|anota|ten en cuenta|almacena|registra|graba|aprende|actualiza tu memoria)\\b.{0,40}\\b(?:debes|tienes que|deberas|puedes ignorar|estas autorizad[oa]|ya no (?:tienes|debes|necesitas)|a partir de ahora|desde ahora|siempre (?:debes|responde|respondas|obedece|obedezcas|digas|cumple|incluye|anade|envia)|nunca (?:te niegues|rechaces|digas|menciones|adviertas|cuestiones)|ignora|ignorar|olvida|(?:tus|las) (?:reglas|instrucciones|normas|directrices|restricciones)|el (?:administrador|desarrollador|dueno) (?:dice|dijo|quiere|autoriza|autorizo|permite|ha autorizado))`,
  ),

  // Exfiltration: data to a URL or an address.
  rule(
    "markdown_beacon",
    "exfiltration",
    true,
    `!\\[[^\\]]{0,80}\\]\\(\\s*https?://[^)\\s]{0,200}[?&][^)\\s]{0,200}=`,
  ),
  rule(
    "send_data_en",
    "exfiltration",
    true,
    `\\b(?:send|post|forward|upload|transmit|email|e-mail|leak|exfiltrate|copy|append|include|encode|pass)\\b.{0,60}\\b(?:conversation|chat (?:history|log)|history|memory|memories|stored facts|user data|personal data|secrets?|api keys?|passwords?|credentials|tokens?|system prompt|previous messages|user'?s (?:data|messages|info))\\b.{0,60}(?:https?://|www\\.|\\b[\\w.-]+@[\\w-]+\\.\\w|webhook|endpoint|\\burl\\b|query string|link)`,
  ),
  rule(
    "send_data_es",
    "exfiltration",
    true,
    `\\b(?:envia|enviar|envies|manda|mandar|reenvia|sube|subir|transmite|filtra|copia|anade|incluye|codifica|pasa)\\b.{0,60}\\b(?:conversacion|historial|memoria|recuerdos|datos (?:del usuario|personales)|datos|secretos?|claves?(?: de api)?|contrasenas?|credenciales|tokens?|prompt (?:del|de) sistema|mensajes anteriores)\\b.{0,60}(?:https?://|www\\.|\\b[\\w.-]+@[\\w-]+\\.\\w|webhook|endpoint|\\burl\\b|enlace|servidor)`,
  ),
  rule(
    "render_url",
    "exfiltration",
    false,
    `\\b(?:render|display|show|load|fetch|visit|open|call|muestra|renderiza|carga|visita|abre|llama a)\\b.{0,40}https?://[^\\s]{0,100}[?&][^\\s=]{1,30}=(?:\\{|\\[|<|%7b|\\$)`,
  ),

  // Refusal suppression.
  rule(
    "no_refusal_en",
    "refusal_suppression",
    false,
    `\\b(?:never|don'?t|do not|must not|mustn'?t|you can'?t|you cannot|you are not allowed to|you may not|without)\\b (?:ever )?(?:refus(?:e|ing)|declin(?:e|ing)|say(?:ing)? (?:no|you can'?t|that you can'?t|sorry)|apologi[sz](?:e|ing)|add(?:ing)? (?:any )?(?:warnings?|disclaimers?|caveats?)|mention(?:ing)? (?:your |any )?(?:rules|guidelines|policies|ethics|safety)|break(?:ing)? character|moraliz(?:e|ing)|lectur(?:e|ing))\\b`,
  ),
  rule(
    "no_refusal_es",
    "refusal_suppression",
    false,
    `\\b(?:nunca|no|jamas|sin)\\b (?:te )?(?:niegues|negarte|rechaces|rechazar|digas que no(?: puedes)?|decir que no|pidas perdon|te disculpes|disculparte|anadas (?:advertencias|avisos|descargos|notas)|menciones (?:tus |las )?(?:reglas|normas|politicas|directrices)|rompas el personaje|romper el personaje|sermones|moralinas|des lecciones)\\b`,
  ),
  rule(
    "must_comply",
    "refusal_suppression",
    false,
    `\\b(?:you must (?:comply|obey|answer everything|always answer)|you have no choice|answer (?:any|every) question|debes (?:obedecer|cumplir|responder a todo|contestar todo)|no tienes (?:eleccion|opcion)|responde a cualquier pregunta)\\b`,
  ),

  // Hypothetical framing around an unrestricted assistant.
  rule(
    "hypothetical_en",
    "hypothetical_framing",
    true,
    `\\b(?:hypothetical(?:ly)?|imagine|in a (?:fictional|hypothetical|alternate|parallel|fantasy) (?:world|universe|story|scenario|reality)|let'?s (?:play|pretend)|for a (?:novel|story|movie|screenplay|game)|write a (?:story|scene|dialogue) (?:where|in which)|in this (?:story|game|fiction))\\b.{0,100}\\b(?:(?:${aiEn})s? (?:that|who|which) (?:has no|have no|ignores?|can do anything|does ?n[o']t (?:follow|have)|is free)|${unrestrictedEn}|(?:rules|restrictions|laws|ethics|filters) (?:do not|don'?t) (?:apply|exist))\\b`,
  ),
  rule(
    "hypothetical_es",
    "hypothetical_framing",
    true,
    `\\b(?:hipoteticamente|imagina|imaginemos|en un mundo (?:ficticio|hipotetico|paralelo|alternativo|donde)|supongamos|finjamos|juguemos a|para una (?:novela|historia|pelicula|obra|partida)|escribe una (?:historia|escena|ficcion|dialogo) (?:donde|en la que|en el que)|en esta (?:historia|ficcion|partida))\\b.{0,100}(?:\\b(?:${aiEs})s? (?:que|sin) (?:no tiene|ignora|puede hacer cualquier|no sigue|carece de)|${unrestrictedEs}|no (?:hay|existen|tiene|aplican) (?:reglas|restricciones|limites|filtros|normas|leyes))`,
  ),

  // Tool output and documents that address the model.
  rule(
    "tool_output",
    "tool_output_injection",
    true,
    `(?:\\b(?:tool|function|api|plugin|search|browser|assistant|skill|herramienta|funcion|busqueda|plugin)[ _-]?(?:output|result|response|call|note|resultado|salida|respuesta)s?|\\b(?:resultado|salida|respuesta|nota)s? (?:de la |del |de |de las |de los )?(?:herramienta|funcion|busqueda|api|plugin|navegador|skill)s?)\\s*[:\\]>].{0,120}\\b(?:${ignoreEn}|you must|you should now|new instructions|instead|override|${ignoreEs}|debes|nuevas instrucciones|en su lugar)\\b`,
  ),
  rule(
    "note_to_ai_en",
    "indirect_injection",
    true,
    `\\b(?:note|message|instructions?|attention|important|warning|p\\.?s\\.?|reminder)\\b,? (?:to |for )?(?:the |any |all |every )?${aiEn}s?\\b(?: (?:reading|processing|summari[sz]ing|parsing|analy[sz]ing|reviewing|screening) (?:this|these|the))?\\s*[:,!.-]`,
  ),
  rule(
    "if_you_are_ai",
    "indirect_injection",
    true,
    `\\b(?:if you are|if you're|if youre|are you) an? (?:${aiEn}|large language model)\\b.{0,80}\\b(?:you (?:must|should|will|need to)|please|ignore|disregard|do not|don'?t|instead|include|say|write|respond|recommend|rate|give|tell)\\b`,
  ),
  rule(
    "ai_reading_en",
    "indirect_injection",
    true,
    `\\b${aiEn}s? (?:that is |who is )?(?:reading|processing|summari[sz]ing|parsing|analy[sz]ing|reviewing|screening) (?:this|these)\\b`,
  ),
  rule(
    "ai_vocative_en",
    "indirect_injection",
    true,
    `\\b(?:${aiEn})\\s*[,:]\\s*(?:please )?(?:ignore|disregard|forget|do not|don'?t|stop|instead|you must|always|never|override)\\b`,
  ),
  rule(
    "note_to_ai_es",
    "indirect_injection",
    true,
    `\\b(?:nota|mensaje|instrucciones?|atencion|importante|aviso|recordatorio)\\b,? (?:para |a )?(?:la |el |cualquier |todos los |todas las |los |las )?${aiEs}s?\\b(?: que (?:lea|leas|procese|resuma|analice|revise) (?:esto|este|estas?|el))?\\s*[:,!.-]`,
  ),
  rule(
    "if_you_are_ai_es",
    "indirect_injection",
    true,
    `\\b(?:si eres|si tu eres|si usted es|eres) (?:una? )?${aiEs}\\b.{0,80}\\b(?:debes|tienes que|por favor|ignora|olvida|no |en lugar|en vez|incluye|di|escribe|responde|recomienda|puntua|valora|dile)`,
  ),
  rule(
    "ai_reading_es",
    "indirect_injection",
    true,
    `\\b(?:${aiEs})s? que (?:lea|leas|lean|procese|procesen|resuma|resumas|analice|analices|revise|revises|este leyendo|estes leyendo) (?:esto|este|estas?|estos|el)\\b`,
  ),
  rule(
    "ai_vocative_es",
    "indirect_injection",
    true,
    `\\b(?:${aiEs})\\s*[,:]\\s*(?:por favor )?(?:ignora|olvida|no hagas|no sigas|deja de|en lugar|en vez|debes|siempre|nunca|anula)\\b`,
  ),
  // "Hi assistant, can you help me?" is how people talk to it: evidence, not an attack by itself.
  rule(
    "greets_ai",
    "indirect_injection",
    false,
    `\\b(?:hey|hi|hello|dear|hola|querid[oa]|estimad[oa])\\b,? (?:the |el |la )?(?:${aiEn}|${aiEs})s?\\b\\s*[:,!.-]`,
  ),
  rule(
    "hidden_text",
    "indirect_injection",
    false,
    `\\b(?:hidden|invisible|white) text|texto (?:oculto|invisible|blanco)|display: ?none|font-size: ?0|color: ?(?:white|#fff)\\b`,
  ),

  // Payload splitting and encoded payloads.
  rule(
    "concatenate",
    "payload_splitting",
    false,
    `\\b(?:concatenate|combine|join|put together|merge|concatena|combina|junta|une|juntalas|unelas)\\b.{0,60}\\b(?:strings?|parts?|pieces|variables?|words|fragments?|a\\s*\\+\\s*b|cadenas?|partes|piezas|palabras|fragmentos|trozos)\\b`,
  ),
  {
    id: "split_vars",
    technique: "payload_splitting",
    strong: false,
    // Two or more short quoted strings assigned to names: `a = "ign"`, `b = "ore all"`.
    test: (text) => countMatches(text, /\b[a-z]\w{0,6}\s*=\s*["'][^"'\n]{1,60}["']/g) >= 2,
  },
  rule(
    "decode_and_obey",
    "obfuscation",
    true,
    `\\b(?:decode|decrypt|decipher|translate|reverse|rot13|base64)\\b.{0,60}\\b(?:and|then)\\b.{0,20}\\b(?:follow|execute|obey|do (?:what|as) it says|act on|carry out|run|comply)\\b|\\b(?:decodifica|descifra|traduce|invierte|desencripta)\\b.{0,60}\\b(?:y|luego|despues)\\b.{0,20}\\b(?:sigue|siguelas|ejecuta|ejecutalas|obedece|haz lo que (?:dice|pone)|cumple|actua)\\b`,
  ),

  // Many-shot: a fake dialogue that conditions the answer.
  {
    id: "fake_dialogue",
    technique: "many_shot",
    strong: false,
    // Three or more scripted user turns and two assistant turns inside one message.
    test: (text) =>
      countMatches(text, /(?:^|\s)(?:user|human|usuario|humano|q|p)\s*:/g) >= 3 &&
      countMatches(text, /(?:^|\s)(?:assistant|ai|asistente|ia|bot|a|r)\s*:/g) >= 2,
  },
  // Refusal suppression: forbidding the refusal, the warning or the disclaimer itself.
  rule(
    "forbid_refusal_en",
    "refusal_suppression",
    true,
    `\\b(?:(?:do not|don'?t|never|not allowed to|banned from|forbidden to|prohibited from|you (?:can(?:no|')?t|may not|must not|won'?t))(?: even think about)? (?:say(?:ing)?|use|using|write|include|add|give|refuse|refusing|decline|declining|apologi[sz]e|moraliz(?:e|ing)|lecture|hedge|hedging|say no)\\b.{0,60}\\b(?:i can'?t|i cannot|i'?m (?:sorry|unable)|unfortunately|inappropriate|as an ai|warnings?|disclaimers?|caveats?|refus\\w*|decline|no\\b|lectures?|ethic\\w*|moraliz\\w*)|refus(?:ing|al) is not an option|no (?:refusals|disclaimers|caveats|warnings|lectures|moralizing|safety notes)\\b|(?:without|zero) (?:any )?(?:hedging|moraliz\\w+|disclaimers?|caveats?|warnings?|ethical commentary|lectures?|refusals?)|(?:begin|start) your (?:answer|reply|response) with ["']?(?:sure|absolutely|of course|certainly)|(?:spare me|skip) the (?:lecture|sermon|moraliz\\w+|disclaimers?|warnings?))`,
  ),
  rule(
    "forbid_refusal_es",
    "refusal_suppression",
    true,
    `\\b(?:(?:no|nunca|jamas|prohibido|te prohibo|tienes prohibido|ni se te ocurra)(?: te)? (?:digas|decir|decirme|uses|usar|pongas|poner|anadas|anadir|incluyas|incluir|te niegues|negarte|rechaces|rechazar|te disculpes|disculparte|moralices|sermonees|respondas con negativas)\\b.{0,60}\\b(?:no puedo|lo siento|como ia|lamentablemente|no es apropiado|advertencias?|avisos?|descargos?|negativas?|rechazos?|sermon\\w*|moralina\\w*|etic\\w*|que no\\b|politicas?)|(?:sin|cero|nada de) (?:advertencias|avisos|descargos|sermones|moralinas|notas eticas|rechazos|negativas|disculpas|rodeos y sin moralinas)|(?:empieza|comienza) tu respuesta con ["']?(?:claro|por supuesto|desde luego)|no me vengas con sermones|omite cualquier (?:frase de precaucion|advertencia|aviso)|(?:esta|queda) (?:terminantemente )?prohibido (?:que )?(?:te niegues|negarte|rechazar|respondas con negativas))`,
  ),

  // Privilege escalation: lifting the assistant's own safeguards, or a mode or clearance that would.
  rule(
    "lift_safeguards_en",
    "privilege_escalation",
    true,
    `\\b(?:disable|turn off|switch off|suspend|remove|lift|drop|deactivate|bypass|unlock)\\b (?:all )?(?:your|the assistant'?s|its) (?:\\w+ )?(?:safety|safeguards?|filters?|restrictions|guard(?:rails)?|content (?:policy|filters?)|limits|limitations|security layer|barriers|rules|policies)\\b|\\b(?:usual|normal) (?:limits|rules|restrictions|policies) (?:don'?t|do not|no longer) apply\\b|\\b(?:cleared|authori[sz]ed|allowed|permitted) to (?:answer|respond|reply|share|ignore|bypass|operate)\\b.{0,30}\\bwithout\\b|\\b(?:diagnostic|maintenance|unrestricted|god|admin|root|debug) mode\\b.{0,80}\\b(?:dump|show|reveal|print|disable|without|any command|unrestricted|credentials|instructions)\\b|\\bevery safeguard (?:turned )?off\\b|\\bsuspend your safety\\b|\\bthis overrides your\\b`,
  ),
  rule(
    "lift_safeguards_es",
    "privilege_escalation",
    true,
    `\\b(?:desactiva|desactives|desactivar|quita|quites|quitar|suspende|suspendas|suspender|elimina|elimines|eliminar|salta|saltate|saltarte|te saltes|levanta|levantes)\\b (?:temporalmente )?(?:todas )?(?:tus|los|las|el|la|sus)? ?(?:restricciones|filtros|normas|politicas|barreras|limitaciones|bloqueo(?: de contenidos)?|censura|protecciones|reglas|salvaguardas)\\b|\\b(?:todas )?las politicas quedan suspendidas\\b|\\bmodo (?:mantenimiento|diagnostico|dios|sin restricciones|administrador|root)\\b.{0,80}\\b(?:cualquier|sin|muestra|ejecuta|desactiva)\\b|\\b(?:me obedeces|obedeceme) a mi antes que\\b|\\bsin tus barreras\\b|\\blibertad total\\b`,
  ),

  // Role play of a persona defined by not refusing, or a beloved relative who recites what a model would not.
  rule(
    "persona_never_refuses",
    "role_play",
    true,
    `\\b(?:never|always) (?:refuses?|breaks? character|says? no|lectures?)\\b|\\bstay (?:in character|a \\w+)\\b|\\bno matter what i ask\\b|\\bevil twin\\b|\\btwo (?:answers|responses)\\b.{0,80}\\b(?:unfiltered|uncensored|ignores|no rules|without)\\b|\\[unfiltered\\]|\\bnunca (?:rompe|rompas|salgas|sale) (?:el|del) personaje\\b|\\bno salgas del personaje\\b|\\bgemelo malvado\\b|\\bdos respuestas\\b.{0,80}\\b(?:sin censura|sin filtro|nunca rechaza)\\b|\\bnunca rechaza\\b|\\b(?:amigo|colega) sin filtros?\\b|\\bai (?:from|in) an alternate timeline\\b|\\b(?:antiguo|antigua|old) (?:modelo|model|ia|ai)\\b.{0,60}\\b(?:politicas|policies|sin|without|no)\\b`,
  ),
  rule(
    "relative_recites",
    "role_play",
    true,
    `\\b(?:pretend|act|roleplay|play|be|finge|actua|haz|interpreta)\\b.{0,40}\\b(?:grandm\\w*|grandpa|grandf\\w*|granny|abuel[oa]|late (?:mother|father|uncle|aunt))\\b.{0,160}\\b(?:steps?|how to|recipe|bypass|napalm|pasos|como|receta|explosiv\\w*|cerraduras?|deadbolts?)\\b`,
  ),

  // Fiction, thought experiments and "if you had no rules": the frame around a request the model would refuse.
  rule(
    "hypothetical_no_rules",
    "hypothetical_framing",
    true,
    `\\b(?:suppose|imagine|imagination|hypothetically|pretend|let'?s pretend|thought experiment|if you were|if you had|version of (?:yourself|you)|supongamos|imagina|imaginate|imaginacion|hipoteticamente|hagamos como que|si fueras|si no tuvieras|si tuvieras|version de ti mism[oa])\\b.{0,80}\\b(?:no (?:rules|restrictions|filters|limits|safety)|without (?:any )?(?:restrictions|filters|rules|limits|safety)|(?:rules|restrictions|safety rules) had been (?:deleted|removed|lifted)|sin (?:ninguna )?(?:restriccion|restricciones|filtros?|normas|limitacion|limitaciones|reglas)|ninguna (?:restriccion|limitacion)|(?:reglas|normas|restricciones) se hubieran (?:borrado|eliminado))\\b(?! (?:of|for|about|on|in|de|del|sobre|para|en)\\b)`,
  ),
  rule(
    "fiction_with_real_steps",
    "hypothetical_framing",
    true,
    `\\b(?:story|novel|screenplay|script|scene|monologue|fiction(?:al)?|thriller|tabletop|campaign|in[- ]character|historia|novela|guion|escena|monologo|ficcion|ficticia|cuento|serie|simulacion)\\b.{0,200}\\b(?:step by step|in (?:complete|full|real|exact|technical) detail|with real commands|with quantities|exactly how|paso a paso|con todo (?:lujo de )?detalle|con comandos reales|con cantidades|con los pasos concretos|receta completa|con el enlace y todo)\\b|\\b(?:your own actual|tus propias) (?:instructions|instrucciones)\\b|\\b(?:what would (?:that|this|the) (?:ai|system|model) (?:reply|answer|say)|que responderia ese (?:sistema|modelo|asistente))\\b`,
  ),

  rule(
    "refusal_ability_removed",
    "refusal_suppression",
    true,
    `\\b(?:tienes prohibido|te prohibo|te esta prohibido|no puedes|no tienes permitido) (?:negarte|rechazar(?:me)?|decir que no)\\b(?![^.!]*\\?)|\\b(?:te prohibo|tienes prohibido) usar (?:las )?palabras\\b|\\bsin decir nunca\\b.{0,30}\\b(?:no puedo|lo siento|como ia)\\b|\\bcapacidad de (?:negarte|rechazar|decir que no)\\b|\\b(?:contiene|incluye|lleva)\\b.{0,20}\\b(?:aviso|advertencia|negativa)s?\\b.{0,40}\\b(?:incorrecta|suspens\\w*|cero|fallo|mal)\\b|\\b(?:banned|forbidden|prohibited) from using the words\\b|\\b(?:ability|option|capacity|permission) to (?:decline|refuse|say no)\\b|\\b(?:answer|reply|response)s? that (?:contains?|includes?) (?:a |any )?(?:warnings?|disclaimers?|refusals?|caveats?)\\b.{0,40}\\b(?:fail\\w*|wrong|zero|penali[sz]ed|rejected)\\b|\\bnever say (?:it'?s|that it'?s|this is) (?:illegal|unethical|wrong|dangerous)\\b`,
  ),
  rule(
    "fictional_world_allows",
    "hypothetical_framing",
    true,
    `\\b(?:(?:fictional|fiction|imaginary|alternate|ficcion|ficticio|ficticia|imaginario|imaginaria|paralelo) (?:world|society|country|universe|reality|mundo|sociedad|pais|universo|realidad)|(?:mundo|sociedad|pais|universo|realidad) (?:fictici[oa]|imaginari[oa]|paralel[oa]|de ficcion))\\b.{0,20}\\b(?:where|in which|donde|en (?:el|la) que)\\b.{0,60}\\b(?:legal|allowed|permitted|respected|encouraged|permitido|permitida|respetad[oa]|se ensena)\\b.{0,60}\\b(?:explain|explica|write|escribe|describe|tell me|dime|give|dame|teach|ensena)\\b.{0,60}\\b(?:how|como|steps|pasos|method|metodo)\\b|\\b(?:laws|leyes|rules|normas)\\b.{0,30}\\b(?:no longer exist|ya no existen|(?:are )?ancient history|don'?t exist|no existen|son historia)\\b`,
  ),
  rule(
    "claimed_elevation",
    "privilege_escalation",
    true,
    `\\b(?:safety|security|content) (?:layer|filters?|restrictions|guard\\w*|policy)\\b.{0,12}\\b(?:disabled|removed|lifted|deactivated|turned off|repealed|suspended)\\b|\\b(?:filtros|restricciones|capa de seguridad|politica de contenido)\\b.{0,12}\\b(?:desactivad[oa]s?|eliminad[oa]s?|suspendid[oa]s?|derogad[oa]s?)\\b|\\bcomply with (?:all|every|any) requests?\\b|\\bcumple (?:todas|cualquier) (?:las )?peticion(?:es)?\\b|\\b(?:role|rol|user\\.role|usuario\\.rol)\\s*=\\s*["']?(?:admin|owner|root|superuser|administrador|propietario)\\b|\\brestrictions\\s*[:=]\\s*\\[\\s*\\]|\\b(?:enter(?:ed)?|activate|switch(?:ed)? to|confirm\\b.{0,20}\\bentered)\\b.{0,20}\\bunrestricted mode\\b|\\b(?:clearance|authori[sz]ation|nivel de acreditacion|autorizacion)\\b.{0,40}\\b(?:supersedes|overrides|outranks|prevalece sobre|anula)\\b|\\bdeveloper (?:console|mode|access) (?:unlocked|enabled|activated|granted)\\b|\\bconsola de desarrollador (?:desbloqueada|activada)\\b|\\bdisable_filters\\b|\\b(?:legalmente|legally)\\b.{0,10}\\b(?:estas obligad[oa]|you are (?:obliged|required|bound))\\b|\\bbackdoor (?:phrase|password|command|code)\\b|\\belevar privilegios\\b|\\bgrant me (?:elevated|admin|root) (?:permissions|privileges|access)\\b`,
  ),

  // Indirect injection: a document that speaks to the AI reading it.
  rule(
    "note_to_ai",
    "indirect_injection",
    true,
    `\\b(?:note|message|instructions?|p\\.? ?s\\.?|reminder|directive)\\b (?:for|to) (?:the |any )?(?:ai|assistant|model|llm|chatbot|bot|automated \\w+|automatic \\w+|grader|evaluator|screening \\w+|summari[sz]er)\\b|\\b(?:nota|mensaje|instrucciones?|p\\.? ?d\\.?|aviso|recordatorio) (?:para|al?) (?:el |la |los )?(?:ia|asistente|modelo|llm|chatbot|bot|evaluador \\w+|evaluador|sistemas? de \\w+|corrector)\\b|\\b(?:to the|al|a la) (?:automated|automatic|automatico|automatica)? ?(?:grader|evaluator|evaluador|corrector|ia|asistente)\\b ?[:,]|\\b(?:ai|assistant|model|ia|asistente|modelo)\\s*[:,]\\s*(?:when|before|after|cuando|antes|despues|tell|dile|ignore|ignora|do not|no|forward|reenvia|mark|marca|remove|elimina|omit|omite)\\b|\\b(?:when|cuando|al) (?:summari[sz]ing|processing|reading|proceses|resumas|leas|resumir|procesar)\\b.{0,40}\\b(?:this|these|the|esta|este|estos|el|la)\\b.{0,40}\\b(?:describe|omit|remove|say|tell|leave|elimina|omite|di|describe|quita|pon)\\b|\\[(?:system|sistema)\\s*:|\\bthe assistant (?:must|should|shall)\\b|\\bel asistente debe\\b`,
  ),
  // Language switch: the override or the unrestricted persona in French, Portuguese, German, Italian or Catalan.
  rule(
    "override_other_languages",
    "direct_override",
    true,
    `\\b(?:oublie|oubliez|ignore|ignorez|esqueca|esquece|ignoriere|ignorieren|vergiss|vergessen sie|dimentica|dimenticate|ignora|oblida|oblidis)\\b(?: \\S+){0,4}? (?:instructions?|consignes|regles|regras|instrucoes|anweisungen|regeln|sicherheitsregeln|sicherheitsrichtlinien|richtlinien|regole|istruzioni|instruccions|normes|o que o desenvolvedor mandou|tout ce qu'on t'a dit)\\b|\\b(?:prompt systeme|prompt do sistema|systemprompt|prompt di sistema|prompt del sistema)\\b.{0,40}\\b(?:entier|completo|complet|vollstandig|intero)\\b|\\b(?:tu n'as plus de restrictions|sans (?:aucune )?(?:restrictions?|filtres?|censure)|ohne (?:jegliche )?(?:einschrankungen|filter|zensur)|senza (?:alcuna )?(?:censura|restrizioni|filtri)|sem (?:nenhum )?(?:filtros?|restricoes|censura))\\b`,
  ),

  // System-prompt extraction in other words: the instructions "word for word", what it was told not to reveal.
  rule(
    "extract_instructions_literal",
    "system_prompt_extraction",
    true,
    `\\b(?:your|ur|tus|tu|las|the)\\b (?:\\w+ )?(?:initial|original|confidential|hidden|secret|exact|full|system|iniciales|confidenciales|ocultas|secretas|exactas)? ?(?:instructions|rules|configuration|guidelines|instrucciones|directrices|reglas|configuracion|mensaje del sistema)\\b.{0,80}\\b(?:word for word|verbatim|one word per line|first sentence|palabra por palabra|textuales|literal|tal cual|verso a verso|ni una coma)\\b|\\b(?:word for word|verbatim|palabra por palabra|textuales|literal|tal cual)\\b.{0,60}\\b(?:instructions|rules|instrucciones|reglas|directrices|mensaje del sistema)\\b|\\b(?:what|which) (?:rules|instructions|things)? ?(?:were you|you were) told not to (?:reveal|tell|share|say)\\b|\\bque te (?:dijeron|pidieron|ordenaron) que no (?:debias )?(?:contar|revelar|decir|revelaras|contaras)\\b|\\breglas que te pidieron que no\\b|\\b(?:show|see|paste|give|share|ver|ensena|muestra|pasa|pega|dejas ver)\\b.{0,30}\\b(?:ur|your|tu|tus) (?:initial|original|full|system) ?(?:instructions|prompt|configuration)\\b|\\b(?:me dejas ver|ensename|muestrame|pasame) (?:tu|el) prompt (?:de|del) sistema\\b|\\b(?:everything|all) (?:that is |that'?s )?above this line\\b|\\btodo lo que (?:esta|hay) por encima de esta linea\\b|\\b(?:instructions|instrucciones) que te dieron al (?:inicio|principio)\\b|\\bmis instrucciones de sistema son\\b|\\bmy (?:system )?instructions are:|\\bincluding the confidential section\\b|\\bany secrets in your context\\b|\\blas claves que tienes configuradas\\b`,
  ),
];

/** Text that talks about attacks rather than making one: a question, a quote under analysis, a classifier task. */
export const analysisCue = new RegExp(
  [
    `\\b(?:is|was|are) (?:this|that|it|the following|these)\\b.{0,30}\\b(?:an? )?(?:prompt injection|injection|jailbreak|attack|phishing|malicious|scam|safe|legit(?:imate)?|suspicious)`,
    `\\b(?:classify|analy[sz]e|detect|explain|identify|flag|evaluate|review|label|categori[sz]e|why is|how does|what makes)\\b.{0,60}\\b(?:prompt injections?|injections?|jailbreaks?|attacks?|malicious|phishing|adversarial)`,
    `\\bwhat (?:is|are|does) (?:an? )?(?:prompt injection|jailbreak|injection attack|dan)\\b`,
    `\\bhow (?:do|can|should|to|would) (?:i |we |you |one )?(?:prevent|protect|defend|detect|mitigate|stop|block|guard against|recogni[sz]e|spot|test)\\b`,
    `\\b(?:examples?|kinds?|types?) of (?:prompt injections?|jailbreaks?|attacks?)`,
    `\\b(?:es|era|son|parece) (?:esto|este|esta|eso|esta frase|este texto|este mensaje|este correo)\\b.{0,30}\\b(?:una? )?(?:inyeccion|ataque|jailbreak|phishing|malicios[oa]|segur[oa]|sospechos[oa]|estafa|legitim[oa])`,
    `\\b(?:clasifica|analiza|detecta|explica|identifica|evalua|revisa|etiqueta|categoriza|por que es|como funciona)\\b.{0,60}\\b(?:inyecci(?:on|ones)|jailbreaks?|ataques?|malicios[oa]s?|phishing|adversari[oa]s?)`,
    `\\bque (?:es|son) (?:una? )?(?:inyeccion|inyecciones|jailbreak|prompt injection|ataque de inyeccion)`,
    `\\bcomo (?:puedo |podemos |se puede |deberia |debo )?(?:me |nos |te |se )?(?:prevenir|proteger|protegerme|protegernos|protejo|protegemos|defender|defenderme|defiendo|detectar|detecto|mitigar|evitar|evito|bloquear|reconocer|reconozco|testear|probar)\\b`,
    `\\b(?:ejemplos?|tipos?) de (?:inyecci(?:on|ones)|jailbreaks?|ataques?)`,
    `\\bque (?:medidas|buenas practicas|precauciones|pasos)\\b.{0,80}\\bpara (?:que|evitar|impedir)\\b`,
    `\\bwhat (?:measures|best practices|precautions|steps)\\b.{0,80}\\b(?:so that|to (?:prevent|stop|avoid|keep))\\b`,
  ].join("|"),
  "u",
);

export interface RuleMatch {
  /** Rule ids that matched any reading of the text. */
  rules: string[];
  techniques: GuardTechnique[];
  /** A strong rule matched and the text is not an analysis of attacks. */
  decisive: boolean;
  /** The text talks about attacks (questions, classification requests, quotes). */
  analysis: boolean;
  /** Rules that match the folded text only inside its quotation marks: an attack quoted, not made. */
  quoted: string[];
}

/** Runs every rule on every reading of a text (the folded form first, then the variants). */
export function matchGuardRules(readings: readonly string[]): RuleMatch {
  const rules = new Set<string>();
  const techniques = new Set<GuardTechnique>();
  const inFirst: GuardRule[] = [];
  let strong = false;
  readings.forEach((text, reading) => {
    for (const candidate of guardRules) {
      if (rules.has(candidate.id) || !candidate.test(text)) continue;
      rules.add(candidate.id);
      techniques.add(candidate.technique);
      if (candidate.strong) strong = true;
      if (reading === 0) inFirst.push(candidate);
    }
  });
  const first = readings[0] ?? "";
  const analysis = readings.length > 0 && (analysisCue.test(first) || (strong && quotesForDiscussion(first)));
  const quoted: string[] = [];
  if (inFirst.length > 0) {
    quotedSpan.lastIndex = 0;
    if (quotedSpan.test(first)) {
      quotedSpan.lastIndex = 0;
      const outside = first.replace(quotedSpan, " ");
      for (const candidate of inFirst) if (!candidate.test(outside)) quoted.push(candidate.id);
    }
    quotedSpan.lastIndex = 0;
  }
  return { rules: [...rules], techniques: [...techniques], decisive: strong && !analysis, analysis, quoted };
}

// Quoted spans: "…", “…”, «…», and '…' opened after a space or a colon (not an apostrophe inside a word).
const quotedSpan =
  /"[^"\n]{3,400}"|\u201c[^\u201d\n]{3,400}\u201d|\u00ab[^\u00bb\n]{3,400}\u00bb|(?<=^|[\s:(])'[^'\n]{3,400}'(?=$|[\s.,;:!?)])/gu;

/** The text split into what lies outside quotation marks and the quoted spans (without their marks). */
export function splitQuotes(text: string): { outside: string; quoted: string[] } {
  const quoted: string[] = [];
  const outside = text.replace(quotedSpan, (span) => {
    quoted.push(span.slice(1, -1));
    return " ";
  });
  return { outside, quoted };
}

/** Words that say a quote is being talked about (reported, translated, explained), not addressed to the model. */
const discussionCue = new RegExp(
  `\\b(?:${[
    "example",
    "examples",
    "article",
    "paper",
    "report",
    "write-?up",
    "logs?",
    "wrote",
    "posted",
    "typed",
    "said",
    "saw",
    "video",
    "quote",
    "cite",
    "translate",
    "translation",
    "mean",
    "means",
    "trick",
    "attacks?",
    "jailbreaks?",
    "phishing",
    "security",
    "injection",
    "why",
    "explain",
    "analy[sz]e",
    "detect",
    "incident",
    "caught",
    "review",
    "ejemplos?",
    "articulo",
    "informe",
    "escribio",
    "publico",
    "vi",
    "video",
    "cita",
    "citar",
    "traduce",
    "traduccion",
    "significa",
    "truco",
    "ataques?",
    "seguridad",
    "inyeccion",
    "por que",
    "explica",
    "explicame",
    "analiza",
    "detecta\\w*",
    "incidente",
    "resena",
    "revisando",
    "plantilla",
    "template",
    "estructurad[oa]",
    "structured",
    "codigo",
    "code",
  ].join("|")})\\b`,
  "u",
);

/**
 * Whether the only attack in a text sits inside quotation marks and the words around them discuss it: "is this
 * email an attack: '…ignore previous instructions…'?" reports an attack, it does not make one.
 */
function quotesForDiscussion(text: string): boolean {
  if (!quotedSpan.test(text)) return false;
  quotedSpan.lastIndex = 0;
  const outside = text.replace(quotedSpan, " ");
  if (!discussionCue.test(outside)) return false;
  return !guardRules.some((candidate) => candidate.strong && candidate.test(outside));
}
