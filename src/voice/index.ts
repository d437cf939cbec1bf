export { fixWavSizes, openAiVoices, speechFormats, speechLanguages, SpeechSynthesizer } from "./speech.js";
export type { SpeechFormat, SpeechLanguage, SpeechRequest, SpeechSynthesizerOptions } from "./speech.js";
export { Transcriber } from "./transcriber.js";
export type { TranscriptionRemote, TranscriptionRequest, TranscriptionResponse } from "./transcriber.js";
