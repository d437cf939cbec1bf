import { z } from "zod";
import type { ConfigIssue } from "./config-error.js";
import { suggestClosest } from "./config-error.js";
import { isPlainObject } from "./deep-merge.js";
import type { ConfigEnv } from "./schema.js";
import { getObjectShape, getScalarSchema, toCamelCase, toUpperSnake, unwrapSchema } from "./schema-walk.js";

/** Prefix of every config environment variable. */
export const envPrefix = "SARAI_";

/** Names the config file; read by the loader, not an override. */
export const configFileEnvVar = "SARAI_CONFIG";

type AnySchema = z.core.$ZodType;

/** What the `SARAI_*` variables contribute to the config. */
export interface EnvOverrides {
  /** The partial config built from the variables that applied. */
  data: Record<string, unknown>;
  /** Each applied variable and the key it set, in name order. */
  applied: { name: string; path: string[] }[];
  /** Variables with a known section prefix but an unknown key or a bad value. */
  issues: ConfigIssue[];
}

interface EnvTarget {
  path: string[];
  schema: AnySchema;
}

type CoercionResult = { ok: true; value: unknown } | { ok: false; message: string };

/** Keys of an object shape, longest env spelling first so that `AUTO_PULL` is tried before a key `AUTO`. */
function listKeysBySpelling(shape: Readonly<Record<string, AnySchema>>): string[] {
  return Object.keys(shape).sort((a, b) => toUpperSnake(b).length - toUpperSnake(a).length);
}

/** Finds the field an env name (without the prefix) sets, descending through nested objects. */
function findEnvTarget(rest: string, schema: AnySchema, path: string[]): EnvTarget | undefined {
  const shape = getObjectShape(schema);
  if (shape === undefined) return undefined;
  for (const key of listKeysBySpelling(shape)) {
    const child = shape[key];
    if (child === undefined) continue;
    const spelling = toUpperSnake(key);
    if (rest === spelling && getScalarSchema(child) !== undefined)
      return { path: [...path, key], schema: child };
    if (rest.startsWith(`${spelling}_`)) {
      const target = findEnvTarget(rest.slice(spelling.length + 1), child, [...path, key]);
      if (target !== undefined) return target;
    }
  }
  return undefined;
}

/** Every env name (without the prefix) that sets a field under `schema`. */
function listEnvSpellings(schema: AnySchema, prefix: string): string[] {
  const shape = getObjectShape(schema);
  if (shape === undefined) return [];
  return Object.entries(shape).flatMap(([key, child]) => {
    const spelling = `${prefix}${toUpperSnake(key)}`;
    return [
      ...(getScalarSchema(child) === undefined ? [] : [spelling]),
      ...listEnvSpellings(child, `${spelling}_`),
    ];
  });
}

/** For an unknown name: the deepest object it reaches, and the rest of the name as the key it probably meant. */
function describeUnknownEnvName(
  rest: string,
  schema: AnySchema,
): { objectPath: string[]; object: AnySchema; key: string } {
  const objectPath: string[] = [];
  let object = schema;
  let remaining = rest;
  for (;;) {
    const shape = getObjectShape(object) ?? {};
    const next = listKeysBySpelling(shape).find((key) => {
      const child = shape[key];
      return (
        child !== undefined &&
        remaining.startsWith(`${toUpperSnake(key)}_`) &&
        getObjectShape(child) !== undefined
      );
    });
    const child = next === undefined ? undefined : shape[next];
    if (next === undefined || child === undefined) break;
    objectPath.push(next);
    object = child;
    remaining = remaining.slice(toUpperSnake(next).length + 1);
  }
  return { objectPath, object, key: toCamelCase(remaining) };
}

/** An issue for a variable that looks like config but names no settable key. */
function describeUnknownEnvVar(name: string, rest: string, schema: AnySchema): ConfigIssue {
  const { objectPath, object, key } = describeUnknownEnvName(rest, schema);
  const prefix = `${envPrefix}${objectPath.map((segment) => `${toUpperSnake(segment)}_`).join("")}`;
  const path = [...objectPath, key].join(".");
  const section = getObjectShape(object)?.[key];
  if (section !== undefined && getObjectShape(section) !== undefined) {
    const example = listEnvSpellings(section, `${prefix}${toUpperSnake(key)}_`)[0];
    return {
      path,
      message: `names a section, not a key${example === undefined ? "" : `; set e.g. ${example}`}`,
      source: name,
    };
  }
  const suggestion = suggestClosest(name, listEnvSpellings(object, prefix));
  return {
    path,
    message: suggestion === undefined ? "unknown key" : `unknown key; did you mean ${suggestion}?`,
    source: name,
  };
}

function isPathPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((key, index) => path[index] === key);
}

const numberPattern = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

/** Converts an env string to what `schema` accepts: integer, number, boolean, enum member or string. */
export function coerceEnvValue(raw: string, schema: AnySchema): CoercionResult {
  const scalar = getScalarSchema(schema);
  const inner = scalar === undefined ? undefined : unwrapSchema(scalar);
  const text = raw.trim();
  if (inner instanceof z.ZodNumber) {
    const value = numberPattern.test(text) ? Number(text) : Number.NaN;
    const wanted = inner.isInt ? "an integer" : "a number";
    if (Number.isNaN(value) || (inner.isInt && !Number.isInteger(value))) {
      return { ok: false, message: `expected ${wanted}, received ${JSON.stringify(raw)}` };
    }
    return { ok: true, value };
  }
  if (inner instanceof z.ZodBoolean) {
    const lower = text.toLowerCase();
    if (lower === "true" || lower === "1") return { ok: true, value: true };
    if (lower === "false" || lower === "0") return { ok: true, value: false };
    return { ok: false, message: `expected true, false, 1 or 0, received ${JSON.stringify(raw)}` };
  }
  if (inner instanceof z.ZodEnum) {
    const options = inner.options.map(String);
    const match = options.find((option) => option.toLowerCase() === text.toLowerCase());
    if (match === undefined) {
      return { ok: false, message: `expected one of ${options.join(", ")}; received ${JSON.stringify(raw)}` };
    }
    return { ok: true, value: match };
  }
  if (inner instanceof z.ZodString || inner instanceof z.ZodStringFormat) return { ok: true, value: raw };
  if (inner instanceof z.ZodArray) {
    return {
      ok: true,
      value: text
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== ""),
    };
  }
  return { ok: false, message: "cannot be set from the environment" };
}

/** Sets `value` at `path`, creating objects; false if a variable already set this key or one enclosing it. */
function setNew(target: Record<string, unknown>, path: readonly string[], value: unknown): boolean {
  let current = target;
  for (const key of path.slice(0, -1)) {
    const next = current[key];
    if (next === undefined) current[key] = {};
    else if (!isPlainObject(next)) return false;
    current = current[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if (current[last] !== undefined) return false;
  current[last] = value;
  return true;
}

/**
 * Reads `SARAI_<SECTION>_<KEY>` variables into a partial config, finding each key by walking the schema:
 * `SARAI_INFERENCE_THREADS`, `SARAI_PATHS_DATA_DIR`, `SARAI_MODELS_MAIN_SOURCE`, and `SARAI_MODELS_MAIN` for a
 * field that also takes a bare string. Values are coerced to the field's type. Variables whose name does not
 * start with a known section are left alone (they may belong to something else); empty values count as unset.
 */
export function readEnvOverrides(env: ConfigEnv, schema: AnySchema): EnvOverrides {
  const rootShape = getObjectShape(schema) ?? {};
  const sections = Object.keys(rootShape).map(toUpperSnake);
  const result: EnvOverrides = { data: {}, applied: [], issues: [] };
  const names = Object.keys(env)
    .filter((name) => name.startsWith(envPrefix) && name !== configFileEnvVar)
    .sort();
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const rest = name.slice(envPrefix.length);
    if (!sections.some((section) => rest === section || rest.startsWith(`${section}_`))) continue;

    const target = findEnvTarget(rest, schema, []);
    if (target === undefined) {
      result.issues.push(describeUnknownEnvVar(name, rest, schema));
      continue;
    }

    const coerced = coerceEnvValue(raw, target.schema);
    if (!coerced.ok) {
      result.issues.push({ path: target.path.join("."), message: coerced.message, source: name });
    } else if (!setNew(result.data, target.path, coerced.value)) {
      const other = result.applied.find(
        ({ path }) => isPathPrefix(path, target.path) || isPathPrefix(target.path, path),
      );
      result.issues.push({
        path: target.path.join("."),
        message: `conflicts with ${other?.name ?? "another variable"}; set only one`,
        source: name,
      });
    } else {
      result.applied.push({ name, path: target.path });
    }
  }
  return result;
}
