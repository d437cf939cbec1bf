import { describe, expect, it } from "vitest";
import { extractFacts } from "./index.js";
import { normalizeKey } from "../normalize.js";

/** [text, [subject, object, negated][]]: scored as the evaluation scores, on normalised keys. */
type Row = readonly [text: string, facts: ReadonlyArray<readonly [string, string, boolean]>];

const rows: readonly Row[] = [
  [
    "Mi prima Elena vive en Zaragoza",
    [
      ["usuario", "Elena", false],
      ["Elena", "Zaragoza", false],
    ],
  ],
  ["Mi cuñado trabaja en una gasolinera", [["cuñado de usuario", "gasolinera", false]]],
  [
    "Soy camarera en un restaurante de Valencia",
    [
      ["usuario", "camarera", false],
      ["usuario", "restaurante de Valencia", false],
    ],
  ],
  [
    "Me llamo Iker y soy de Bilbao",
    [
      ["usuario", "Iker", false],
      ["usuario", "Bilbao", false],
    ],
  ],
  ["No me gusta conducir", [["usuario", "conducir", true]]],
  ["Odio el frío", [["usuario", "frío", false]]],
  ["Mi abuelo tiene 90 años", [["abuelo de usuario", "90", false]]],
  ["Tengo un gato negro que se llama Sombra", [["usuario", "Sombra", false]]],
  ["Mis hijas estudian en el mismo colegio", []],
  ["¿Cuántos años tiene tu hermano?", []],
  ["Me encantan las series de Netflix", [["usuario", "series de Netflix", false]]],
  ["Mi hijo pequeño se llama Hugo", [["usuario", "Hugo", false]]],
  ["Trabajo como profesor de matemáticas", [["usuario", "profesor de matemáticas", false]]],
  ["Vivo en un pueblo cerca de Granada", [["usuario", "pueblo", false]]],
  [
    "Mi novia trabaja de enfermera en el Hospital 12 de Octubre",
    [
      ["novia de usuario", "enfermera", false],
      ["novia de usuario", "Hospital 12 de Octubre", false],
    ],
  ],
  ["Nunca he vivido fuera de España", []],
  ["Ya no juego al tenis", [["usuario", "tenis", true]]],
  ["Mi hermano no habla francés", [["hermano de usuario", "francés", true]]],
  ["Me mudé a Barcelona en 2018", [["usuario", "Barcelona", false]]],
  ["Mañana tengo cita con el oculista", [["usuario", "oculista", false]]],
  ["El jueves a las 5 tengo reunión con mi jefa", [["usuario", "jefa", false]]],
  ["Hola, buenas tardes", []],
  ["Quiero que me recuerdes comprar leche", []],
  ["Escríbeme un correo para mi jefe", []],
  ["Si tuviera dinero, me compraría una casa", []],
  [
    "Mi perro se llama Coco y tiene dos años",
    [
      ["usuario", "Coco", false],
      ["Coco", "2", false],
    ],
  ],
  ["Luis es mi compañero de piso", [["usuario", "Luis", false]]],
  ["Soy alérgica al polen", [["usuario", "polen", false]]],
  ["Nací en Buenos Aires", [["usuario", "Buenos Aires", false]]],
  ["Mi madre nació el 2 de febrero de 1960", [["madre de usuario", "2 de febrero de 1960", false]]],
  ["Mi película preferida es El Padrino", [["usuario", "El Padrino", false]]],
  [
    "Hablo catalán y castellano",
    [
      ["usuario", "catalán", false],
      ["usuario", "castellano", false],
    ],
  ],
  ["Juego al ajedrez con mi abuelo", [["usuario", "ajedrez", false]]],
  ["Estudio Periodismo", [["usuario", "Periodismo", false]]],
  ["Mi marido es de Italia", [["marido de usuario", "Italia", false]]],
  ["María no trabaja los fines de semana", []],
  ["A mi hija le encanta dibujar", [["hija de usuario", "dibujar", false]]],
  [
    "Tengo dos hermanos y una hermana",
    [
      ["usuario", "dos hermanos", false],
      ["usuario", "hermana", false],
    ],
  ],
  ["¿Me recomiendas un libro?", []],
  ["Gracias por todo", []],
  [
    "Mi amiga Sara es vegana",
    [
      ["usuario", "Sara", false],
      ["Sara", "vegana", false],
    ],
  ],
  ["Vivo en Sevilla desde hace 3 años", [["usuario", "Sevilla", false]]],
  ["Me llamo Ana María", [["usuario", "Ana María", false]]],
  [
    "Mi vecino se llama Rafael y es fontanero",
    [
      ["usuario", "Rafael", false],
      ["Rafael", "fontanero", false],
    ],
  ],
  ["Trabajo en Mercadona", [["usuario", "Mercadona", false]]],
  [
    "Me gusta mucho el jazz y el blues",
    [
      ["usuario", "jazz", false],
      ["usuario", "blues", false],
    ],
  ],
  [
    "My cousin Elena lives in Zaragoza",
    [
      ["user", "Elena", false],
      ["Elena", "Zaragoza", false],
    ],
  ],
  ["My brother-in-law works at a gas station", [["user's brother-in-law", "gas station", false]]],
  [
    "I'm a waitress at a restaurant in Valencia",
    [
      ["user", "waitress", false],
      ["user", "restaurant", false],
    ],
  ],
  [
    "My name is Iker and I'm from Bilbao",
    [
      ["user", "Iker", false],
      ["user", "Bilbao", false],
    ],
  ],
  ["I don't like driving", [["user", "driving", true]]],
  ["I hate the cold", [["user", "cold", false]]],
  ["My grandfather is 90 years old", [["user's grandfather", "90", false]]],
  ["I have a black cat named Shadow", [["user", "Shadow", false]]],
  ["How old is your brother?", []],
  ["I love Netflix series", [["user", "Netflix series", false]]],
  ["My youngest son is called Hugo", [["user", "Hugo", false]]],
  ["I work as a math teacher", [["user", "math teacher", false]]],
  // "village" alone says nothing of where; the locative is part of the place
  ["I live in a village near Granada", [["user", "village near Granada", false]]],
  [
    "My girlfriend works as a nurse at General Hospital",
    [
      ["user's girlfriend", "nurse", false],
      ["user's girlfriend", "General Hospital", false],
    ],
  ],
  ["I don't play tennis anymore", [["user", "tennis", true]]],
  ["My brother doesn't speak French", [["user's brother", "French", true]]],
  ["I moved to Barcelona in 2018", [["user", "Barcelona", false]]],
  ["Tomorrow I have an appointment with the eye doctor", [["user", "eye doctor", false]]],
  ["Good afternoon!", []],
  ["I want you to remind me to buy milk", []],
  ["Write an email to my boss", []],
  ["If I had money, I would buy a house", []],
  [
    "My dog is called Coco and he is two",
    [
      ["user", "Coco", false],
      ["Coco", "2", false],
    ],
  ],
  ["Luis is my roommate", [["user", "Luis", false]]],
  ["I'm allergic to pollen", [["user", "pollen", false]]],
  ["I was born in Buenos Aires", [["user", "Buenos Aires", false]]],
  ["My mother was born on February 2, 1960", [["user's mother", "February 2, 1960", false]]],
  ["My favorite movie is The Godfather", [["user", "The Godfather", false]]],
  [
    "I speak Catalan and Spanish",
    [
      ["user", "Catalan", false],
      ["user", "Spanish", false],
    ],
  ],
  ["I study journalism", [["user", "journalism", false]]],
  ["My husband is from Italy", [["user's husband", "Italy", false]]],
  ["My daughter loves drawing", [["user's daughter", "drawing", false]]],
  [
    "I have two brothers and a sister",
    [
      ["user", "two brothers", false],
      ["user", "sister", false],
    ],
  ],
  ["Can you recommend a book?", []],
  ["Thanks for everything", []],
  [
    "My friend Sara is vegan",
    [
      ["user", "Sara", false],
      ["Sara", "vegan", false],
    ],
  ],
  ["I've been living in Seville for 3 years", [["user", "Seville", false]]],
  [
    "My neighbor's name is Rafael and he's a plumber",
    [
      ["user", "Rafael", false],
      ["Rafael", "plumber", false],
    ],
  ],
  ["I work at Walmart", [["user", "Walmart", false]]],
  [
    "I really like jazz and blues",
    [
      ["user", "jazz", false],
      ["user", "blues", false],
    ],
  ],
  [
    "My mom lives in Chicago and my dad lives in Denver",
    [
      ["user's mom", "Chicago", false],
      ["user's dad", "Denver", false],
    ],
  ],
  [
    "Me and my wife live in Austin",
    [
      ["user", "Austin", false],
      ["user's wife", "Austin", false],
    ],
  ],
  [
    "We have two dogs, Max and Bella",
    [
      ["user", "Max", false],
      ["user", "Bella", false],
    ],
  ],
  [
    "I'm a software engineer at Microsoft",
    [
      ["user", "software engineer", false],
      ["user", "Microsoft", false],
    ],
  ],
  ["Mi hermano gemelo se llama Álvaro", [["usuario", "Álvaro", false]]],
  ["Tengo una tortuga llamada Manolita", [["usuario", "Manolita", false]]],
  ["Mi jefe no me cae bien", []],
  ["I can't stand my boss", [["user", "boss", false]]],
  ["Estoy saliendo con Marcos", [["usuario", "Marcos", false]]],
  ["I'm dating Chris", [["user", "Chris", false]]],
  ["Mi hija cumple años el 8 de julio", [["hija de usuario", "8 de julio", false]]],
  ["My son's birthday is on July 8", [["user's son", "July 8", false]]],
  [
    "Mi suegra se llama Pilar y vive en Córdoba",
    [
      ["usuario", "Pilar", false],
      ["Pilar", "Córdoba", false],
    ],
  ],
  ["Tengo una sobrina que estudia en Salamanca", [["sobrina de usuario", "Salamanca", false]]],
  ["Mi hermana mayor es abogada", [["hermana mayor de usuario", "abogada", false]]],
  ["Trabajo en una panadería desde hace dos años", [["usuario", "panadería", false]]],
  ["No me gustan los lunes", [["usuario", "lunes", true]]],
  ["Me encanta ir al cine con mis amigos", [["usuario", "ir al cine", false]]],
  ["Mi padre ya no trabaja", []],
  ["Mi madre ya no vive en Valencia", [["madre de usuario", "Valencia", true]]],
  ["Soy de un pueblo de Cuenca", [["usuario", "pueblo de Cuenca", false]]],
  ["Vivo en la Calle Alcalá", [["usuario", "Calle Alcalá", false]]],
  ["Estoy casada con un alemán", [["usuario", "alemán", false]]],
  [
    "Mi marido se llama Klaus y es alemán",
    [
      ["usuario", "Klaus", false],
      ["Klaus", "alemán", false],
    ],
  ],
  ["Tengo cita con la ginecóloga el 12 de mayo", [["usuario", "ginecóloga", false]]],
  ["El viernes a las 8 ceno con Laura", []],
  ["Este verano me voy a Grecia", []],
  [
    "Mi perro Thor odia los gatos",
    [
      ["usuario", "Thor", false],
      ["Thor", "gatos", false],
    ],
  ],
  [
    "Carmen, mi vecina, tiene un loro",
    [
      ["usuario", "Carmen", false],
      ["Carmen", "loro", false],
    ],
  ],
  [
    "Mi hijo de 7 años juega al fútbol",
    [
      ["hijo de usuario", "fútbol", false],
      ["hijo de usuario", "7", false],
    ],
  ],
  ["Tengo la tensión alta", []],
  ["Soy hipertenso", [["usuario", "hipertenso", false]]],
  ["Me llamo Jorge pero me puedes llamar Jota", [["usuario", "Jorge", false]]],
  ["¿Sabes cómo se llama mi perro?", []],
  ["Dime qué tiempo hace mañana", []],
  ["Ojalá me toque la lotería", []],
  ["Me gustaría ser médico", []],
  [
    "Mi gata Mia tiene cinco años y es muy cariñosa",
    [
      ["usuario", "Mia", false],
      ["Mia", "5", false],
      ["Mia", "muy cariñosa", false],
    ],
  ],
  ["Juan y yo somos hermanos", []],
  ["Mi abuela materna era de Asturias", [["abuela materna de usuario", "Asturias", false]]],
  [
    "Estudié Biología en la Universidad de Oviedo",
    [
      ["usuario", "Biología", false],
      ["usuario", "Universidad de Oviedo", false],
    ],
  ],
  ["Hablo alemán bastante bien", [["usuario", "alemán", false]]],
  [
    "My mother-in-law is called Pilar and lives in Cordoba",
    [
      ["user", "Pilar", false],
      ["Pilar", "Cordoba", false],
    ],
  ],
  ["I have a niece who studies in Salamanca", [["user's niece", "Salamanca", false]]],
  ["My older sister is a lawyer", [["user's older sister", "lawyer", false]]],
  ["I've worked in a bakery for two years", [["user", "bakery", false]]],
  ["I don't like Mondays", [["user", "Mondays", true]]],
  ["I love going to the movies with my friends", [["user", "going to the movies", false]]],
  ["My mom doesn't live in Valencia anymore", [["user's mom", "Valencia", true]]],
  ["I'm from a small town in Ohio", [["user", "small town in Ohio", false]]],
  ["I live on Main Street", [["user", "Main Street", false]]],
  ["I'm married to a German guy", [["user", "German guy", false]]],
  [
    "My husband's name is Klaus and he's German",
    [
      ["user", "Klaus", false],
      ["Klaus", "German", false],
    ],
  ],
  ["I have an appointment with my gynecologist on May 12", [["user", "gynecologist", false]]],
  ["This summer I'm going to Greece", []],
  [
    "My dog Thor hates cats",
    [
      ["user", "Thor", false],
      ["Thor", "cats", false],
    ],
  ],
  [
    "Carmen, my neighbor, has a parrot",
    [
      ["user", "Carmen", false],
      ["Carmen", "parrot", false],
    ],
  ],
  ["My 7-year-old son plays soccer", []],
  ["I have high blood pressure", []],
  ["My name is George but you can call me G", [["user", "George", false]]],
  ["Do you know what my dog's name is?", []],
  ["Tell me what the weather will be like tomorrow", []],
  ["I hope I win the lottery", []],
  ["I'd like to be a doctor", []],
  [
    "My cat Mia is five and very affectionate",
    [
      ["user", "Mia", false],
      ["Mia", "5", false],
      ["Mia", "very affectionate", false],
    ],
  ],
  ["My grandmother was from Asturias", [["user's grandmother", "Asturias", false]]],
  [
    "I studied biology at the University of Oviedo",
    [
      ["user", "biology", false],
      ["user", "University of Oviedo", false],
    ],
  ],
  ["I speak German quite well", [["user", "German", false]]],
  ["I'm a big fan of the Beatles", [["user", "Beatles", false]]],
  [
    "Mi hermano Pablo y su novia viven en Bilbao",
    [
      ["usuario", "Pablo", false],
      ["Pablo", "Bilbao", false],
    ],
  ],
  ["Tengo un hermano en Alemania", [["usuario", "hermano", false]]],
  ["I have a brother in Germany", [["user", "brother", false]]],
  ["Mi mejor amigo es de Chile", [["mejor amigo de usuario", "Chile", false]]],
  ["My best friend is from Chile", [["user's best friend", "Chile", false]]],
  ["Soy profesor", [["usuario", "profesor", false]]],
  ["I'm a teacher", [["user", "teacher", false]]],
  ["Mi jefe odia las reuniones", [["jefe de usuario", "reuniones", false]]],
  ["My boss hates meetings", [["user's boss", "meetings", false]]],
  ["mi hermano se llama jorge", [["usuario", "Jorge", false]]],
  [
    "mi mujer se llama lucia y trabaja en un colegio",
    [
      ["usuario", "Lucia", false],
      ["Lucia", "colegio", false],
    ],
  ],
  ["vivo en malaga", [["usuario", "Malaga", false]]],
  ["trabajo en iberia", [["usuario", "iberia", false]]],
  ["me gusta el cafe", [["usuario", "cafe", false]]],
  ["tengo 40 años", [["usuario", "40", false]]],
  ["soy de cordoba", [["usuario", "cordoba", false]]],
  ["my brother's name is jake", [["user", "Jake", false]]],
  ["i live in dublin", [["user", "Dublin", false]]],
  ["i work at amazon", [["user", "amazon", false]]],
  ["i'm 29", [["user", "29", false]]],
  ["im from texas", [["user", "texas", false]]],
  ["Trabjo en un hospital", [["usuario", "hospital", false]]],
  ["Mi hermano trabja en Madrid", [["hermano de usuario", "Madrid", false]]],
  ["Vivo en Barcleona", [["usuario", "Barcleona", false]]],
  ["My sister wroks in London", [["user's sister", "London", false]]],
  ["I livee in Paris", [["user", "Paris", false]]],
  ["Me encnata el chocolate", [["usuario", "chocolate", false]]],
  [
    "Tengo una hermana. Se llama Marta y vive en Vigo.",
    [
      ["usuario", "Marta", false],
      ["Marta", "Vigo", false],
    ],
  ],
  [
    "Tengo un amigo que se llama Pedro. Él trabaja en Repsol.",
    [
      ["usuario", "Pedro", false],
      ["Pedro", "Repsol", false],
    ],
  ],
  [
    "I have a friend called Pete. He works at Shell.",
    [
      ["user", "Pete", false],
      ["Pete", "Shell", false],
    ],
  ],
  [
    "My aunt is called Rose. She lives in Kent and she is a nurse.",
    [
      ["user", "Rose", false],
      ["Rose", "Kent", false],
      ["Rose", "nurse", false],
    ],
  ],
  ["No vivo en Madrid.", [["usuario", "Madrid", true]]],
  ["No trabajo los domingos.", []],
  ["Ya no estudio.", []],
  ["Nunca me han gustado las espinacas.", [["usuario", "espinacas", true]]],
  ["Mi hermana tampoco come carne.", []],
  ["I never lived in Spain.", [["user", "Spain", true]]],
  ["I'm no longer a smoker.", [["user", "smoker", true]]],
  ["She doesn't like me.", []],
  ["My sister no longer lives with us.", []],
  ["Me encantaría ir a Japón algún día.", []],
  ["Si pudiera, viviría en la playa.", []],
  ["I'd love a dog.", []],
  ["I wish my sister lived closer.", []],
  ["Quiero un perro.", []],
  ["Necesito un coche nuevo.", []],
  ["I need a new phone.", []],
  ["¿Tienes hermanos?", []],
  ["¿Dónde vives tú?", []],
  ["What's your name?", []],
  ["Where are you from?", []],
  ["Recuerda que mañana tengo dentista.", []],
  ["Recuerda que odio las aceitunas.", [["usuario", "aceitunas", false]]],
  ["Remember that I hate olives.", [["user", "olives", false]]],
  ["Por favor, recuerda que soy vegetariano.", [["usuario", "vegetariano", false]]],
  ["Please remember my wife's name is Ana.", [["user", "Ana", false]]],
  ["Apunta que mi hijo es alérgico a los huevos.", [["hijo de usuario", "huevos", false]]],
  [
    "Hola, soy Laura y tengo 35 años.",
    [
      ["usuario", "Laura", false],
      ["usuario", "35", false],
    ],
  ],
  [
    "Hi, I'm Mike and I'm 35.",
    [
      ["user", "Mike", false],
      ["user", "35", false],
    ],
  ],
  ["Buenos días, me llamo Ramón.", [["usuario", "Ramón", false]]],
  ["Good morning, my name is Ray.", [["user", "Ray", false]]],
];

function keys(facts: ReadonlyArray<readonly [string, string, boolean]>): string[] {
  return facts.map(([s, o, n]) => `${normalizeKey(s)} | ${normalizeKey(o)}${n ? " | NOT" : ""}`).sort();
}

describe("memory", () => {
  describe("extractFacts", () => {
    describe("on (subject, object, negated) after normalizeKey", () => {
      it.each(rows)("%s", (text, expected) => {
        const facts = extractFacts(text).map((f) => [f.subject, f.object, f.negated] as const);
        expect(keys(facts)).toEqual(keys(expected));
      });
    });
  });
});
