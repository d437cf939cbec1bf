import { z } from "zod";
import { pathFields, type PathKind } from "./schema.js";

type AnySchema = z.core.$ZodType;

/** Strips the wrappers that do not change a field's shape: optional, default, prefault, nullable and pipes. */
export function unwrapSchema(schema: AnySchema): AnySchema {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodNullable
    ) {
      current = current.unwrap();
    } else if (current instanceof z.ZodPipe) {
      current = current.in;
    } else {
      return current;
    }
  }
}

/** The options of a union, or the schema itself, each unwrapped. */
function listAlternatives(schema: AnySchema): AnySchema[] {
  const inner = unwrapSchema(schema);
  return inner instanceof z.ZodUnion ? inner.options.map((option) => unwrapSchema(option)) : [inner];
}

/** The fields of an object schema, or of the object option of a union; undefined for anything else. */
export function getObjectShape(schema: AnySchema): Readonly<Record<string, AnySchema>> | undefined {
  for (const alternative of listAlternatives(schema)) {
    if (alternative instanceof z.ZodObject) return alternative.shape;
  }
  return undefined;
}

/** The scalar a field accepts (the string option of a string-or-object union); undefined for objects. */
export function getScalarSchema(schema: AnySchema): AnySchema | undefined {
  return listAlternatives(schema).find(
    (alternative) =>
      alternative instanceof z.ZodString ||
      alternative instanceof z.ZodStringFormat ||
      alternative instanceof z.ZodNumber ||
      alternative instanceof z.ZodBoolean ||
      alternative instanceof z.ZodEnum ||
      // Lists of strings (or of string-or-object items) are set from the environment as comma-separated values.
      (alternative instanceof z.ZodArray &&
        listAlternatives(alternative.element).some((item) => item instanceof z.ZodString)),
  );
}

/** The field schema at `path`, walking objects (and the object option of unions). */
export function findFieldSchema(schema: AnySchema, path: readonly PropertyKey[]): AnySchema | undefined {
  let current: AnySchema | undefined = schema;
  for (const key of path) {
    if (current === undefined || typeof key !== "string") return undefined;
    current = getObjectShape(current)?.[key];
  }
  return current;
}

/** Whether a scalar field holds a path, and which kind (see `pathFields`). */
export function getPathKind(schema: AnySchema): PathKind | undefined {
  const scalar = getScalarSchema(schema);
  return scalar === undefined ? undefined : pathFields.get(scalar)?.pathKind;
}

/** `maxSizeMb` → `MAX_SIZE_MB`: how a schema key is spelled in an environment variable name. */
export function toUpperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** `DATA_DIR` → `dataDir`: the key an environment variable segment would name. */
export function toCamelCase(snake: string): string {
  return snake.toLowerCase().replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}
