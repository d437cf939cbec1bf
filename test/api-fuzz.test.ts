import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectErrorBody,
  mainPoolStatus,
  metricValue,
  startTestServer,
  type TestServer,
} from "./api-helpers.js";
import { normalizeRelation } from "../src/memory/index.js";
import { createRandom } from "../src/shared/index.js";

/**
 * Malformed requests, generated from a seeded PRNG so every run sends the same set. Each must be refused with
 * a 4xx and an OpenAI error body before any generation starts; the server must answer normally afterwards.
 */

/** The shared seeded PRNG, with the picks the cases need. */
function createCasePicker(seed: number) {
  const next = createRandom(seed);
  const int = (below: number) => Math.floor(next() * below);
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)]! };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function nestArrays(depth: number): Json {
  let value: Json = "bottom";
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function nestObjects(depth: number): Json {
  let value: Json = "bottom";
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

const hugeString = "x".repeat(100_000);

/** Values that do not belong in most fields; each field's validity check filters out the ones it accepts. */
const hostileValues: readonly (readonly [string, Json])[] = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["0", 0],
  ["-1", -1],
  ["1.5", 1.5],
  ["1e308", 1e308],
  ["-1e308", -1e308],
  ["2**53+1", 2 ** 53 + 1],
  ["4294967296", 2 ** 32],
  ["'NaN'", "NaN"],
  ["'Infinity'", "Infinity"],
  ["'-1'", "-1"],
  ["''", ""],
  ["'x'", "x"],
  ["100 KB string", hugeString],
  ["[]", []],
  ["[1,'a',null]", [1, "a", null]],
  ["{}", {}],
  ["{a:1}", { a: 1 }],
  ["1000-deep array", nestArrays(1000)],
  ["1000-deep object", nestObjects(1000)],
];

const isObject = (v: Json): boolean => typeof v === "object" && v !== null && !Array.isArray(v);
const isShortString = (max: number) => (v: Json) => typeof v === "string" && v.length >= 1 && v.length <= max;
const isIntIn = (min: number, max: number) => (v: Json) =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max;
const isNumberIn = (min: number, max: number) => (v: Json) =>
  typeof v === "number" && Number.isFinite(v) && v >= min && v <= max;
const orNull = (check: (v: Json) => boolean) => (v: Json) => v === null || check(v);
const never = () => false;

interface FieldSpec {
  /** Where in the request body the value goes. */
  path: readonly (string | number)[];
  /** True for the values the server accepts there (those would start a generation, so they are skipped). */
  accepts: (v: Json) => boolean;
  /** Extra values to try besides the hostile ones. */
  extra?: readonly Json[];
  /** The body the field is set in; defaults to a valid chat request. */
  base?: () => Record<string, Json>;
}

/** A valid chat request that would generate two tokens. */
const validChat = (): Record<string, Json> => ({
  model: "sarai",
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 2,
  seed: 1,
});

const withJsonSchema = (): Record<string, Json> => ({
  ...validChat(),
  response_format: {
    type: "json_schema",
    json_schema: { name: "answer", schema: { type: "object", properties: { ok: { type: "boolean" } } } },
  },
});

const fields: readonly FieldSpec[] = [
  // Any string names some model: an unknown one is a 404, which is what these cases check.
  { path: ["model"], accepts: (v) => v === "sarai" },
  { path: ["messages"], accepts: never },
  { path: ["messages", 0], accepts: never },
  {
    path: ["messages", 0, "role"],
    accepts: never,
    extra: ["tool", "function", "USER", "user ", " user", "bot", "system\u0000", "ユーザー"],
  },
  {
    path: ["messages", 0, "content"],
    // Any string and null are content; the 100 KB string is still refused, as longer than the context.
    accepts: (v) => v === null || (typeof v === "string" && v.length < 1000),
    extra: [
      [{ type: "text" }],
      [{ type: "text", text: 5 }],
      [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }],
      [{ type: "image_url" }],
      [{ type: "image_url", image_url: "data:image/png;base64,AAAA" }],
      [{ type: "image_url", image_url: { url: 5 } }],
      [{ type: "image_url", image_url: { url: "" } }],
      [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }],
      [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA", detail: "ultra" } }],
      [{ type: "image_url", image_url: { url: "data:;base64,%%%%" } }],
      [{ type: "image_url", image_url: { url: `data:image/png;base64,${"A".repeat(100_000)}` } }],
      [{ type: "input_audio", input_audio: { data: "", format: "wav" } }],
      [{ type: "file" }],
      [{}],
      [null],
      [[]],
      [{ type: "text", text: "a" }, "b"],
    ],
  },
  { path: ["messages", 0, "name"], accepts: (v) => typeof v === "string" && v.length <= 256 },
  { path: ["messages", 1], accepts: never, extra: ["user", 7] },
  { path: ["max_tokens"], accepts: orNull(isIntIn(1, 1_000_000)), extra: [1_000_001, 2.000001] },
  { path: ["max_completion_tokens"], accepts: orNull(isIntIn(1, 1_000_000)) },
  { path: ["temperature"], accepts: orNull(isNumberIn(0, 2)), extra: [2.0001, -0.0001] },
  { path: ["top_p"], accepts: orNull((v) => isNumberIn(0, 1)(v) && v !== 0) },
  { path: ["top_k"], accepts: orNull(isIntIn(0, 100_000)), extra: [100_001] },
  { path: ["seed"], accepts: orNull(isIntIn(0, 2 ** 32 - 1)), extra: [-0.5] },
  {
    path: ["stop"],
    accepts: (v) =>
      v === null ||
      (typeof v === "string" && v !== "") ||
      (Array.isArray(v) && v.length <= 4 && v.every((s) => typeof s === "string" && s !== "")),
    extra: [[""], ["a", "b", "c", "d", "e"], [null]],
  },
  { path: ["n"], accepts: (v) => v === null || v === 1, extra: [2, 128] },
  { path: ["user"], accepts: (v) => typeof v === "string" && v.length <= 256, extra: ["u".repeat(257)] },
  { path: ["stream"], accepts: (v) => v === null || typeof v === "boolean", extra: ["true", 1] },
  { path: ["stream_options"], accepts: (v) => v === null || isObject(v) },
  {
    path: ["stream_options", "include_usage"],
    accepts: (v) => typeof v === "boolean",
    base: () => ({ ...validChat(), stream_options: {} }),
  },
  { path: ["presence_penalty"], accepts: orNull(isNumberIn(-2, 2)) },
  { path: ["frequency_penalty"], accepts: orNull(isNumberIn(-2, 2)) },
  { path: ["tools"], accepts: (v) => Array.isArray(v) && v.length === 0, extra: [[{ type: "function" }]] },
  { path: ["logprobs"], accepts: (v) => v === null || v === false },
  { path: ["response_format"], accepts: never },
  {
    path: ["response_format", "type"],
    accepts: never,
    extra: ["json", "JSON_OBJECT", "xml", "json_schema "],
    base: withJsonSchema,
  },
  { path: ["response_format", "json_schema"], accepts: never, base: withJsonSchema },
  {
    path: ["response_format", "json_schema", "name"],
    accepts: isShortString(64),
    extra: ["n".repeat(65)],
    base: withJsonSchema,
  },
  {
    path: ["response_format", "json_schema", "schema"],
    // Any object is a schema to compile; the ones listed as extra are objects that cannot be compiled.
    accepts: isObject,
    extra: [
      { type: "bogus" },
      { $ref: "#/definitions/missing" },
      { type: "string", pattern: "(" },
      { type: "object", properties: { a: { type: "string", minLength: -1 } } },
      // Bounds far past what llama.cpp's grammar parser accepts: refused rather than expanded.
      { type: "string", minLength: 100_000 },
      { type: "array", items: { type: "boolean" }, minItems: 100_000 },
      nestSchema(1000),
    ],
    base: withJsonSchema,
  },
];

