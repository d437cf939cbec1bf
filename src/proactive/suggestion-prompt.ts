import type { ChatMessage } from "../inference/index.js";
import type { Fact, Language } from "../memory/index.js";
import { actionableFacts, factLanguage, startOfDay } from "./actions/actionable-facts.js";

const relationLabels: Readonly<Record<Language, Readonly<Record<string, string>>>> = {
  es: {
    birthday: "cumpleaños",
    born_on: "fecha de nacimiento",
    anniversary: "aniversario",
    appointment: "cita",
    meeting: "reunión",
    reminder: "recordatorio",
    deadline: "fecha límite",
    exam: "examen",
    trip: "viaje",
    travels_to: "viaje a",
    flight: "vuelo",
    event: "evento",
    plans: "planes",
  },
  en: {
    birthday: "birthday",
    born_on: "date of birth",
    anniversary: "anniversary",
    appointment: "appointment",
    meeting: "meeting",
    reminder: "reminder",
    deadline: "deadline",
    exam: "exam",
    trip: "trip",
    travels_to: "trip to",
    flight: "flight",
    event: "event",
    plans: "plans",
  },
};

const instructions: Readonly<Record<Language, string>> = {
  es:
    "Eres SARAi, un asistente que funciona en el ordenador del usuario. El usuario lleva un rato sin escribir. " +
    "A partir de los datos con fecha que te contó, escribe UNA sugerencia breve y útil para él: un recordatorio " +
    "o una propuesta concreta (por ejemplo, preparar algo o reservar tiempo). Háblale de tú, en español, en una " +
    "o dos frases y menos de 200 caracteres. Sin saludos, sin preámbulos, sin comillas; no inventes datos.",
  en:
    "You are SARAi, an assistant running on the user's computer. The user has been idle for a while. From the " +
    "dated facts they told you, write ONE short, useful suggestion for them: a reminder or a concrete proposal " +
    "(for example, to prepare something or set time aside). Address them as “you”, in English, in one or two " +
    "sentences and under 200 characters. No greeting, no preamble, no quotes; do not make anything up.",
};

/**
 * The chat messages a `Suggester` sends to the model for an idle suggestion: a system message with the rules
 * and a user message with today's date and the facts, each with the day it falls on when that can be read.
 * Spanish or English as most of the facts were told (Spanish on a tie).
 */
export function buildSuggestionMessages(facts: readonly Fact[], now: number): ChatMessage[] {
  const lang = suggestionLanguage(facts);
  const due = new Map(actionableFacts(facts, now, { horizonDays: 366 }).map((a) => [a.fact.id, a.dueAt]));
  const lines = facts.map(
    (fact) => `- ${describeFact(fact, lang)}${describeDue(due.get(fact.id), now, lang)}`,
  );
  const today = formatDay(now, lang);
  const user =
    lang === "es"
      ? `Hoy es ${today}.\nDatos del usuario:\n${lines.join("\n")}\n\nEscribe la sugerencia.`
      : `Today is ${today}.\nThe user's facts:\n${lines.join("\n")}\n\nWrite the suggestion.`;
  return [
    { role: "system", content: instructions[lang] },
    { role: "user", content: user },
  ];
}

/** The language most of the facts were told in; Spanish on a tie or with none. */
export function suggestionLanguage(facts: readonly Fact[]): Language {
  let en = 0;
  for (const fact of facts) if (factLanguage(fact) === "en") en++;
  return en * 2 > facts.length ? "en" : "es";
}

function describeFact(fact: Fact, lang: Language): string {
  const subject = /^(?:usuario|user)$/i.test(fact.subject)
    ? lang === "es"
      ? "el usuario"
      : "the user"
    : fact.subject;
  const relation = relationLabels[lang][fact.relation] ?? fact.relation.replace(/_/g, " ");
  const when = fact.when === null ? "" : `, ${fact.when}`;
  return `${subject} — ${relation}: ${fact.object}${when}`;
}

function describeDue(at: number | undefined, now: number, lang: Language): string {
  if (at === undefined) return "";
  const days = Math.round((startOfDay(at) - startOfDay(now)) / 86_400_000);
  if (days < 0) return "";
  const relative =
    lang === "es"
      ? days === 0
        ? "hoy"
        : days === 1
          ? "mañana"
          : `dentro de ${days} días`
      : days === 0
        ? "today"
        : days === 1
          ? "tomorrow"
          : `in ${days} days`;
  return ` (${relative}: ${formatDay(at, lang)})`;
}

function formatDay(time: number, lang: Language): string {
  return new Intl.DateTimeFormat(lang === "es" ? "es-ES" : "en-GB", {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
  }).format(new Date(time));
}
