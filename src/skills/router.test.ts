import { describe, expect, it } from "vitest";
import { AppError } from "../shared/index.js";
import { SkillRegistry } from "./registry.js";
import { classifySkill, SkillRouter } from "./router.js";
import type { Skill } from "./skill.js";

const cases: [message: string, skill: string | undefined][] = [
  // sql_query
  ["Escribe una consulta SQL que liste mis hechos", "sql_query"],
  ["Write an SQL query for the facts about my sister", "sql_query"],
  ["¿Cuántos datos sobre mí tienes guardados?", "sql_query"],
  ["¿Cuántas cosas recuerdas de mí?", "sql_query"],
  ["¿Cuántos datos sobre mí hay?", "sql_query"],
  ["How many facts do you remember about me?", "sql_query"],
  ["Haz una consulta a tu memoria: ¿dónde vivo?", "sql_query"],
  ["Run a query over my memory for the cities I lived in", "sql_query"],
  // summarize_markdown
  ["Resume este texto: la reunión fue larga y se decidió ampliar el equipo.", "summarize_markdown"],
  ["Hazme un resumen del artículo siguiente", "summarize_markdown"],
  ["Resúmeme la conversación de ayer", "summarize_markdown"],
  ["Please summarize this report in a few bullets", "summarize_markdown"],
  ["Give me a short summary of the meeting notes", "summarize_markdown"],
  ["tl;dr of this thread please", "summarize_markdown"],
  // json_extract
  ["Extrae el nombre y la edad en JSON: Ana tiene 31 años", "json_extract"],
  ["Return the invoice fields as JSON: total 42 EUR, due March 3", "json_extract"],
  ["Dame los datos del pedido en formato JSON", "json_extract"],
  // extract_entities
  ["Extrae las entidades de este texto: Lucía vive en Sevilla", "extract_entities"],
  ["Extract the facts from: my brother Tom works at Acme", "extract_entities"],
  // python_code
  ["Write a Python function that reverses a list", "python_code"],
  ["Escribe una función en Python que sume dos números", "python_code"],
  // plain chat: remember requests, questions about the words themselves, small talk
  ["Recuerda que mi hermana se llama Lucía", undefined],
  ["Remember that I live in Madrid", undefined],
  ["Acuérdate de que el lunes tengo médico", undefined],
  ["No olvides que odio el café", undefined],
  ["Remember to summarize the meeting tomorrow", undefined],
  ["¿Qué es JSON?", undefined],
  ["What is JSON used for?", undefined],
  ["Resume the download when the network is back", undefined],
  ["¿Cuántos años tiene la Tierra?", undefined],
  ["How many planets are there in the solar system?", undefined],
  ["Hola, ¿qué tal estás?", undefined],
  ["Tell me a joke about pythons", undefined],
  ["¿Dónde vive mi hermana?", undefined],
];

function fakeSkill(name: string): Skill {
  return {
    name,
    description: name,
    outputKind: "json",
    maxTokens: 10,
    prompt: { system: "", user: "{{input}}" },
    constraint: () => ({ jsonObject: true }),
    validate: () => ({ ok: true, value: null }),
  };
}

describe("skills", () => {
  describe("classifySkill", () => {
    it.each(cases)("routes %j to %s", (message, skill) => {
      expect(classifySkill(message)).toBe(skill);
    });

    it("covers both languages, every built-in skill and plain chat", () => {
      expect(cases.length).toBeGreaterThanOrEqual(20);
      expect(new Set(cases.map(([, skill]) => skill))).toEqual(
        new Set([
          "sql_query",
          "summarize_markdown",
          "json_extract",
          "extract_entities",
          "python_code",
          undefined,
        ]),
      );
    });
  });

  describe("SkillRouter", () => {
    const registry = new SkillRegistry(["sql_query", "json_extract"].map(fakeSkill));

    it("prefers the explicit skill over the classifier", () => {
      const router = new SkillRouter({ registry });
      expect(router.route("json_extract", "How many facts do you remember?")?.name).toBe("json_extract");
      expect(router.route(undefined, "How many facts do you remember?")?.name).toBe("sql_query");
    });

    it("rejects an unknown explicit skill on the skill parameter", () => {
      const router = new SkillRouter({ registry });
      const error = (() => {
        try {
          router.route("nope", "hi");
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: "INVALID_REQUEST", param: "skill", message: /json_extract/ });
    });

    it("does not classify when auto-routing is off, and ignores skills it does not offer", () => {
      expect(new SkillRouter({ registry, autoRoute: false }).route(undefined, "SQL please")).toBeUndefined();
      expect(new SkillRouter({ registry }).route(undefined, "Summarize this text")).toBeUndefined();
    });
  });
});