/** `{type:"object", properties:{a: …}}` nested `depth` times. */
function nestSchema(depth: number): Json {
  let schema: Json = { type: "boolean" };
  for (let i = 0; i < depth; i++) schema = { type: "object", properties: { a: schema }, required: ["a"] };
  return schema;
}

function setPath(body: Record<string, Json>, path: readonly (string | number)[], value: Json | undefined) {
  let target = body as Json;
  for (const key of path.slice(0, -1)) target = (target as Record<string, Json>)[key]!;
  const last = path.at(-1)!;
  if (value === undefined) delete (target as Record<string, Json>)[last];
  else (target as Record<string, Json>)[last] = value;
}

interface FuzzCase {
  name: string;
  request: InjectOptions;
  /** The error's `param` must start with this, when given. */
  param?: string;
  /** The exact status expected, when known. */
  status?: number;
}

const chatUrl = "/v1/chat/completions";
const json = { "content-type": "application/json" };

function postChat(name: string, body: unknown, extra: Partial<FuzzCase> = {}): FuzzCase {
  return {
    name,
    request: { method: "POST", url: chatUrl, headers: json, payload: JSON.stringify(body) },
    ...extra,
  };
}

function postRaw(name: string, payload: string | Buffer, extra: Partial<FuzzCase> = {}): FuzzCase {
  return { name, request: { method: "POST", url: chatUrl, headers: json, payload }, ...extra };
}

