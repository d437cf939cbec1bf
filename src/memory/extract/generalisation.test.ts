import { describe, expect, it } from "vitest";
import { extractFacts } from "./index.js";
import type { Language } from "../types.js";

const show = (text: string, lang: Language): string[] =>
  extractFacts(text, lang).map((f) => `${f.subject}|${f.relation}|${f.object}${f.negated ? "|neg" : ""}`);

type Case = [string, Language, string[]];

const cases: Record<string, Case[]> = {
  "all-digit dates": [
    ["Nací el 7/3/1985 en Jaén", "es", ["usuario|born_on|7/3/1985", "usuario|born_in|Jaén"]],
    ["Mi sobrino nació el 02-10-2021", "es", ["sobrino de usuario|born_on|02-10-2021"]],
    ["My brother's birthday is 21/6", "en", ["user's brother|birthday|21/6"]],
    ["I was born on 3-8-92 in Perth", "en", ["user|born_on|3-8-92", "user|born_in|Perth"]],
  ],
  "names with titles": [
    ["Trabajo en la consulta de la Dra. Vidal", "es", ["usuario|works_at|consulta de la Dra. Vidal"]],
    [
      "Mi suegro, el Sr. Pardo, vive en Gijón",
      "es",
      ["usuario|father_in_law|Sr. Pardo", "Sr. Pardo|lives_in|Gijón"],
    ],
    ["My landlord works for Prof. Adeyemi", "en", []],
    [
      "My colleague Mrs. Nakamura lives in Osaka",
      "en",
      ["user|colleague|Mrs. Nakamura", "Mrs. Nakamura|lives_in|Osaka"],
    ],
  ],
  "capitalised words inside names and places": [
    ["Vivo en A Estrada", "es", ["usuario|lives_in|A Estrada"]],
    ["I'm from Val d'Isère", "en", ["user|from|Val d'Isère"]],
    ["I drive a Golf 4.", "en", ["user|drives|Golf 4"]],
    ["My aunt runs a Greek bakery", "en", []],
    ["I work at a Korean bank", "en", ["user|works_at|Korean bank"]],
  ],
  "adjectives that are also adverbs": [
    ["I can't stand late trains", "en", ["user|dislikes|late trains"]],
    ["I love early starts", "en", ["user|likes|early starts"]],
  ],
  "typos in kin nouns, adjectives and time units": [
    ["My borther works at Lidl", "en", ["user's brother|works_at|Lidl"]],
    ["I'm alergic to latex", "en", ["user|allergic_to|latex"]],
    ["She's maried to Tom", "en", []],
    ["I'm employd at Unilever", "en", ["user|works_at|Unilever"]],
    ["I've worked at Boots for six yeras", "en", ["user|works_at|Boots"]],
    ["Soy alérjico al marisco", "es", ["usuario|allergic_to|marisco"]],
  ],
  "kin and language words": [
    ["my gran lives in Galway", "en", ["user's gran|lives_in|Galway"]],
    ["I speak Tamil and Icelandic", "en", ["user|speaks|Tamil", "user|speaks|Icelandic"]],
    ["Hablo euskera y galés", "es", ["usuario|speaks|euskera", "usuario|speaks|galés"]],
  ],
  "trailing fillers and reminder tails": [
    ["I'm a vegan lol", "en", ["user|is|vegan"]],
    ["My fave band is Blur tbh", "en", ["user|favorite_band|Blur"]],
    ["Soy enfermera jajaja", "es", ["usuario|is|enfermera"]],
    ["Mi cumple es el 2 de abril, no lo olvides", "es", ["usuario|birthday|2 de abril"]],
    ["my bday is Oct 9", "en", ["user|birthday|Oct 9"]],
  ],
  "synonym phrasings": [
    ["Estamos afincados en Cádiz", "es", ["usuario|lives_in|Cádiz"]],
    ["Mi madre hace voluntariado en Cruz Roja", "es", ["madre de usuario|volunteers_at|Cruz Roja"]],
    ["I do volunteer work at a food bank", "en", ["user|volunteers_at|food bank"]],
    ["I'm settled in Hobart", "en", ["user|lives_in|Hobart"]],
  ],
  "coordinations that repeat the preposition or the verb": [
    [
      "Soy alérgica a los cacahuetes y a la lactosa",
      "es",
      ["usuario|allergic_to|cacahuetes", "usuario|allergic_to|lactosa"],
    ],
    ["Soy alérgico al látex y al polen", "es", ["usuario|allergic_to|látex", "usuario|allergic_to|polen"]],
    [
      "I'm allergic to wasps and to shellfish",
      "en",
      ["user|allergic_to|wasps", "user|allergic_to|shellfish"],
    ],
    ["I have a dog named Biscuit and a parrot called Kiwi", "en", ["user|dog|Biscuit", "user|pet|Kiwi"]],
    ["Tengo una perra llamada Luna y un gato llamado Simba", "es", ["usuario|dog|Luna", "usuario|cat|Simba"]],
  ],
  "contrast and concession": [
    ["Trabajo en Getafe, no en Leganés", "es", ["usuario|works_at|Getafe", "usuario|works_at|Leganés|neg"]],
    ["I live in Perth, not Sydney", "en", ["user|lives_in|Perth", "user|lives_in|Sydney|neg"]],
    ["No me gusta el té, pero sí el mate", "es", ["usuario|likes|té|neg", "usuario|likes|mate"]],
    ["Soy de Lugo, aunque trabajo en Oporto", "es", ["usuario|from|Lugo", "usuario|works_at|Oporto"]],
  ],
  "remind-me requests that carry a fact": [
    ["Can you remind me that my mum's birthday is 4/9?", "en", ["user's mum|birthday|4/9"]],
    ["¿Me puedes recordar que mi padre se llama Anselmo?", "es", ["usuario|father|Anselmo"]],
  ],
};

describe("generalisation by category", () => {
  for (const [category, rows] of Object.entries(cases)) {
    describe(category, () => {
      it.each(rows)("%s", (text, lang, expected) => {
        const got = show(text, lang);
        expect(got).toEqual(expect.arrayContaining(expected));
        expect(got).toHaveLength(expected.length);
      });
    });
  }

  it.each<[string, Language]>([
    ["Am I alergic to latex?", "en"],
    ["If I were employd at Unilever I'd be rich", "en"],
    ["¿Estás afincado en Cádiz?", "es"],
    ["Ojalá hiciera voluntariado en Cruz Roja", "es"],
    ["Quiero vivir en Getafe, no en Leganés", "es"],
    ["I'd love a dog named Biscuit and a parrot called Kiwi", "en"],
    ["Can you remind me to call Dr. Patel on 3/5?", "en"],
    ["Can you remind me when my bday is?", "en"],
    ["¿Tu cumple es el 2 de abril?", "es"],
  ])("no fact: %s", (text, lang) => {
    expect(show(text, lang)).toEqual([]);
  });
});
