import { pythonGrammar } from "../grammars/index.js";
import { validatePython } from "../validators/index.js";
import type { Skill } from "../skill.js";
import { toSkillCheck } from "./check.js";

/**
 * `python_code`: Python source in the grammar's safe subset (definitions, classes, expressions; no exec, eval
 * or imports of os/subprocess), checked by the validator (Python's own parser where `python3` exists). The code
 * is returned, never run.
 */
export const pythonCodeSkill: Skill = {
  name: "python_code",
  description: "Writes Python code for the request (a safe subset; returned, never run).",
  outputKind: "python",
  maxTokens: 512,
  prompt: {
    system: [
      "Write Python 3 code that does what the user asks: functions and classes with short docstrings.",
      "Do not import os, subprocess or sys, and do not use exec or eval. Answer with the code only.",
    ].join(" "),
    user: "{{input}}",
  },
  constraint: () => ({ grammar: pythonGrammar }),
  validate: async (text) => {
    if (text.trim() === "") return { ok: false, error: "the code is empty" };
    // Whether the validator is synchronous or spawns python3, the check awaits it.
    return toSkillCheck(await Promise.resolve(validatePython(text)), text, false);
  },
};