function generateCases(seed: number): FuzzCase[] {
  const random = createCasePicker(seed);
  const cases: FuzzCase[] = [];

  // 1. Every field set to every value it does not accept.
  for (const field of fields) {
    const values = [...hostileValues.map(([, value]) => value), ...(field.extra ?? [])];
    for (const value of values.filter((v) => !field.accepts(v))) {
      const body = (field.base ?? validChat)();
      setPath(body, field.path, value);
      const label = JSON.stringify(value).slice(0, 40);
      cases.push(postChat(`${field.path.join(".")} = ${label}`, body, { param: String(field.path[0]) }));
    }
  }

  // 2. Required fields left out.
  const missing: [string, (string | number)[], () => Record<string, Json>][] = [
    ["model", ["model"], validChat],
    ["messages", ["messages"], validChat],
    ["role", ["messages", 0, "role"], validChat],
    ["content", ["messages", 0, "content"], validChat],
    ["response_format.type", ["response_format", "type"], withJsonSchema],
    ["json_schema", ["response_format", "json_schema"], withJsonSchema],
    ["json_schema.name", ["response_format", "json_schema", "name"], withJsonSchema],
    ["json_schema.schema", ["response_format", "json_schema", "schema"], withJsonSchema],
  ];
  for (const [name, path, base] of missing) {
    const body = base();
    setPath(body, path, undefined);
    cases.push(postChat(`missing ${name}`, body, { status: 400, param: String(path[0]) }));
  }
  cases.push(
    postChat("missing text of a text part", {
      ...validChat(),
      messages: [{ role: "user", content: [{ type: "text" }] }],
    }),
  );
  cases.push(
    postChat(
      "10 001 messages",
      { ...validChat(), messages: Array.from({ length: 10_001 }, () => ({ role: "user", content: "a" })) },
      { status: 400, param: "messages" },
    ),
  );

  // 3. Several fields wrong at once, chosen at random.
  for (let i = 0; i < 120; i++) {
    const body = validChat();
    const picked = new Set<string>();
    for (let j = 0, count = 2 + random.int(3); j < count; j++) {
      const field = random.pick(fields.filter((f) => f.base === undefined));
      const key = field.path.join(".");
      if (picked.has(key) || [...picked].some((p) => key.startsWith(p) || p.startsWith(key))) continue;
      const values = hostileValues.map(([, v]) => v).filter((v) => !field.accepts(v));
      if (values.length === 0) continue;
      picked.add(key);
      setPath(body, field.path, random.pick(values));
    }
    if (picked.size === 0) continue;
    // The streaming route must refuse the same way, before its status line goes out.
    if (random.next() < 0.3 && !picked.has("stream")) body["stream"] = true;
    cases.push(postChat(`random: ${[...picked].join(", ")}`, body));
  }

  // 4. Raw bodies that are not JSON, or not the JSON they look like.
  const text = JSON.stringify({ ...validChat(), temperature: 0.5, stop: ["\n"], user: "fuzz" });
  for (let i = 0; i < 40; i++) {
    const cut = random.int(text.length);
    cases.push(postRaw(`truncated at ${cut}`, text.slice(0, cut), { status: 400 }));
  }
  const invalidUtf8 = [
    [0xff],
    [0xfe, 0xff],
    [0xc3],
    [0xc0, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0x80],
  ];
  // Outside any string the bytes break the JSON syntax; inside the model or role they name nothing known.
  const structural = [...text.matchAll(/[,:{[]/g)].map((m) => m.index + 1);
  for (let i = 0; i < 24; i++) {
    const at = random.pick(structural);
    const bytes = Buffer.from(random.pick(invalidUtf8));
    cases.push(
      postRaw(
        `invalid UTF-8 at ${at}`,
        Buffer.concat([Buffer.from(text.slice(0, at)), bytes, Buffer.from(text.slice(at))]),
        { status: 400 },
      ),
    );
  }
  for (const [field, needle] of [
    ["model", '"sarai"'],
    ["messages", '"user"'],
  ] as const) {
    for (const bytes of invalidUtf8) {
      const at = text.indexOf(needle) + 2;
      const payload = Buffer.concat([
        Buffer.from(text.slice(0, at)),
        Buffer.from(bytes),
        Buffer.from(text.slice(at)),
      ]);
      // Refused before parsing: the message says where the bytes go wrong, not which field they are in.
      cases.push(postRaw(`invalid UTF-8 inside ${field}`, payload, { status: 400 }));
    }
  }
  const rawBodies: [string, string][] = [
    ["empty", ""],
    ["whitespace", "  \n\t "],
    ["null", "null"],
    ["true", "true"],
    ["number", "42"],
    ["string", '"chat"'],
    ["array", "[]"],
    ["array of request", `[${text}]`],
    ["empty object", "{}"],
    ["single quotes", "{'model': 'sarai'}"],
    ["bare keys", '{model: "sarai"}'],
    ["trailing comma", text.replace(/}$/, ",}")],
    ["NaN literal", text.replace('"max_tokens":2', '"max_tokens":NaN')],
    ["Infinity literal", text.replace('"max_tokens":2', '"max_tokens":Infinity')],
    ["hex number", text.replace('"max_tokens":2', '"max_tokens":0x10')],
    ["1e999", text.replace('"max_tokens":2', '"max_tokens":1e999')],
    ["-1e999 seed", text.replace('"seed":1', '"seed":-1e999')],
    ["2**53+1 literal", text.replace('"seed":1', '"seed":9007199254740993')],
    ["comment", `/* hi */${text}`],
    ["two objects", `${text}${text}`],
    ["NUL byte", text.replace('"hi"', '"h\u0000i"').replace("{", "{\u0000")],
    ["lone surrogate escape in model", text.replace('"sarai"', '"sa\\ud800rai"')],
    ["bad escape", text.replace('"hi"', '"\\x41"')],
    ["unterminated string", '{"model":"sarai'],
    ["deep array body", "[".repeat(100_000) + "]".repeat(100_000)],
    ["deep object body", '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000)],
    ["__proto__", `{"__proto__":{"admin":true},${text.slice(1)}`],
    ["constructor.prototype", `{"constructor":{"prototype":{"admin":true}},${text.slice(1)}`],
  ];
  for (const [name, payload] of rawBodies) cases.push(postRaw(`raw: ${name}`, payload));

  // 5. Duplicated keys: the last one wins, and it is wrong.
  const duplicates: [string, string][] = [
    ["model", '"model":5'],
    ["model", '"model":"nope"'],
    ["messages", '"messages":[]'],
    ["messages", '"messages":"hi"'],
    ["max_tokens", '"max_tokens":-1'],
    ["max_tokens", '"max_tokens":"2"'],
    ["n", '"n":2'],
    ["seed", '"seed":1.5'],
    ["temperature", '"temperature":3'],
    ["stream", '"stream":"yes"'],
  ];
  for (const [field, pair] of duplicates) {
    cases.push(postRaw(`duplicate ${field}`, text.replace(/}$/, `,${pair}}`), { param: field }));
  }

  // 6. Content types the route cannot read.
  for (const type of [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/octet-stream",
    "application/jsonx",
    "image/png",
  ]) {
    cases.push({
      name: `content-type ${type}`,
      request: { method: "POST", url: chatUrl, headers: { "content-type": type }, payload: text },
    });
  }
  cases.push({ name: "no body, no content type", request: { method: "POST", url: chatUrl }, status: 400 });

  // 7. Other routes and methods.
  const routes: [InjectOptions["method"], string][] = [
    ["GET", chatUrl],
    ["PUT", chatUrl],
    ["DELETE", chatUrl],
    ["PATCH", chatUrl],
    ["OPTIONS", chatUrl],
    ["POST", `${chatUrl}/`],
    ["POST", "/V1/CHAT/COMPLETIONS"],
    ["POST", "/v1/chat"],
    ["POST", "/v2/chat/completions"],
    ["POST", "/v1/models"],
    ["DELETE", "/v1/models"],
    ["GET", "/v1/models/sarai"],
    ["GET", "/v1/models/../../../etc/passwd"],
    ["GET", "/v1/engines"],
    ["POST", "/health"],
    ["PUT", "/ready"],
    ["POST", "/metrics"],
    ["GET", "/"],
    ["GET", `/${"a".repeat(10_000)}`],
    ["GET", "/v1/%"],
    ["GET", "/v1/%E0%A4%A"],
    ["POST", "/v1/chat/%ZZ"],
  ];
  for (const [method, url] of routes) {
    cases.push({
      name: `${method} ${url.slice(0, 60)}`,
      request: { method, url, headers: json, payload: text },
    });
  }

  // 8. The other generation routes, malformed.
  const completions: unknown[] = [
    {},
    { model: "sarai" },
    { model: 5, prompt: "a" },
    { model: "sarai", prompt: 5 },
    { model: "sarai", prompt: ["a", "b"] },
    { model: "sarai", prompt: [] },
    { model: "sarai", prompt: "a", echo: true },
    { model: "sarai", prompt: "a", suffix: "b" },
    { model: "sarai", prompt: "a", max_tokens: 0 },
    { model: "sarai", prompt: "a", n: 3 },
    { model: "nope", prompt: "a" },
  ];
  for (const body of completions) {
    cases.push({
      name: `completions ${JSON.stringify(body)}`,
      request: { method: "POST", url: "/v1/completions", headers: json, payload: JSON.stringify(body) },
    });
  }
  const embeddings: unknown[] = [
    {},
    { model: "sarai" },
    { model: "sarai", input: 5 },
    { model: "sarai", input: [] },
    { model: "sarai", input: [1, 2, 3] },
    { model: "sarai", input: Array.from({ length: 257 }, () => "a") },
    { model: "sarai", input: "a", encoding_format: "int8" },
    { model: "nope", input: "a" },
  ];
  for (const body of embeddings) {
    cases.push({
      name: `embeddings ${JSON.stringify(body).slice(0, 60)}`,
      request: { method: "POST", url: "/v1/embeddings", headers: json, payload: JSON.stringify(body) },
    });
  }
  cases.push({
    name: "completions: raw garbage",
    request: { method: "POST", url: "/v1/completions", headers: json, payload: "{{" },
  });
  cases.push({
    name: "embeddings: raw garbage",
    request: { method: "POST", url: "/v1/embeddings", headers: json, payload: "]" },
  });

  // 9. Memory routes: every field of a fact, the extract and import bodies, the query strings.
  const validFact = (): Record<string, Json> => ({
    user: "fuzz",
    subject: "Ana",
    relation: "is",
    object: "médica",
  });
  const factFields: [string, (v: Json) => boolean][] = [
    ["user", isShortString(128)],
    ["subject", (v) => typeof v === "string" && v.trim().length >= 1 && v.length <= 300],
    ["relation", (v) => typeof v === "string" && v.trim().length <= 64 && normalizeRelation(v) !== undefined],
    ["object", (v) => typeof v === "string" && v.trim().length >= 1 && v.length <= 300],
    ["negated", (v) => typeof v === "boolean"],
    ["confidence", isNumberIn(0, 1)],
    ["when", orNull((v) => typeof v === "string" && v.trim().length >= 1 && v.length <= 300)],
    ["pinned", (v) => typeof v === "boolean"],
  ];
  for (const [field, accepts] of factFields) {
    for (const [label, value] of [...hostileValues, ["lone surrogate", "a\ud800b"] as const]) {
      if (accepts(value)) continue;
      cases.push({
        name: `memory fact ${field} = ${label}`,
        request: {
          method: "POST",
          url: "/v1/memory/facts",
          headers: json,
          payload: JSON.stringify({ ...validFact(), [field]: value }),
        },
      });
    }
  }
  const memoryBodies: [string, Json][] = [
    ["/v1/memory/facts", []],
    ["/v1/memory/facts", "text"],
    ["/v1/memory/facts", { subject: "a", relation: "b" }],
    ["/v1/memory/extract", {}],
    ["/v1/memory/extract", { text: 5 }],
    ["/v1/memory/extract", { text: "a", language: "fr" }],
    ["/v1/memory/extract", { text: "a", store: "yes" }],
    ["/v1/memory/extract", { text: "a\udc00" }],
    ["/v1/memory/import", {}],
    ["/v1/memory/import", { facts: 5 }],
    ["/v1/memory/import", { facts: [{}] }],
    ["/v1/memory/import", { facts: [{ subject: "a", relation: "b", object: "c", valid_to: "yesterday" }] }],
    ["/v1/memory/import", { facts: [{ subject: "a", relation: "b", object: "c", confidence: 7 }] }],
    ["/v1/memory/import", { facts: [{ subject: "a", relation: "???", object: "c" }] }],
    ["/v1/memory/import", { format: "other", facts: [] }],
    ["/v1/memory/import", { facts: nestArrays(1000) }],
  ];
  for (const [url, body] of memoryBodies) {
    cases.push({
      name: `${url} ${JSON.stringify(body).slice(0, 60)}`,
      request: { method: "POST", url, headers: json, payload: JSON.stringify(body) },
    });
  }
  const memoryQueries: [InjectOptions["method"], string][] = [
    ["GET", "/v1/memory/facts?limit=0"],
    ["GET", "/v1/memory/facts?limit=abc"],
    ["GET", "/v1/memory/facts?limit=100000"],
    ["GET", "/v1/memory/facts?include_history=maybe"],
    ["GET", "/v1/memory/facts?min_confidence=2"],
    ["GET", "/v1/memory/facts?colour=red"],
    ["GET", `/v1/memory/facts?subject=${"x".repeat(400)}`],
    ["GET", "/v1/memory/search"],
    ["GET", "/v1/memory/facts/0"],
    ["GET", "/v1/memory/facts/-1"],
    ["GET", "/v1/memory/facts/1.5"],
    ["GET", "/v1/memory/facts/99999999999999999999999"],
    ["DELETE", "/v1/memory/facts"],
    ["DELETE", "/v1/memory/facts/abc"],
    ["DELETE", "/v1/memory/facts/424242?user=nobody"],
    ["PUT", "/v1/memory/facts"],
    ["GET", "/v1/memory/stats?user="],
  ];
  for (const [method, url] of memoryQueries) {
    cases.push({ name: `${method} ${url.slice(0, 60)}`, request: { method, url } });
  }

  return cases;
}

/** Requests that are odd but valid: they may generate (two tokens at most) or be refused, never a 5xx. */
function generateOddButValid(): FuzzCase[] {
  const text = JSON.stringify(validChat());
  const at = text.indexOf('"hi"') + 2;
  return [
    postRaw(
      "invalid UTF-8 inside the content",
      Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xff, 0xc3]), Buffer.from(text.slice(at))]),
    ),
    postRaw("byte order mark", `\uFEFF${text}`),
    postChat("null content", { ...validChat(), messages: [{ role: "user", content: null }] }),
    postChat("empty content", { ...validChat(), messages: [{ role: "user", content: "" }] }),
    postChat("only an assistant message", {
      ...validChat(),
      messages: [{ role: "assistant", content: "hi" }],
    }),
    postChat("developer role", {
      ...validChat(),
      messages: [
        { role: "developer", content: "be brief" },
        { role: "user", content: "hi" },
      ],
    }),
    postChat("unknown deep field", { ...validChat(), extra: nestObjects(1000) }),
    postChat("100 KB stop string", { ...validChat(), stop: hugeString }),
    postChat("empty stop list", { ...validChat(), stop: [] }),
    postChat("zero temperature and top_k", { ...validChat(), temperature: 0, top_k: 0 }),
    postChat("largest seed", { ...validChat(), seed: 2 ** 32 - 1 }),
    postChat("max_tokens 1, stream", { ...validChat(), max_tokens: 1, stream: true }),
    postChat("200 short messages", {
      ...validChat(),
      messages: Array.from({ length: 200 }, (_, i) => ({
        role: i % 2 === 0 ? "user" : "assistant",
        content: "a",
      })),
    }),
    postChat("model by role with spaces", { ...validChat(), model: "  main  " }),
    {
      name: "charset latin1",
      request: {
        method: "POST",
        url: chatUrl,
        headers: { "content-type": "application/json; charset=latin1" },
        payload: text,
      },
    },
    {
      name: "JSON with +json suffix type",
      request: {
        method: "POST",
        url: chatUrl,
        headers: { "content-type": "application/vnd.api+json" },
        payload: text,
      },
    },
  ];
}

