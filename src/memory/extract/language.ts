/**
 * Spanish or English, from frequent words and Spanish-only characters. Words common to both ("a", "me",
 * "no", "hospital") count for neither.
 */
import { fold } from "./tokens.js";
import type { Language } from "../types.js";

const spanishWords = new Set(
  `de la que el en y los las del se por un una con para es al lo como mas pero sus le ya o fue este ha si porque
  esta son entre cuando muy sin sobre tambien hasta hay donde quien desde todo nos durante todos uno les ni
  contra otros mi mis tengo tiene soy estoy vivo vive viven trabajo trabaja estudio estudia llamo llama gusta
  gustan encanta encantan hola gracias esto eso ella ellos yo tu usted anos hermana hermano madre padre mujer
  marido hijo hija perro gato novio novia amigo amiga jefe odio bueno pues nunca tampoco ahora hoy manana
  ayer semana dia que como cual quien cuanto cita casa ciudad donde dime puedes quiero necesito sabes
  nuestro nuestra algo nada cosa aqui alli entonces tenemos vivimos somos estamos eres estas mucho poco
  cumpleanos nombre conmigo contigo hace hacer tiempo gente buenos dias buenas tardes noches adios vale
  escribe cuentame chiste poema sobre favor habla hablo odia estudia juega juego nacio naci mude mudo casado
  casada hijos hijas abuela abuelo tia tio prima primo sobrino sobrina suegra novio esposa esposo trabajaba
  vivia llamaba gato perra mascota coche tambien siempre mejor peor`.split(/\s+/),
);
const englishWords = new Set(
  `the of and to in is it you that he was for on are with as his they be at have has this from by my i we
  our do does don't not what where who how why when live lives work works like likes love loves hello hi
  thanks thank name sister brother mom dad wife husband years old dog cat am an will would can just really
  about your there their please tell im never always friend boss job school city new york born birthday favorite favourite hate enjoy
  speak play drive moved from since ago next last every today tomorrow yesterday week month year weather
  joke write poem could should some any all into out up down off over under again very so too also
  well yes yeah okay thing things people good great nice speaks hates loves enjoys plays drives studies
  had got went said married daughter son kids children husband grandma grandpa aunt uncle cousin girlfriend
  boyfriend named called since lived worked studied moved born wants need needs likes used been being`.split(
    /\s+/,
  ),
);
const spanishChars = /[ñ¿¡]/u;
const accented = /[áéíóú]/u;
const wordPattern = /[\p{L}']+/gu;

/** Evidence for each language in `text`: frequent words, Spanish-only characters, English contractions. */
export function languageScores(text: string): { es: number; en: number } {
  let es = 0;
  let en = 0;
  if (typeof text !== "string" || text.length === 0) return { es, en };
  const sample = text.length > 4000 ? text.slice(0, 4000) : text;
  if (spanishChars.test(sample)) es += 2;
  if (accented.test(sample)) es += 1;
  const words =
    sample
      .toLowerCase()
      .replace(/[’‘´`]/g, "'")
      .match(wordPattern) ?? [];
  for (const raw of words) {
    if (raw.includes("'")) {
      if (/^\p{L}+'(?:s|m|re|ve|ll|d)$|n't$/u.test(raw)) en += 1.5;
      continue;
    }
    const w = fold(raw);
    if (spanishWords.has(w)) es += 1;
    if (englishWords.has(w)) en += 1;
  }
  return { es, en };
}

/**
 * The language of `text`: `es` or `en`, from `languageScores`. With no evidence either way (a name, "ok"),
 * returns `fallback`, Spanish unless told otherwise. Never throws.
 */
export function detectLanguage(text: string, fallback: Language = "es"): Language {
  const { es, en } = languageScores(text);
  if (es === en) return fallback;
  return es > en ? "es" : "en";
}
