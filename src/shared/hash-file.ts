import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** The SHA-256 of a file (lower-case hex), streamed: a model of gigabytes is never read into memory whole. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
