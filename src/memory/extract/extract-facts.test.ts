import { describe, expect, it } from "vitest";
import { extractFacts } from "./index.js";
import type { ExtractedFact, Language } from "../types.js";

/** [subject, relation, object] or [subject, relation, object, negated]. */
type Expected = readonly [string, string, string] | readonly [string, string, string, boolean];
type Case = readonly [text: string, lang: Language, facts: readonly Expected[]];

function asRows(facts: readonly ExtractedFact[]): string[] {
  return facts.map((f) => `${f.subject} | ${f.relation} | ${f.object}${f.negated ? " | NOT" : ""}`).sort();
}

function expectedRows(expected: readonly Expected[]): string[] {
  return expected.map(([s, r, o, n]) => `${s} | ${r} | ${o}${n === true ? " | NOT" : ""}`).sort();
}

const spanish: readonly Case[] = [
  // Kinship, possessives and names
  [
    "mi hermana Lucía vive en Madrid",
    "es",
    [
      ["usuario", "sister", "Lucía"],
      ["Lucía", "lives_in", "Madrid"],
    ],
  ],
  ["Mi hermana vive en Madrid", "es", [["hermana de usuario", "lives_in", "Madrid"]]],
  ["mi perro se llama Toby", "es", [["usuario", "dog", "Toby"]]],
  ["Mi mejor amigo se llama Pablo", "es", [["usuario", "friend", "Pablo"]]],
  ["El perro de mi hermana se llama Rex", "es", [["hermana de usuario", "dog", "Rex"]]],
  ["Ángela es mi mejor amiga", "es", [["usuario", "friend", "Ángela"]]],
  [
    "Lucía, mi hermana, vive en Roma",
    "es",
    [
      ["usuario", "sister", "Lucía"],
      ["Lucía", "lives_in", "Roma"],
    ],
  ],
  [
    "Mi hermana Lucía, que vive en Madrid, es médica",
    "es",
    [
      ["usuario", "sister", "Lucía"],
      ["Lucía", "lives_in", "Madrid"],
      ["Lucía", "is", "médica"],
    ],
  ],
  [
    "Mi hermano Juan Carlos tiene 40 años",
    "es",
    [
      ["usuario", "brother", "Juan Carlos"],
      ["Juan Carlos", "age", "40"],
    ],
  ],
  [
    "mi perro toby tiene tres años",
    "es",
    [
      ["usuario", "dog", "Toby"],
      ["Toby", "age", "3"],
    ],
  ],
  [
    "Mi vecina Ángela es profesora de inglés",
    "es",
    [
      ["usuario", "neighbor", "Ángela"],
      ["Ángela", "is", "profesora de inglés"],
    ],
  ],
  ["Mis padres viven en Lima", "es", [["padres de usuario", "lives_in", "Lima"]]],
  ["Tengo un perro que se llama Rex", "es", [["usuario", "dog", "Rex"]]],
  ["Tengo una gata llamada Luna", "es", [["usuario", "cat", "Luna"]]],
  ["Tengo una hermana que vive en Londres", "es", [["hermana de usuario", "lives_in", "Londres"]]],
  ["recuerda que mi madre se llama Carmen", "es", [["usuario", "mother", "Carmen"]]],
  ["Me llamo José Luis", "es", [["usuario", "name", "José Luis"]]],
  ["me llamo juan carlos", "es", [["usuario", "name", "Juan Carlos"]]],
  ["Soy Ana", "es", [["usuario", "name", "Ana"]]],
  ["Hola, soy Marta, encantada", "es", [["usuario", "name", "Marta"]]],
  ["Mi nombre es Beatriz", "es", [["usuario", "name", "Beatriz"]]],
  [
    "mi amiga ana vive en valencia",
    "es",
    [
      ["usuario", "friend", "Ana"],
      ["Ana", "lives_in", "Valencia"],
    ],
  ],
  // Copula, age, origin
  ["Ana es médica", "es", [["Ana", "is", "médica"]]],
  ["soy ingeniera", "es", [["usuario", "is", "ingeniera"]]],
  ["Mi jefe es muy exigente", "es", [["jefe de usuario", "is", "muy exigente"]]],
  ["Mi novio es alemán", "es", [["novio de usuario", "is", "alemán"]]],
  ["tengo 34 años", "es", [["usuario", "age", "34"]]],
  ["Tengo treinta y cuatro años", "es", [["usuario", "age", "34"]]],
  ["Soy de Bilbao", "es", [["usuario", "from", "Bilbao"]]],
  ["Ana es de Colombia", "es", [["Ana", "from", "Colombia"]]],
  [
    "Soy enfermera en el Hospital La Paz",
    "es",
    [
      ["usuario", "is", "enfermera"],
      ["usuario", "works_at", "Hospital La Paz"],
    ],
  ],
  // Places and work
  ["vivo en Madrid desde 2019", "es", [["usuario", "lives_in", "Madrid"]]],
  ["Vivo en San Sebastián", "es", [["usuario", "lives_in", "San Sebastián"]]],
  ["vivo en nueva york", "es", [["usuario", "lives_in", "Nueva York"]]],
  ["Mi abuela vive en un pueblo de Soria", "es", [["abuela de usuario", "lives_in", "pueblo de Soria"]]],
  [
    "Trabajo en Google como ingeniero de software",
    "es",
    [
      ["usuario", "works_at", "Google"],
      ["usuario", "works_as", "ingeniero de software"],
    ],
  ],
  ["Trabajo en el Hospital La Paz", "es", [["usuario", "works_at", "Hospital La Paz"]]],
  ["Mi primo trabaja en Banco Santander", "es", [["primo de usuario", "works_at", "Banco Santander"]]],
  ["María José trabaja en Zara", "es", [["María José", "works_at", "Zara"]]],
  ["Trabajo para una empresa de software", "es", [["usuario", "works_at", "empresa de software"]]],
  ["Mi mujer trabaja de enfermera", "es", [["mujer de usuario", "works_as", "enfermera"]]],
  [
    "Estudio medicina en la Universidad de Salamanca",
    "es",
    [
      ["usuario", "studies", "medicina"],
      ["usuario", "studies_at", "Universidad de Salamanca"],
    ],
  ],
  ["Mi hija estudia en el colegio San José", "es", [["hija de usuario", "studies_at", "colegio San José"]]],
  ["Me mudé a Valencia el año pasado", "es", [["usuario", "moved_to", "Valencia"]]],
  ["Nací en Sevilla", "es", [["usuario", "born_in", "Sevilla"]]],
  ["Nací el 3 de mayo de 1990", "es", [["usuario", "born_on", "3 de mayo de 1990"]]],
  ["Mi padre nació en Cuba", "es", [["padre de usuario", "born_in", "Cuba"]]],
  ["Mi cumpleaños es el 12 de octubre", "es", [["usuario", "birthday", "12 de octubre"]]],
  ["El cumpleaños de mi madre es el 5 de junio", "es", [["madre de usuario", "birthday", "5 de junio"]]],
  // Coordination
  [
    "Pedro y Marta viven en Sevilla",
    "es",
    [
      ["Pedro", "lives_in", "Sevilla"],
      ["Marta", "lives_in", "Sevilla"],
    ],
  ],
  [
    "Hablo inglés, francés y alemán",
    "es",
    [
      ["usuario", "speaks", "inglés"],
      ["usuario", "speaks", "francés"],
      ["usuario", "speaks", "alemán"],
    ],
  ],
  [
    "Me gustan el té y el café",
    "es",
    [
      ["usuario", "likes", "té"],
      ["usuario", "likes", "café"],
    ],
  ],
  [
    "Mi novio y yo vivimos en Barcelona",
    "es",
    [
      ["novio de usuario", "lives_in", "Barcelona"],
      ["usuario", "lives_in", "Barcelona"],
    ],
  ],
  [
    "Vivo en Madrid y trabajo en Getafe",
    "es",
    [
      ["usuario", "lives_in", "Madrid"],
      ["usuario", "works_at", "Getafe"],
    ],
  ],
  [
    "Me llamo Ana, tengo 30 años y vivo en Toledo",
    "es",
    [
      ["usuario", "name", "Ana"],
      ["usuario", "age", "30"],
      ["usuario", "lives_in", "Toledo"],
    ],
  ],
  [
    "Mi hijo tiene 5 años y juega al tenis",
    "es",
    [
      ["hijo de usuario", "age", "5"],
      ["hijo de usuario", "plays", "tenis"],
    ],
  ],
  [
    "Mi hermana se llama Lucía y vive en Madrid",
    "es",
    [
      ["usuario", "sister", "Lucía"],
      ["Lucía", "lives_in", "Madrid"],
    ],
  ],
  // Negation
  ["no le gusta el café", "es", []],
  ["A Marta no le gusta el café", "es", [["Marta", "likes", "café", true]]],
  ["No me gusta nada el pescado", "es", [["usuario", "likes", "pescado", true]]],
  ["Nunca he vivido en Francia", "es", [["usuario", "lives_in", "Francia", true]]],
  ["Ya no trabajo en Telefónica", "es", [["usuario", "works_at", "Telefónica", true]]],
  ["Tampoco me gusta el té", "es", [["usuario", "likes", "té", true]]],
  ["Nunca me ha gustado el café", "es", [["usuario", "likes", "café", true]]],
  ["No tengo coche", "es", [["usuario", "has", "coche", true]]],
  ["Ana no vive en Madrid", "es", [["Ana", "lives_in", "Madrid", true]]],
  [
    "Ya no vivo en Madrid, ahora vivo en Valencia",
    "es",
    [
      ["usuario", "lives_in", "Madrid", true],
      ["usuario", "lives_in", "Valencia"],
    ],
  ],
  // Likes and dislikes
  ["me encanta el chocolate", "es", [["usuario", "likes", "chocolate"]]],
  ["Me encanta bailar", "es", [["usuario", "likes", "bailar"]]],
  ["A mí me gusta el cine", "es", [["usuario", "likes", "cine"]]],
  ["A mi madre le encantan las flores", "es", [["madre de usuario", "likes", "flores"]]],
  ["Odio los lunes", "es", [["usuario", "dislikes", "lunes"]]],
  ["Detesto el brócoli", "es", [["usuario", "dislikes", "brócoli"]]],
  ["No soporto el reguetón", "es", [["usuario", "dislikes", "reguetón"]]],
  ["Mi color favorito es el azul", "es", [["usuario", "favorite_color", "azul"]]],
  ["Mi comida favorita es la paella", "es", [["usuario", "favorite_food", "paella"]]],
  ["El azul es mi color favorito", "es", [["usuario", "favorite_color", "azul"]]],
  // Possessions, skills, health, marriage
  ["Tengo un coche rojo", "es", [["usuario", "has", "coche rojo"]]],
  ["Tengo dos hijos", "es", [["usuario", "has", "dos hijos"]]],
  ["Estoy casada con Pedro", "es", [["usuario", "married_to", "Pedro"]]],
  ["Soy alérgico a los frutos secos", "es", [["usuario", "allergic_to", "frutos secos"]]],
  ["Tengo alergia al polen", "es", [["usuario", "allergic_to", "polen"]]],
  ["Toco la guitarra", "es", [["usuario", "plays", "guitarra"]]],
  ["Juego al fútbol los sábados", "es", [["usuario", "plays", "fútbol"]]],
  ["Conduzco un Seat Ibiza", "es", [["usuario", "drives", "Seat Ibiza"]]],
  ["Estoy aprendiendo japonés", "es", [["usuario", "learns", "japonés"]]],
  // Appointments
  ["tengo cita con el dentista el martes a las 10", "es", [["usuario", "appointment", "dentista"]]],
  ["Mañana tengo una cita con el médico", "es", [["usuario", "appointment", "médico"]]],
  ["Tengo una reunión con mi jefe el lunes", "es", [["usuario", "appointment", "jefe"]]],
  // Typos in trigger words
  ["trabjo en un banco", "es", [["usuario", "works_at", "banco"]]],
  ["Mi hermano viive en Bilbao", "es", [["hermano de usuario", "lives_in", "Bilbao"]]],
  ["Mi hermna trabaja en Iberia", "es", [["hermana de usuario", "works_at", "Iberia"]]],
  // Several sentences and pronouns
  [
    "Mi hermana se llama Lucía. Vive en Madrid.",
    "es",
    [
      ["usuario", "sister", "Lucía"],
      ["Lucía", "lives_in", "Madrid"],
    ],
  ],
  [
    "Tengo una hermana, Lucía. Ella es enfermera.",
    "es",
    [
      ["usuario", "sister", "Lucía"],
      ["Lucía", "is", "enfermera"],
    ],
  ],
  ["Vivo en Madrid, ¿y tú?", "es", [["usuario", "lives_in", "Madrid"]]],
  // More Spanish: coordination, gapping, relatives, apposition, attributes
  [
    "Me llamo Carlos y soy profesor de historia",
    "es",
    [
      ["usuario", "name", "Carlos"],
      ["usuario", "is", "profesor de historia"],
    ],
  ],
  ["Mi marido se llama Javier", "es", [["usuario", "husband", "Javier"]]],
  [
    "Mi hija Sofía tiene 8 años",
    "es",
    [
      ["usuario", "daughter", "Sofía"],
      ["Sofía", "age", "8"],
    ],
  ],
  ["Vivo en Valencia con mi pareja", "es", [["usuario", "lives_in", "Valencia"]]],
  [
    "Trabajo como enfermera en un hospital",
    "es",
    [
      ["usuario", "works_as", "enfermera"],
      ["usuario", "works_at", "hospital"],
    ],
  ],
  [
    "Mi padre es médico y mi madre es abogada",
    "es",
    [
      ["padre de usuario", "is", "médico"],
      ["madre de usuario", "is", "abogada"],
    ],
  ],
  [
    "Tengo dos gatos, Misi y Tom",
    "es",
    [
      ["usuario", "cat", "Misi"],
      ["usuario", "cat", "Tom"],
    ],
  ],
  [
    "Tengo 3 hijos: Ana, Luis y Pedro",
    "es",
    [
      ["usuario", "child", "Ana"],
      ["usuario", "child", "Luis"],
      ["usuario", "child", "Pedro"],
    ],
  ],
  [
    "Tengo un perro y dos gatos",
    "es",
    [
      ["usuario", "has", "perro"],
      ["usuario", "has", "dos gatos"],
    ],
  ],
  [
    "Tengo un hijo de 5 años",
    "es",
    [
      ["usuario", "has", "hijo"],
      ["hijo de usuario", "age", "5"],
    ],
  ],
  [
    "Mis padres se llaman Antonio y Carmen",
    "es",
    [
      ["usuario", "parent", "Antonio"],
      ["usuario", "parent", "Carmen"],
    ],
  ],
  [
    "Ana y Luis son mis hermanos",
    "es",
    [
      ["usuario", "sibling", "Ana"],
      ["usuario", "sibling", "Luis"],
    ],
  ],
  ["Este es mi amigo Juan", "es", [["usuario", "friend", "Juan"]]],
  [
    "Mi tía Rosa vive sola en Cuenca",
    "es",
    [
      ["usuario", "aunt", "Rosa"],
      ["Rosa", "lives_in", "Cuenca"],
    ],
  ],
  [
    "Mi madre es de Jaén y mi padre de Córdoba",
    "es",
    [
      ["madre de usuario", "from", "Jaén"],
      ["padre de usuario", "from", "Córdoba"],
    ],
  ],
  [
    "Mi hermana vive en Madrid y mi hermano en Sevilla",
    "es",
    [
      ["hermana de usuario", "lives_in", "Madrid"],
      ["hermano de usuario", "lives_in", "Sevilla"],
    ],
  ],
  [
    "Mi hermana no vive en Madrid, vive en Barcelona",
    "es",
    [
      ["hermana de usuario", "lives_in", "Madrid", true],
      ["hermana de usuario", "lives_in", "Barcelona"],
    ],
  ],
  ["A mis hijos les encantan los dinosaurios", "es", [["hijos de usuario", "likes", "dinosaurios"]]],
  [
    "Soy de México pero vivo en España",
    "es",
    [
      ["usuario", "from", "México"],
      ["usuario", "lives_in", "España"],
    ],
  ],
  [
    "Mi mujer es enfermera y trabaja en el Hospital Clínico",
    "es",
    [
      ["mujer de usuario", "is", "enfermera"],
      ["mujer de usuario", "works_at", "Hospital Clínico"],
    ],
  ],
  [
    "Juan es mi vecino y trabaja en un banco",
    "es",
    [
      ["usuario", "neighbor", "Juan"],
      ["Juan", "works_at", "banco"],
    ],
  ],
  ["Mi apellido es García", "es", [["usuario", "surname", "García"]]],
  ["Mi película favorita es Titanic", "es", [["usuario", "favorite_movie", "Titanic"]]],
  ["Mi equipo favorito es el Real Madrid", "es", [["usuario", "favorite_team", "Real Madrid"]]],
  ["La paella es mi plato favorito", "es", [["usuario", "favorite_dish", "paella"]]],
  ["Soy muy fan de Star Wars", "es", [["usuario", "likes", "Star Wars"]]],
  ["Me flipa el anime", "es", [["usuario", "likes", "anime"]]],
  [
    "No me gusta ni el té ni el café",
    "es",
    [
      ["usuario", "likes", "té", true],
      ["usuario", "likes", "café", true],
    ],
  ],
  ["Hablo un poco de francés", "es", [["usuario", "speaks", "francés"]]],
  ["Me casé con Laura en 2010", "es", [["usuario", "married_to", "Laura"]]],
  ["Me acabo de mudar a Valencia", "es", [["usuario", "moved_to", "Valencia"]]],
  ["Llevo tres años viviendo en Barcelona", "es", [["usuario", "lives_in", "Barcelona"]]],
  ["Trabajo en Telefónica desde hace cinco años", "es", [["usuario", "works_at", "Telefónica"]]],
  ["Antes vivía en Londres", "es", [["usuario", "lives_in", "Londres", true]]],
  ["Mi abuela era de Cuba", "es", [["abuela de usuario", "from", "Cuba"]]],
  ["Soy el director de un colegio", "es", [["usuario", "is", "director de un colegio"]]],
  ["Estoy jubilado", "es", [["usuario", "is", "jubilado"]]],
  ["Tengo un Toyota Corolla", "es", [["usuario", "has", "Toyota Corolla"]]],
  ["Tengo dos coches", "es", [["usuario", "has", "dos coches"]]],
  ["vivo en Cadiz", "es", [["usuario", "lives_in", "Cadiz"]]],
  ["MI HERMANA VIVE EN BARCELONA", "es", [["hermana de usuario", "lives_in", "Barcelona"]]],
  ["¿Puedes recordar que vivo en Madrid?", "es", [["usuario", "lives_in", "Madrid"]]],
  ["Apunta que tengo cita con el médico el viernes", "es", [["usuario", "appointment", "médico"]]],
  ["Acuérdate de que mi hijo se llama Pablo", "es", [["usuario", "son", "Pablo"]]],
  ["Mi hermana Ana es más alta que yo", "es", [["usuario", "sister", "Ana"]]],
  // Someone else's kinship is no trait of the speaker, but it is the speaker's kinship seen from the other side
  ["Soy la hermana de Pedro", "es", [["usuario", "brother", "Pedro"]]],
  ["Estoy trabajando en un proyecto nuevo", "es", []],
  ["Tengo hambre", "es", []],
  ["Tengo que ir al médico", "es", []],
  ["Tengo una pregunta", "es", []],
  ["Me encanta esta canción", "es", []],
  ["Me encanta mi trabajo", "es", [["usuario", "likes", "trabajo"]]],
  ["Me gusta tu respuesta", "es", []],
  ["Me gustó el libro", "es", []],
  ["Eres muy listo", "es", []],
  ["Tal vez me mude a Londres", "es", []],
  ["Madrid es muy bonita", "es", []],
  ["Cuando era pequeño vivía en Cuba", "es", []],
  ["Recuérdame llamar a mi madre mañana", "es", []],
  ["Mi ordenador no funciona", "es", []],
  [
    "Mi hermana, que se llama Lucía, vive en Madrid",
    "es",
    [
      ["usuario", "sister", "Lucía"],
      ["Lucía", "lives_in", "Madrid"],
    ],
  ],
  ["Nuestro hijo vive en Londres", "es", [["hijo de usuario", "lives_in", "Londres"]]],
  ["Mi familia es de Galicia", "es", [["familia de usuario", "from", "Galicia"]]],
  [
    "Mis aficiones son leer y viajar",
    "es",
    [
      ["usuario", "likes", "leer"],
      ["usuario", "likes", "viajar"],
    ],
  ],
  ["Mi correo es ana.garcia@gmail.com", "es", [["usuario", "email", "ana.garcia@gmail.com"]]],
  ["Mi número de teléfono es 612 345 678", "es", [["usuario", "phone", "612 345 678"]]],
  ["Soy intolerante a la lactosa", "es", [["usuario", "intolerant_to", "lactosa"]]],
  ["Soy originario de Perú", "es", [["usuario", "from", "Perú"]]],
  ["Finalmente me mudé a Berlín", "es", [["usuario", "moved_to", "Berlín"]]],
  ["Pedro ya no es mi novio", "es", [["usuario", "partner", "Pedro", true]]],
  [
    "No soy médico, soy enfermero",
    "es",
    [
      ["usuario", "is", "médico", true],
      ["usuario", "is", "enfermero"],
    ],
  ],
  ["Mi cumpleaños es en agosto", "es", [["usuario", "birthday", "agosto"]]],
  [
    "Nací el 15 de agosto de 1992 en Bilbao",
    "es",
    [
      ["usuario", "born_on", "15 de agosto de 1992"],
      ["usuario", "born_in", "Bilbao"],
    ],
  ],
  // No fact
  ["¿Dónde trabaja Ana?", "es", []],
  ["¿dónde vive tu hermana?", "es", []],
  ["¿Te gusta el cine?", "es", []],
  ["si me gustara el café, lo tomaría", "es", []],
  ["Si viviera en París sería feliz", "es", []],
  ["Si tengo tiempo, voy al gimnasio", "es", []],
  ["quiero vivir en Japón", "es", []],
  ["Quisiera vivir en Roma", "es", []],
  ["Me gustaría trabajar en Google", "es", []],
  ["Me encantaría visitar Japón", "es", []],
  ["Ojalá viviera en la playa", "es", []],
  ["Voy a mudarme a Berlín", "es", []],
  ["Hola, ¿qué tal?", "es", []],
  ["¡Gracias!", "es", []],
  ["Buenos días", "es", []],
  ["Escribe un poema sobre el mar", "es", []],
  ["Dime un chiste", "es", []],
  ["hace calor", "es", []],
  ["Está lloviendo", "es", []],
  ["Estoy cansado", "es", []],
  ["Creo que hoy va a llover", "es", []],
  ["Es muy tarde", "es", []],
  ["Háblame de mi hermana que vive en Madrid", "es", []],
];

