/**
 * Everyday prompts whose answers by the bare model anchor an adapter to it: the replay set is mixed into every
 * training run (so learning a correction does not rewrite everything else), the regression set is never trained on
 * and is what the gate checks for damage. Both are answered by the model without an adapter and kept per model.
 */
export const replayPrompts: readonly string[] = Object.freeze([
  "Good morning!",
  "How are you today?",
  "What is two plus two?",
  "Name a colour.",
  "Recommend a book to read.",
  "Tell me a short joke.",
  "What is the weather usually like in spring?",
  "Who wrote Hamlet?",
  "Explain gravity in one sentence.",
  "List three fruits.",
  "Say something kind.",
  "What should I cook tonight?",
  "Hola, ¿qué tal?",
  "¿Qué hora es?",
  "Dame una receta sencilla.",
  "¿Dónde está Madrid?",
  "Cuéntame un chiste corto.",
  "¿Cuántos días tiene una semana?",
  "Recomiéndame una película.",
  "¿Qué es la fotosíntesis?",
  "Nombra tres animales.",
  "Escribe un saludo para un amigo.",
  "¿Cómo se dice gracias en inglés?",
  "Dime algo bonito.",
]);

export const regressionPrompts: readonly string[] = Object.freeze([
  "Hello there.",
  "What time is it?",
  "Write a haiku about the sea.",
  "What is the capital of France?",
  "Give me a tip for sleeping better.",
  "How many legs does a spider have?",
  "Summarise the plot of Cinderella.",
  "What is a prime number?",
  "Buenas noches.",
  "¿Qué día es hoy?",
  "Escribe un poema corto sobre la lluvia.",
  "¿Cuál es la capital de Italia?",
  "Dame un consejo para estudiar.",
  "¿Cuántas patas tiene un gato?",
  "Resume la historia de Caperucita Roja.",
  "¿Qué es un número par?",
]);
