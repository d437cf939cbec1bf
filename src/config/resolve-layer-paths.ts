import type { z } from "zod";
import { isPlainObject } from "./deep-merge.js";
import { resolveModelSource, resolvePath } from "./schema.js";
import { getObjectShape, getPathKind } from "./schema-walk.js";

/**
 * Returns a copy of one config layer with its path fields made absolute against `baseDir`, found by walking the
 * schema. Each layer resolves against its own base (the file's directory, or the cwd for env vars and flags)
 * before the layers are merged, so a relative path means what it meant where it was written. Unknown keys and
 * values of the wrong type are left for validation to report.
 */
export function resolveLayerPaths(
  layer: Record<string, unknown>,
  schema: z.core.$ZodType,
  baseDir: string,
  homeDir: string,
): Record<string, unknown> {
  const shape = getObjectShape(schema);
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(layer)) {
    const field = shape?.[key];
    if (field === undefined) {
      result[key] = value;
    } else if (typeof value === "string" && value.trim() !== "") {
      const kind = getPathKind(field);
      result[key] =
        kind === "directory" || kind === "file"
          ? resolvePath(value, baseDir, homeDir)
          : kind === "model-source"
            ? resolveModelSource(value, baseDir, homeDir)
            : value;
    } else if (isPlainObject(value)) {
      result[key] = resolveLayerPaths(value, field, baseDir, homeDir);
    } else {
      result[key] = value;
    }
  }
  return result;
}