const english: readonly Case[] = [
  // Kinship, possessives and names
  ["my dog's name is Toby", "en", [["user", "dog", "Toby"]]],
  ["My sister lives in Madrid", "en", [["user's sister", "lives_in", "Madrid"]]],
  [
    "My sister Lucy lives in London",
    "en",
    [
      ["user", "sister", "Lucy"],
      ["Lucy", "lives_in", "London"],
    ],
  ],
  [
    "my friend ana lives in valencia",
    "en",
    [
      ["user", "friend", "Ana"],
      ["Ana", "lives_in", "Valencia"],
    ],
  ],
  ["remember that my mom's name is Carmen", "en", [["user", "mother", "Carmen"]]],
  ["Lucy is my best friend", "en", [["user", "friend", "Lucy"]]],
  ["My best friend is called Pablo", "en", [["user", "friend", "Pablo"]]],
  ["My sister's dog is called Rex", "en", [["user's sister", "dog", "Rex"]]],
  ["I have a dog called Max", "en", [["user", "dog", "Max"]]],
  ["I have a sister who lives in Boston", "en", [["user's sister", "lives_in", "Boston"]]],
  [
    "Lucy, my sister, lives in Rome",
    "en",
    [
      ["user", "sister", "Lucy"],
      ["Lucy", "lives_in", "Rome"],
    ],
  ],
  [
    "My sister Lucy, who lives in Madrid, is a doctor",
    "en",
    [
      ["user", "sister", "Lucy"],
      ["Lucy", "lives_in", "Madrid"],
      ["Lucy", "is", "doctor"],
    ],
  ],
  [
    "My neighbor Tom plays the drums",
    "en",
    [
      ["user", "neighbor", "Tom"],
      ["Tom", "plays", "drums"],
    ],
  ],
  ["My parents live in Lima", "en", [["user's parents", "lives_in", "Lima"]]],
  ["My name is Ana", "en", [["user", "name", "Ana"]]],
  ["My name's Grace", "en", [["user", "name", "Grace"]]],
  ["I'm Tom", "en", [["user", "name", "Tom"]]],
  ["Hi, I'm Sarah, nice to meet you", "en", [["user", "name", "Sarah"]]],
  // Copula, age, origin
  ["I'm a nurse", "en", [["user", "is", "nurse"]]],
  ["My brother is a doctor", "en", [["user's brother", "is", "doctor"]]],
  ["I'm vegetarian", "en", [["user", "is", "vegetarian"]]],
  ["I'm Spanish", "en", [["user", "is", "Spanish"]]],
  ["I am 34 years old", "en", [["user", "age", "34"]]],
  ["I'm 27", "en", [["user", "age", "27"]]],
  ["I'm from Spain", "en", [["user", "from", "Spain"]]],
  [
    "I'm a teacher at a primary school",
    "en",
    [
      ["user", "is", "teacher"],
      ["user", "works_at", "primary school"],
    ],
  ],
  // Places and work
  ["I live in London", "en", [["user", "lives_in", "London"]]],
  ["I live in New York", "en", [["user", "lives_in", "New York"]]],
  ["I work at Google", "en", [["user", "works_at", "Google"]]],
  ["I work at the hospital", "en", [["user", "works_at", "hospital"]]],
  [
    "I work for Microsoft as a software engineer",
    "en",
    [
      ["user", "works_at", "Microsoft"],
      ["user", "works_as", "software engineer"],
    ],
  ],
  ["My wife works as a nurse", "en", [["user's wife", "works_as", "nurse"]]],
  ["José Luis works at Banco Santander", "en", [["José Luis", "works_at", "Banco Santander"]]],
  ["I study at Oxford", "en", [["user", "studies_at", "Oxford"]]],
  ["I study biology", "en", [["user", "studies", "biology"]]],
  ["I moved to Berlin last year", "en", [["user", "moved_to", "Berlin"]]],
  ["I was born in Paris", "en", [["user", "born_in", "Paris"]]],
  ["I was born on May 3rd, 1990", "en", [["user", "born_on", "May 3rd, 1990"]]],
  [
    "I was born in London in 1990",
    "en",
    [
      ["user", "born_in", "London"],
      ["user", "born_on", "1990"],
    ],
  ],
  ["My mom was born in Cuba", "en", [["user's mom", "born_in", "Cuba"]]],
  ["I've lived in Madrid for five years", "en", [["user", "lives_in", "Madrid"]]],
  ["I've been living in Lisbon since 2019", "en", [["user", "lives_in", "Lisbon"]]],
  ["I'm living in Dublin", "en", [["user", "lives_in", "Dublin"]]],
  ["I'm working at Amazon", "en", [["user", "works_at", "Amazon"]]],
  [
    "My grandmother lives in a small village near Oxford",
    "en",
    // "small village" alone says nothing of where: the locative is part of the place
    [["user's grandmother", "lives_in", "small village near Oxford"]],
  ],
  ["My birthday is on June 5", "en", [["user", "birthday", "June 5"]]],
  ["My mom's birthday is March 3rd", "en", [["user's mom", "birthday", "March 3rd"]]],
  // Coordination
  [
    "I speak English, French and German",
    "en",
    [
      ["user", "speaks", "English"],
      ["user", "speaks", "French"],
      ["user", "speaks", "German"],
    ],
  ],
  [
    "Pedro and Marta live in Seville",
    "en",
    [
      ["Pedro", "lives_in", "Seville"],
      ["Marta", "lives_in", "Seville"],
    ],
  ],
  [
    "I like tea and coffee",
    "en",
    [
      ["user", "likes", "tea"],
      ["user", "likes", "coffee"],
    ],
  ],
  [
    "My boyfriend and I live in Barcelona",
    "en",
    [
      ["user's boyfriend", "lives_in", "Barcelona"],
      ["user", "lives_in", "Barcelona"],
    ],
  ],
  [
    "I live in Madrid and work at Google",
    "en",
    [
      ["user", "lives_in", "Madrid"],
      ["user", "works_at", "Google"],
    ],
  ],
  [
    "My name is Ana, I'm 30 and I live in Toledo",
    "en",
    [
      ["user", "name", "Ana"],
      ["user", "age", "30"],
      ["user", "lives_in", "Toledo"],
    ],
  ],
  [
    "My son is 5 and plays football",
    "en",
    [
      ["user's son", "age", "5"],
      ["user's son", "plays", "football"],
    ],
  ],
  // Negation
  ["Luis doesn't work at Google anymore", "en", [["Luis", "works_at", "Google", true]]],
  ["I don't live in Paris", "en", [["user", "lives_in", "Paris", true]]],
  ["I no longer work at IBM", "en", [["user", "works_at", "IBM", true]]],
  ["I never liked coffee", "en", [["user", "likes", "coffee", true]]],
  ["I don't like broccoli", "en", [["user", "likes", "broccoli", true]]],
  ["I used to live in Paris", "en", [["user", "lives_in", "Paris", true]]],
  ["I'm not a fan of horror movies", "en", [["user", "likes", "horror movies", true]]],
  ["I don't have a car", "en", [["user", "has", "car", true]]],
  ["My sister doesn't live in Rome", "en", [["user's sister", "lives_in", "Rome", true]]],
  // Likes and dislikes
  ["I love pizza", "en", [["user", "likes", "pizza"]]],
  ["I enjoy hiking", "en", [["user", "likes", "hiking"]]],
  ["I really like jazz", "en", [["user", "likes", "jazz"]]],
  ["I hate broccoli", "en", [["user", "dislikes", "broccoli"]]],
  ["I can't stand country music", "en", [["user", "dislikes", "country music"]]],
  ["My sister loves chocolate", "en", [["user's sister", "likes", "chocolate"]]],
  ["I'm a big fan of jazz", "en", [["user", "likes", "jazz"]]],
  ["My favorite color is blue", "en", [["user", "favorite_color", "blue"]]],
  ["My favourite food is sushi", "en", [["user", "favorite_food", "sushi"]]],
  ["Blue is my favorite color", "en", [["user", "favorite_color", "blue"]]],
  // Possessions, skills, health, marriage
  ["I have a red car", "en", [["user", "has", "red car"]]],
  ["I have two kids", "en", [["user", "has", "two kids"]]],
  ["I'm allergic to peanuts", "en", [["user", "allergic_to", "peanuts"]]],
  ["I'm married to John", "en", [["user", "married_to", "John"]]],
  ["I got married to Ana in 2015", "en", [["user", "married_to", "Ana"]]],
  ["I play the guitar", "en", [["user", "plays", "guitar"]]],
  ["I play tennis on Sundays", "en", [["user", "plays", "tennis"]]],
  ["I drive a Tesla", "en", [["user", "drives", "Tesla"]]],
  ["I'm learning Japanese", "en", [["user", "learns", "Japanese"]]],
  // Appointments
  ["I have an appointment with the dentist on Monday at 10am", "en", [["user", "appointment", "dentist"]]],
  ["I have a dentist appointment on Friday", "en", [["user", "appointment", "dentist"]]],
  ["I have a meeting with my boss on Monday", "en", [["user", "appointment", "boss"]]],
  // Typos in trigger words
  ["My brother wroks at a bank", "en", [["user's brother", "works_at", "bank"]]],
  ["Maria wroks at Google", "en", [["Maria", "works_at", "Google"]]],
  ["I livve in Boston", "en", [["user", "lives_in", "Boston"]]],
  // Several sentences and pronouns
  [
    "I have a sister named Lucy. She lives in Boston.",
    "en",
    [
      ["user", "sister", "Lucy"],
      ["Lucy", "lives_in", "Boston"],
    ],
  ],
  ["I live in Madrid, and you?", "en", [["user", "lives_in", "Madrid"]]],
  ["Please remember that I live in Madrid", "en", [["user", "lives_in", "Madrid"]]],
  // More English: coordination, gapping, relatives, apposition, attributes
  [
    "Hi! My name is David and I'm a software developer",
    "en",
    [
      ["user", "name", "David"],
      ["user", "is", "software developer"],
    ],
  ],
  ["My husband is called Mark", "en", [["user", "husband", "Mark"]]],
  [
    "My daughter Emma is 8 years old",
    "en",
    [
      ["user", "daughter", "Emma"],
      ["Emma", "age", "8"],
    ],
  ],
  [
    "I work as a nurse at St. Mary's Hospital",
    "en",
    [
      ["user", "works_as", "nurse"],
      ["user", "works_at", "St. Mary's Hospital"],
    ],
  ],
  [
    "I study computer science at MIT",
    "en",
    [
      ["user", "studies", "computer science"],
      ["user", "studies_at", "MIT"],
    ],
  ],
  [
    "My dad is a doctor and my mom is a lawyer",
    "en",
    [
      ["user's dad", "is", "doctor"],
      ["user's mom", "is", "lawyer"],
    ],
  ],
  [
    "I have two cats, Luna and Milo",
    "en",
    [
      ["user", "cat", "Luna"],
      ["user", "cat", "Milo"],
    ],
  ],
  [
    "My cat's name is Garfield and he is 10",
    "en",
    [
      ["user", "cat", "Garfield"],
      ["Garfield", "age", "10"],
    ],
  ],
  [
    "I have a dog and two cats",
    "en",
    [
      ["user", "has", "dog"],
      ["user", "has", "two cats"],
    ],
  ],
  [
    "My parents are called Anthony and Carmen",
    "en",
    [
      ["user", "parent", "Anthony"],
      ["user", "parent", "Carmen"],
    ],
  ],
  [
    "Ana and Luis are my siblings",
    "en",
    [
      ["user", "sibling", "Ana"],
      ["user", "sibling", "Luis"],
    ],
  ],
  ["This is my friend John", "en", [["user", "friend", "John"]]],
  [
    "My dog Buddy is 3",
    "en",
    [
      ["user", "dog", "Buddy"],
      ["Buddy", "age", "3"],
    ],
  ],
  [
    "My mom is from Spain and my dad from Italy",
    "en",
    [
      ["user's mom", "from", "Spain"],
      ["user's dad", "from", "Italy"],
    ],
  ],
  [
    "My sister lives in Madrid and my brother in Seville",
    "en",
    [
      ["user's sister", "lives_in", "Madrid"],
      ["user's brother", "lives_in", "Seville"],
    ],
  ],
  [
    "My sister doesn't live in New York, she lives in Boston",
    "en",
    [
      ["user's sister", "lives_in", "New York", true],
      ["user's sister", "lives_in", "Boston"],
    ],
  ],
  [
    "I live in Boston but I'm originally from Texas",
    "en",
    [
      ["user", "lives_in", "Boston"],
      ["user", "from", "Texas"],
    ],
  ],
  [
    "My wife is a nurse and works at the General Hospital",
    "en",
    [
      ["user's wife", "is", "nurse"],
      ["user's wife", "works_at", "General Hospital"],
    ],
  ],
  [
    "My coworker Luis is really nice",
    "en",
    [
      ["user", "colleague", "Luis"],
      ["Luis", "is", "really nice"],
    ],
  ],
  ["My boss's name is Martha", "en", [["user", "boss", "Martha"]]],
  ["My last name is Smith", "en", [["user", "surname", "Smith"]]],
  ["Pizza is my favorite food", "en", [["user", "favorite_food", "Pizza"]]],
  ["I'm a huge Lakers fan", "en", [["user", "likes", "Lakers"]]],
  ["I'm into yoga", "en", [["user", "likes", "yoga"]]],
  [
    "I don't like tea or coffee",
    "en",
    [
      ["user", "likes", "tea", true],
      ["user", "likes", "coffee", true],
    ],
  ],
  ["I speak a little French", "en", [["user", "speaks", "French"]]],
  ["I married Laura in 2010", "en", [["user", "married_to", "Laura"]]],
  ["I just moved to Seattle", "en", [["user", "moved_to", "Seattle"]]],
  ["I've worked at Apple for five years", "en", [["user", "works_at", "Apple"]]],
  ["My grandma was from Cuba", "en", [["user's grandma", "from", "Cuba"]]],
  [
    "I'm a nurse at the Royal London Hospital",
    "en",
    [
      ["user", "is", "nurse"],
      ["user", "works_at", "Royal London Hospital"],
    ],
  ],
  [
    "I teach math at a high school",
    "en",
    [
      ["user", "teaches", "math"],
      ["user", "works_at", "high school"],
    ],
  ],
  ["I have a Toyota Corolla", "en", [["user", "has", "Toyota Corolla"]]],
  ["I have no kids", "en", [["user", "has", "kids", true]]],
  [
    "My wife and I have two kids",
    "en",
    [
      ["user's wife", "has", "two kids"],
      ["user", "has", "two kids"],
    ],
  ],
  ["I live on Baker Street", "en", [["user", "lives_in", "Baker Street"]]],
  ["I LIVE IN LONDON", "en", [["user", "lives_in", "London"]]],
  ["Laura speaks French", "en", [["Laura", "speaks", "French"]]],
  ["Could you remember that my wife is called Anna?", "en", [["user", "wife", "Anna"]]],
  ["Don't forget that my wife's birthday is June 5", "en", [["user's wife", "birthday", "June 5"]]],
  ["Call me Ishmael", "en", [["user", "name", "Ishmael"]]],
  // Not a trait ("is John's sister"), but the speaker's sibling seen from the other side
  ["I'm John's sister", "en", [["user", "sibling", "John"]]],
  ["My sister is taller than me", "en", []],
  ["I'm really tired", "en", []],
  ["I'm a bit sick", "en", []],
  ["I have a question", "en", []],
  ["I have a problem with my phone", "en", []],
  ["I have to go to the doctor", "en", []],
  ["I love this song", "en", []],
  ["I love my job", "en", [["user", "likes", "job"]]],
  ["I like your answer", "en", []],
  ["I liked the movie", "en", []],
  ["You're very smart", "en", []],
  ["Maybe I'll move to London", "en", []],
  ["My phone doesn't work in Spain", "en", []],
  ["London is beautiful", "en", []],
  ["I'm thinking about moving to Spain", "en", []],
  ["I'm moving to Paris next month", "en", []],
  ["When I was a kid I lived in Cuba", "en", []],
  ["Remind me to call my mom tomorrow", "en", []],
  ["I live at home", "en", []],
  [
    "My sister, who is called Lucy, lives in Madrid",
    "en",
    [
      ["user", "sister", "Lucy"],
      ["Lucy", "lives_in", "Madrid"],
    ],
  ],
  ["Our son lives in London", "en", [["user's son", "lives_in", "London"]]],
  ["My family lives in Ohio", "en", [["user's family", "lives_in", "Ohio"]]],
  [
    "My hobbies are reading and travelling",
    "en",
    [
      ["user", "likes", "reading"],
      ["user", "likes", "travelling"],
    ],
  ],
  ["My email is john@example.com", "en", [["user", "email", "john@example.com"]]],
  ["My phone number is +1 555 123 4567", "en", [["user", "phone", "+1 555 123 4567"]]],
  ["I'm intolerant to gluten", "en", [["user", "intolerant_to", "gluten"]]],
  ["Finally I moved to Berlin", "en", [["user", "moved_to", "Berlin"]]],
  ["Sally lives in Leeds", "en", [["Sally", "lives_in", "Leeds"]]],
  ["Pedro isn't my boyfriend anymore", "en", [["user", "partner", "Pedro", true]]],
  [
    "I'm not a doctor, I'm a nurse",
    "en",
    [
      ["user", "is", "doctor", true],
      ["user", "is", "nurse"],
    ],
  ],
  ["I was born on the 3rd of May", "en", [["user", "born_on", "3rd of May"]]],
  ["My phone is broken", "en", []],
  // No fact
  ["Where do I work?", "en", []],
  ["who is my boss?", "en", []],
  ["Do you like movies?", "en", []],
  ["Can you tell me where I live?", "en", []],
  ["I'd love to live in Paris", "en", []],
  ["I wish I lived in Rome", "en", []],
  ["I would like to work at Google", "en", []],
  ["I want to move to Canada", "en", []],
  ["I'm going to move to Berlin", "en", []],
  ["If I lived in Paris, I'd be happy", "en", []],
  ["I'd like a coffee", "en", []],
  ["Tell me a joke", "en", []],
  ["Let's go to the beach", "en", []],
  ["Thanks!", "en", []],
  ["Hello, how are you?", "en", []],
  ["Good morning!", "en", []],
  ["Lol ok", "en", []],
  ["It's raining", "en", []],
  ["What's the weather like in London?", "en", []],
  ["I'm tired", "en", []],
  ["I'm so tired today", "en", []],
  ["I think it's going to rain", "en", []],
  ["She lives in Paris", "en", []],
];

