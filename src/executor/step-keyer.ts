/**
 * The one place a step's cache key is made, for the build that runs it and for keying a stage ahead (without
 * running it) alike: the key inputs of `step-inputs.ts`, plus what the step reads from elsewhere — the key of the
 * stage or image a `COPY --from` or `RUN --mount from=` names, and the digest of the file rows a context COPY or a
 * context bind mount reads. Those two are asked of a `KeyingEnv`, because they differ between the two callers: a
 * running build plans the COPY against the stage's files and builds the stages it reads; keying ahead plans it
 * against an empty stage and keys those stages ahead too.
 */

import { formatPlatform, type Platform } from '../platform';
import { canonicalJson } from '../store/canonical-json';
import { stepKey, type FileInput, type StepInputs } from '../cache/step-key';
import type { CopyStep, RunStep, StageRef, Step } from '../planner/types';
import { sha256Digest, type Digest } from '../store/digest';
import type { DockerfileText } from './dockerfile-text';
import { contextMountInputs } from './ops/context-mount';
import type { CopyPlan } from './ops/copy/plan-copy';
import type { CopySourceFs } from './ops/copy/source-fs';
import { argInputs, changesFilesystem, isLinkedCopy, opInputs } from './step-inputs';

export interface KeyingEnv {
  dockerfile: DockerfileText;
  /** The key standing for what `from` names (`flag`, for messages): a stage's key, an image's manifest digest. */
  sourceKey(from: StageRef, flag: string): Promise<string>;
  /** Plans a COPY/ADD without `--from`: the rows it reads are its file inputs. */
  planCopy(step: CopyStep): Promise<CopyPlan>;
  contextSource(): Promise<CopySourceFs>;
  /** Stores a listing of file rows (what a later miss is explained against); returns its digest. */
  putListing(files: FileInput[]): Promise<Digest>;
}

export interface KeyedStep {
  key: Digest;
  inputs: StepInputs;
  /** The file rows the step read (a context COPY's sources, a RUN's context bind mounts). */
  files?: FileInput[];
  /** The COPY/ADD plan made for the key (context sources), kept for writing the layer on a miss. */
  copy?: CopyPlan;
}

/**
 * What a step's key stands on: the stage's filesystem so far (`stateKey`), or — for a linked COPY/ADD — nothing but
 * the platform, because its layer is made on an empty filesystem.
 */
export function keyParent(step: Step, stateKey: string, platform: Platform): string {
  return isLinkedCopy(step) ? `link:${formatPlatform(platform)}` : stateKey;
}

/**
 * The key of the stage's filesystem after `step` (keyed `key`): a filesystem step's own key; for a linked COPY/ADD
 * the merge of the filesystem before it and its layer (so what follows still misses when either changed); a
 * metadata step leaves it as it was.
 */
export function stateKeyAfter(step: Step, stateKey: string, key: Digest): string {
  if (isLinkedCopy(step)) return sha256Digest(canonicalJson({ merge: [stateKey, key] }));
  return changesFilesystem(step) ? key : stateKey;
}

/** `step`'s key, standing on the filesystem keyed `parent` (see `keyParent`). */
export async function keyStep(step: Step, parent: string, env: KeyingEnv): Promise<KeyedStep> {
  const inputs: StepInputs = { parent, op: opInputs(step) };
  const args = argInputs(step);
  if (args) inputs.args = args;
  let files: FileInput[] | undefined;
  let copy: CopyPlan | undefined;
  if (step.kind === 'copy' || step.kind === 'add') {
    if (step.from) {
      // The source's key stands for its content: a hit needs neither the source's files nor a plan.
      const from = step.from;
      const where = env.dockerfile.location(step.line, step.endLine);
      inputs.op.fromKey = await env.dockerfile.locate(where, () => env.sourceKey(from, 'COPY --from'));
    } else {
      copy = await env.planCopy(step);
      files = copy.inputs;
      inputs.filesDigest = await env.putListing(files);
    }
  } else if (step.kind === 'run') {
    files = await bindMountInputs(step, inputs, env);
    if (files) inputs.filesDigest = await env.putListing(files);
  }
  return { key: stepKey(inputs), inputs, ...(files ? { files } : {}), ...(copy ? { copy } : {}) };
}

/**
 * The key inputs of a RUN's bind mounts, as BuildKit keys a mount by what it shows: a `from=` mount adds the
 * source's key to `inputs.op.mountSources` (by target); context mounts return the rows of the files they show
 * (undefined when there are none).
 */
async function bindMountInputs(
  step: RunStep,
  inputs: StepInputs,
  env: KeyingEnv,
): Promise<FileInput[] | undefined> {
  const where = env.dockerfile.location(step.line, step.endLine);
  let files: FileInput[] | undefined;
  const sources: Record<string, string> = {};
  for (const m of step.mounts) {
    if (m.type !== 'bind') continue;
    if (m.from !== undefined) {
      const from = m.from;
      sources[m.target] = await env.dockerfile.locate(where, () => env.sourceKey(from, 'RUN --mount from'));
    } else {
      const context = await env.contextSource();
      const rows = await env.dockerfile.locate(where, async () => contextMountInputs(context, m.source));
      (files ??= []).push(...rows);
    }
  }
  if (Object.keys(sources).length > 0) inputs.op.mountSources = sources;
  return files;
}
