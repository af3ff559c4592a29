/**
 * The cache key of a step (DESIGN.md, "the cache model"): sha256 over the canonical JSON of what the step reads —
 * its filesystem parent, the expanded instruction with what it uses from the stage so far, the build args in scope
 * it depends on, and the digest of the files it read. The inputs themselves are what the key index and the build
 * history keep, so that a later miss can be explained by diffing them.
 */
import { canonicalJson, type JsonValue } from '../store/canonical-json';
import { sha256Digest, type Digest } from '../store/digest';

/** One file a COPY/ADD read: [path, type, mode, uid, gid, size, link target, content sha256]. */
export type FileInput = [string, string, number, number, number, number, string, string];

export interface StepInputs {
  [key: string]: JsonValue | undefined;
  /** The previous step's key, or the base image's manifest digest, or `scratch`. */
  parent: string;
  /** The expanded instruction and what it depends on from the stage so far. */
  op: { [key: string]: JsonValue | undefined; instruction: string };
  /** Build args in scope that the step depends on. */
  args?: { [name: string]: string };
  /** Digest of the file listing the step read (the listing itself is a blob, see `files`). */
  filesDigest?: string;
}

/** Whether a value read from outside (an imported cache, a file another version wrote) has the shape of key inputs. */
export function isStepInputs(v: unknown): v is StepInputs {
  if (!isObject(v) || typeof v.parent !== 'string') return false;
  const op = v.op;
  if (!isObject(op) || typeof op.instruction !== 'string') return false;
  if (v.filesDigest !== undefined && typeof v.filesDigest !== 'string') return false;
  const args = v.args;
  return args === undefined || (isObject(args) && Object.values(args).every((a) => typeof a === 'string'));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function stepKey(inputs: StepInputs): Digest {
  return sha256Digest(canonicalJson(inputs));
}
