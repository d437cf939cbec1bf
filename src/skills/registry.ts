import { AppError } from "../shared/index.js";
import type { Skill } from "./skill.js";

/** The skills a server offers, by name. */
export class SkillRegistry {
  readonly #skills = new Map<string, Skill>();

  constructor(skills: readonly Skill[]) {
    for (const skill of skills) {
      if (this.#skills.has(skill.name)) throw new Error(`two skills are named "${skill.name}"`);
      this.#skills.set(skill.name, skill);
    }
  }

  /** The skill called `name`, or undefined. */
  find(name: string): Skill | undefined {
    return this.#skills.get(name.trim());
  }

  /** The skill called `name`; an unknown name is an `INVALID_REQUEST` on `param` that lists the known ones. */
  get(name: string, param = "skill"): Skill {
    const skill = this.find(name);
    if (skill === undefined)
      throw new AppError(
        "INVALID_REQUEST",
        `unknown skill "${name}"; available: ${[...this.#skills.keys()].join(", ")}`,
        { param },
      );
    return skill;
  }

  list(): Skill[] {
    return [...this.#skills.values()];
  }
}