/** Checks one response: a 4xx (or `status`) with an OpenAI error body and a request id; returns the body. */
function expectRefused(response: LightMyRequestResponse, fuzzCase: FuzzCase): void {
  const where = `${fuzzCase.name} → ${response.statusCode} ${response.body.slice(0, 300)}`;
  if (fuzzCase.status !== undefined) expect(response.statusCode, where).toBe(fuzzCase.status);
  expect(response.statusCode, where).toBeGreaterThanOrEqual(400);
  expect(response.statusCode, where).toBeLessThan(500);
  expect(response.headers["content-type"], where).toMatch(/^application\/json/);
  expect(response.headers["x-request-id"], where).toEqual(expect.any(String));
  let body: unknown;
  expect(() => (body = response.json()), where).not.toThrow();
  const { error } = expectErrorBody(body);
  // Never a stack trace or a server path.
  expect(error.message, where).not.toMatch(/\n\s+at |node_modules|\/work\/|\.ts:\d+/);
  if (fuzzCase.param !== undefined)
    expect(error.param ?? "", where).toMatch(new RegExp(`^${fuzzCase.param}`));
}

describe("api fuzz", () => {
  const seed = 20_261_122;
  let ts: TestServer;

  beforeAll(async () => {
    // No web UI build: `GET /` and other paths outside /v1 are then refused as 404s whether or not dist/ui exists
    // (with a build they are the UI's page, by design).
    ts = await startTestServer({ webRoot: path.join(os.tmpdir(), `sarai-fuzz-no-web-${process.pid}`) });
    // Load the model, so the odd-but-valid requests below time generation only.
    const warm = await ts.server.fastify.inject(postChat("warm-up", validChat()).request);
    expect(warm.statusCode).toBe(200);
  });
  afterAll(async () => {
    await ts.close();
  });

  it(`refuses 500+ generated malformed requests with a 4xx OpenAI error (seed ${seed})`, async () => {
    const cases = generateCases(seed);
    expect(cases.length).toBeGreaterThanOrEqual(500);
    // The same seed gives the same cases.
    expect(generateCases(seed).map((c) => c.name)).toEqual(cases.map((c) => c.name));
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    for (const fuzzCase of cases) {
      const response = await ts.server.fastify.inject(fuzzCase.request);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      // Collected rather than thrown, so one run lists every case that is not refused properly.
      try {
        expectRefused(response, fuzzCase);
      } catch (error) {
        failures.push((error as Error).message.split("\n")[0]!);
      }
    }
    expect(failures).toEqual([]);
    // Refused up front: nothing was generated and nothing waits.
    expect(await mainPoolStatus(ts.app)).toEqual({ active: 0, waiting: 0 });
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 404, 415]));
  });

  it("answers odd but valid requests without a server error", async () => {
    for (const fuzzCase of generateOddButValid()) {
      const response = await ts.server.fastify.inject(fuzzCase.request);
      const where = `${fuzzCase.name} → ${response.statusCode} ${response.body.slice(0, 300)}`;
      expect(response.statusCode, where).toBeLessThan(500);
      if (response.statusCode !== 200) {
        expectRefused(response, fuzzCase);
      } else if (response.headers["content-type"]?.toString().startsWith("text/event-stream")) {
        expect(response.body.trimEnd().endsWith("data: [DONE]"), where).toBe(true);
      } else {
        expect(response.json(), where).toMatchObject({ object: "chat.completion" });
      }
    }
  });

  describe("over a real socket", () => {
    const post = (body: RequestInit["body"], init: RequestInit = {}) =>
      fetch(`${ts.url}${chatUrl}`, { method: "POST", headers: json, body, ...init });

    it("refuses malformed bodies sent by fetch", async () => {
      const responses: [string, Response][] = [
        ["100 KB of garbage", await post("{".repeat(100_000))],
        ["invalid UTF-8", await post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))],
        ["2 MiB body", await post(JSON.stringify({ ...validChat(), pad: "x".repeat(2 * 2 ** 20) }))],
        ["100 000-deep array", await post("[".repeat(100_000) + "]".repeat(100_000))],
        ["wrong types", await post(JSON.stringify({ model: [], messages: {}, max_tokens: "NaN" }))],
      ];
      const chunked = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"model":"sarai","messages":[{"role":'));
          controller.enqueue(new TextEncoder().encode('"user","content":"hi"'));
          controller.close();
        },
      });
      responses.push(["chunked, truncated", await post(chunked, { duplex: "half" })]);
      for (const [name, response] of responses) {
        expect(response.status, name).toBeGreaterThanOrEqual(400);
        expect(response.status, name).toBeLessThan(500);
        expectErrorBody(await response.json());
      }
      expect(responses.map(([, r]) => r.status)).toContain(413);
    });

    it("survives broken HTTP on a raw connection", async () => {
      const { port } = new URL(ts.url);
      const exchange = (data: string) =>
        new Promise<string>((resolve) => {
          const socket = net.connect({ host: "127.0.0.1", port: Number(port) });
          let received = "";
          socket.setEncoding("latin1");
          socket.on("data", (chunk: string) => (received += chunk));
          socket.on("error", () => resolve(received));
          socket.on("close", () => resolve(received));
          socket.setTimeout(3_000, () => socket.destroy());
          socket.end(data);
        });
      const body = JSON.stringify(validChat());
      const replies = [
        await exchange("GARBAGE\r\n\r\n"),
        await exchange("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"),
        // The body ends before Content-Length says: the server must give up on it, not hang or crash.
        await exchange(
          `POST ${chatUrl} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n${body}`,
        ),
        await exchange(
          `POST ${chatUrl} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
        ),
        await exchange(
          `POST ${chatUrl} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{"mod`,
        ),
      ];
      // The first four fail in Node's HTTP parser, whose errors get Fastify's default client-error body rather
      // than the API's; the status is what a client can rely on there.
      for (const reply of replies) expect(reply, reply).toMatch(/^HTTP\/1\.1 400 /);
      // A well-formed HTTP request whose body is truncated JSON gets the API's error body.
      const last = replies.at(-1)!;
      expectErrorBody(JSON.parse(last.slice(last.indexOf("\r\n\r\n") + 4)));
    });
  });

  it("still serves health and a valid chat afterwards, with no 5xx on record", async () => {
    const health = await fetch(`${ts.url}/health`);
    expect(health.status).toBe(200);
    const chat = await fetch(`${ts.url}${chatUrl}`, {
      method: "POST",
      headers: json,
      body: JSON.stringify(validChat()),
    });
    expect(chat.status).toBe(200);
    expect(await chat.json()).toMatchObject({
      object: "chat.completion",
      usage: { completion_tokens: expect.any(Number) as unknown },
    });
    const injected = await ts.server.fastify.inject(postChat("after", validChat()).request);
    expect(injected.statusCode).toBe(200);
    const metrics = await (await fetch(`${ts.url}/metrics`)).text();
    for (const status of ["500", "502", "503", "504"]) {
      expect(
        metricValue(metrics, "sarai_http_requests_total", { status }),
        `status ${status}`,
      ).toBeUndefined();
    }
    expect(metricValue(metrics, "sarai_http_requests_total", { status: "400" })).toBeGreaterThan(300);
    expect(await mainPoolStatus(ts.app)).toEqual({ active: 0, waiting: 0 });
  });
});