describe("memory", () => {
  describe("extractFacts", () => {
    describe("Spanish", () => {
      it.each(spanish)("%s", (text, lang, expected) => {
        expect(asRows(extractFacts(text, lang))).toEqual(expectedRows(expected));
      });
    });

    describe("English", () => {
      it.each(english)("%s", (text, lang, expected) => {
        expect(asRows(extractFacts(text, lang))).toEqual(expectedRows(expected));
      });
    });

    it("detects the language when none is given", () => {
      expect(asRows(extractFacts("Vivo en Sevilla"))).toEqual(["usuario | lives_in | Sevilla"]);
      expect(asRows(extractFacts("I live in Seville"))).toEqual(["user | lives_in | Seville"]);
    });

    it("keeps a time that qualifies a fact in `when`", () => {
      const [madrid] = extractFacts("vivo en Madrid desde 2019", "es");
      expect(madrid).toMatchObject({ object: "Madrid", when: "desde 2019" });
      const [dentist] = extractFacts("tengo cita con el dentista el martes a las 10", "es");
      expect(dentist).toMatchObject({
        relation: "appointment",
        object: "dentista",
        when: "el martes a las 10",
      });
      const [dentistEn] = extractFacts("I have an appointment with the dentist on Monday at 10am", "en");
      expect(dentistEn).toMatchObject({ object: "dentist", when: "on Monday at 10am" });
      const [moved] = extractFacts("Me mudé a Valencia el año pasado", "es");
      expect(moved).toMatchObject({ object: "Valencia", when: "el año pasado" });
      const [lisbon] = extractFacts("I've been living in Lisbon since 2019", "en");
      expect(lisbon).toMatchObject({ object: "Lisbon", when: "since 2019" });
    });

    it("keeps a date that is the value as the object, with no `when`", () => {
      const [born] = extractFacts("Nací el 3 de mayo de 1990", "es");
      expect(born).toMatchObject({ relation: "born_on", object: "3 de mayo de 1990" });
      expect(born?.when).toBeUndefined();
    });

    it("gives 0.9 to a direct pattern and less to a typo or a pronoun", () => {
      expect(extractFacts("Trabajo en un banco", "es")[0]?.confidence).toBe(0.9);
      const typo = extractFacts("trabjo en un banco", "es")[0]?.confidence ?? 1;
      expect(typo).toBeLessThan(0.9);
      expect(typo).toBeGreaterThanOrEqual(0.6);
      const facts = extractFacts("I have a sister named Lucy. She lives in Boston.", "en");
      const boston = facts.find((f) => f.object === "Boston");
      expect(boston?.confidence).toBeLessThan(0.9);
      expect(boston?.confidence).toBeGreaterThanOrEqual(0.6);
    });

    it("writes a lowercase name capitalised", () => {
      const facts = extractFacts("mi amiga ana vive en valencia", "es");
      expect(facts.map((f) => [f.subject, f.object])).toEqual([
        ["usuario", "Ana"],
        ["Ana", "Valencia"],
      ]);
    });

    it("never throws, whatever the input", () => {
      const nasty = [
        "",
        " ",
        "\u0000\u0001\u0002\u001b[31m",
        "😀😀😀 vivo en 🏠",
        "'; DROP TABLE facts; --",
        "Robert'); DROP TABLE students;--",
        "\uD800 lone surrogate \uDC00",
        "a".repeat(200_000),
        "vivo en ".repeat(20_000),
        "my sister's sister's sister's sister's name is",
        "?".repeat(1000),
        "¿¡¿¡¿¡",
        "mi mi mi mi mi hermana hermana se se llama llama",
        "I I I I'm 'm 'm n't n't",
        "1234567890 3.14 10:30 2019-01-01 99999999999999999999",
        "\t\n\r\v\f",
        "ñáéíóú ÑÁÉÍÓÚ ü ç ß ø å æ œ",
        "Ω≈ç√∫˜µ≤≥÷ 田中さんにあげて下さい ด้้้้้็็็็็้้้้้็็็็",
        "mi hermana se llama",
        "I have a dog named",
        "tengo",
        "my",
        "el 3 de",
        ",,,,,,",
        "a las a las a las",
      ];
      for (const text of nasty) {
        for (const lang of [undefined, "es", "en"] as const) {
          expect(() => extractFacts(text, lang)).not.toThrow();
          expect(Array.isArray(extractFacts(text, lang))).toBe(true);
        }
      }
      expect(extractFacts(null as unknown as string)).toEqual([]);
      expect(extractFacts(42 as unknown as string)).toEqual([]);
    });

    it("reads a long text within the time a turn allows", () => {
      const text = "Me llamo Ana y vivo en Madrid. Mi hermana Lucía trabaja en Google. ".repeat(300);
      const started = performance.now();
      const facts = extractFacts(text, "es");
      expect(performance.now() - started).toBeLessThan(2000);
      expect(facts.length).toBeGreaterThan(0);
    });
  });
});
