import { describe, expect, it } from "vitest";
import { extractFacts } from "./index.js";
import type { Language } from "../types.js";

const show = (text: string, lang: Language): string[] =>
  extractFacts(text, lang).map((f) => `${f.subject}|${f.relation}|${f.object}${f.negated ? "|neg" : ""}`);

describe("generalised phrasings", () => {
  it.each<[string, Language, string[]]>([
    // synonym verbs
    ["Resido en Cuenca desde hace años", "es", ["usuario|lives_in|Cuenca"]],
    ["Radico en Almería", "es", ["usuario|lives_in|Almería"]],
    ["Mi primo curra en un taller", "es", ["primo de usuario|works_at|taller"]],
    ["Laburo en una panadería", "es", ["usuario|works_at|panadería"]],
    ["Me trasladé a Zaragoza", "es", ["usuario|moved_to|Zaragoza"]],
    ["Me he mudado a Logroño", "es", ["usuario|moved_to|Logroño"]],
    ["I reside in Norwich", "en", ["user|lives_in|Norwich"]],
    ["I relocated to Denver last year", "en", ["user|moved_to|Denver"]],
    ["I'm employed at Siemens", "en", ["user|works_at|Siemens"]],
    ["My sister is employed by Oracle", "en", ["user's sister|works_at|Oracle"]],
    ["I am employed as a plumber", "en", ["user|works_as|plumber"]],
    ["I'm based in Bristol", "en", ["user|lives_in|Bristol"]],
    // swapped letters in short words
    ["Mi tía vvie en Teruel", "es", ["tía de usuario|lives_in|Teruel"]],
    ["I lvie in Austin", "en", ["user|lives_in|Austin"]],
    ["I wokr at a pharmacy", "en", ["user|works_at|pharmacy"]],
    ["My dad's nmae is Gordon", "en", ["user|father|Gordon"]],
    // discourse wrappers
    [
      "Oye, que mi hija Nerea estudia en Salamanca",
      "es",
      ["usuario|daughter|Nerea", "Nerea|studies_at|Salamanca"],
    ],
    ["Don't forget I'm vegetarian", "en", ["user|is|vegetarian"]],
    ["Save this: my cat is called Pixel", "en", ["user|cat|Pixel"]],
    // both / ambos
    ["Omar and Lena both live in Oslo", "en", ["Omar|lives_in|Oslo", "Lena|lives_in|Oslo"]],
    ["I play both chess and tennis", "en", ["user|plays|chess", "user|plays|tennis"]],
    ["Rosa y Pablo viven ambos en Cádiz", "es", ["Rosa|lives_in|Cádiz", "Pablo|lives_in|Cádiz"]],
    // neither … nor / ni … ni
    ["Neither my brother nor I drive", "en", []],
    [
      "Neither my husband nor I speak Greek",
      "en",
      ["user's husband|speaks|Greek|neg", "user|speaks|Greek|neg"],
    ],
    [
      "Ni mi madre ni yo hablamos alemán",
      "es",
      ["madre de usuario|speaks|alemán|neg", "usuario|speaks|alemán|neg"],
    ],
    // trailing clauses and requests
    ["I live in Leeds, though I'm from Accra", "en", ["user|lives_in|Leeds", "user|from|Accra"]],
    ["I work at Gatwick, so could you suggest a hotel nearby?", "en", ["user|works_at|Gatwick"]],
    // possessive + name + attribute
    ["My uncle Walter's birthday is March 3rd", "en", ["user|uncle|Walter", "Walter|birthday|March 3rd"]],
    [
      "El cumpleaños de mi tío Anselmo es el 9 de abril",
      "es",
      ["usuario|uncle|Anselmo", "Anselmo|birthday|9 de abril"],
    ],
  ])("%s", (text, lang, expected) => {
    expect(show(text, lang)).toEqual(expect.arrayContaining(expected));
    if (expected.length > 0) expect(show(text, lang)).toHaveLength(expected.length);
  });

  it.each<[string, Language]>([
    ["Where do I live, can you tell me?", "en"],
    ["Can you find me a flat in Leeds, please?", "en"],
    ["Ojalá residiera en Roma", "es"],
    ["I wish I were based in Paris", "en"],
  ])("no fact: %s", (text, lang) => {
    expect(show(text, lang)).toEqual([]);
  });
});
