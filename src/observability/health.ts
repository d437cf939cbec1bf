import { randomUUID } from "node:crypto";
import { mkdir, rm, statfs, writeFile } from "node:fs/promises";
import path from "node:path";

export type ComponentState = "ok" | "degraded" | "failed";

export interface ComponentHealth {
  status: ComponentState;
  detail?: string;
}

export interface Readiness {
  /** False when any component failed. Degraded components still serve. */
  ready: boolean;
  components: Record<string, ComponentHealth>;
  /** Why SARAi runs below its configured quality, e.g. `demo model: random weights, answers are noise`. */
  degraded: string[];
}

/** Whether a file can be created and removed in `dir` (created if missing). */
export async function checkWritableDir(dir: string): Promise<ComponentHealth> {
  try {
    await mkdir(dir, { recursive: true });
    const probe = path.join(dir, `.probe-${randomUUID()}`);
    await writeFile(probe, "");
    await rm(probe);
    return { status: "ok", detail: dir };
  } catch (error) {
    return { status: "failed", detail: `${dir} is not writable: ${(error as Error).message}` };
  }
}

/** Free space under `dir`: failed below `minFreeMb`, degraded below twice that. */
export async function checkFreeDisk(dir: string, minFreeMb: number): Promise<ComponentHealth> {
  try {
    const stats = await statfs(dir);
    const freeMb = Math.floor((stats.bavail * stats.bsize) / 2 ** 20);
    const detail = `${freeMb} MiB free under ${dir}`;
    if (freeMb < minFreeMb) return { status: "failed", detail };
    if (freeMb < 2 * minFreeMb) return { status: "degraded", detail };
    return { status: "ok", detail };
  } catch (error) {
    return { status: "failed", detail: `cannot read free space under ${dir}: ${(error as Error).message}` };
  }
}

/** Combines component checks and degradation reasons into one readiness report. */
export function summariseReadiness(
  components: Record<string, ComponentHealth>,
  degraded: string[],
): Readiness {
  const reasons = [...degraded];
  for (const [name, health] of Object.entries(components)) {
    if (health.status === "degraded") reasons.push(`${name}: ${health.detail ?? "degraded"}`);
  }
  return {
    ready: Object.values(components).every((c) => c.status !== "failed"),
    components,
    degraded: reasons,
  };
}
