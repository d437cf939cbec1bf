import type { LlmBackend } from "../inference/index.js";
import { SkillRegistry } from "./registry.js";
import { SkillRouter } from "./router.js";
import { defaultSkillRetries, runSkill } from "./runner.js";
import type { Skill, SkillCall, SkillOutputKind, SkillResult, SkillServices } from "./skill.js";

export interface SkillServiceOptions {
  backend: LlmBackend;
  skills: readonly Skill[];
  /** Route a message that names no skill by the keyword classifier. Default: true. */
  autoRoute?: boolean;
  /** Extra attempts after an invalid output, 0–5. Default: 2. */
  retries?: number;
  services?: SkillServices;
}

/** A skill as `GET /v1/skills` and `sarai skill list` show it. */
export interface SkillInfo {
  name: string;
  description: string;
  outputKind: SkillOutputKind;
  acceptsSchema: boolean;
}

export type SkillRunOptions = Omit<SkillCall, "services"> & {
  /** Seed of the first attempt; each retry uses the next one. Default: random. */
  seed?: number;
  /** Store nothing in memory (`extract_entities` returns its facts without storing them). Default: false. */
  noMemory?: boolean;
};

/** The skills subsystem as the rest of SARAi uses it: the registry, the router and the runner, wired once. */
export class SkillService {
  readonly registry: SkillRegistry;
  readonly router: SkillRouter;
  readonly #backend: LlmBackend;
  readonly #retries: number;
  readonly #services: SkillServices;

  constructor(options: SkillServiceOptions) {
    this.registry = new SkillRegistry(options.skills);
    this.router = new SkillRouter({ registry: this.registry, autoRoute: options.autoRoute ?? true });
    this.#backend = options.backend;
    this.#retries = options.retries ?? defaultSkillRetries;
    this.#services = options.services ?? {};
  }

  list(): SkillInfo[] {
    return this.registry.list().map((skill) => ({
      name: skill.name,
      description: skill.description,
      outputKind: skill.outputKind,
      acceptsSchema: skill.acceptsSchema === true,
    }));
  }

  /** Runs a skill by name (unknown: `INVALID_REQUEST` on `skill`) or by value. */
  run(skill: string | Skill, options: SkillRunOptions): Promise<SkillResult> {
    const resolved = typeof skill === "string" ? this.registry.get(skill) : skill;
    const { noMemory, ...call } = options;
    const { memory: _memory, ...withoutMemory } = this.#services;
    return runSkill(resolved, {
      ...call,
      backend: this.#backend,
      services: noMemory === true ? withoutMemory : this.#services,
      retries: this.#retries,
    });
  }
}
