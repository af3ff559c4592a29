/**
 * Keying stages ahead: the keys `Solver` will give a stage's steps, computed from the Dockerfile and the context
 * alone (the stages it reads keyed the same way), so that when every step of the final image's stages has a record
 * the stages they copy from need not run at all — what BuildKit does with a cache that holds only the final image's
 * steps. A stage whose keys need its files (`--chown` by name) or more than the context (ADD) cannot be keyed ahead.
 */
import { promises as fsp } from 'node:fs';
import { stepKey, type FileInput, type StepInputs } from '../cache/step-key';
import type { CopyStep, Stage, StageRef } from '../planner/types';
import type { Digest } from '../store/digest';
import { finalStageChain, fromInputs, scratchKey, type BuildContext } from './build-context';
import type { BuildSources } from './build-sources';
import { planCopy, type CopyPlan, type CopyPlanOptions } from './ops/copy/plan-copy';
import { copyOwner, ownerNeedsStageFiles, type Owner } from './ops/owner';
import { StageFs } from './stage-fs';
import { keyParent, keyStep, stateKeyAfter, type KeyingEnv } from './step-keyer';
import { changesFilesystem } from './step-inputs';

/** A step keyed ahead: its place (`stage/step`), key and key inputs, as the solver would record them. */
export interface DryStep {
  position: string;
  key: Digest;
  inputs: StepInputs;
  /** As in a run step's history: the key the next steps stand on when it is not this step's own. */
  resultKey?: string;
}

export interface DryStage {
  /** The stage's result key (its last filesystem step's, or its base's when it has none). */
  key: string;
  steps: DryStep[];
}

/** A stage read by a step could not be keyed ahead. */
class DryKeyUnavailable extends Error {}

export interface AheadEnv {
  sources: BuildSources;
  /** The key of an image or scratch named by `from` (a stage is keyed ahead here). */
  sourceKey(from: StageRef, flag: string): Promise<string>;
  putListing(files: FileInput[]): Promise<Digest>;
  copyOptions(step: CopyStep, owner: Owner | undefined): CopyPlanOptions;
}

export class AheadKeyer {
  private readonly stages = new Map<number, Promise<DryStage | undefined>>();

  constructor(
    private readonly ctx: BuildContext,
    private readonly env: AheadEnv,
  ) {}

  /**
   * Whether every step of the final image's stages has a usable record when keyed ahead, and some needed stage is
   * outside them (a builder to skip).
   */
  async targetHitsAlone(): Promise<boolean> {
    const { plan, opts, lookup } = this.ctx;
    if (opts.noCache) return false;
    const chain = finalStageChain(plan);
    if (plan.needed.every((i) => chain.includes(i))) return false;
    for (const i of chain) {
      const dry = await this.stage(i);
      if (!dry) return false;
      // FROM steps are metadata records (rewritten when missing); every other step must hit.
      for (const s of dry.steps.slice(1)) if (!(await lookup.has(s.key))) return false;
    }
    return true;
  }

  /** A stage's step keys computed from the Dockerfile and the context alone, once per build. */
  stage(index: number): Promise<DryStage | undefined> {
    let dry = this.stages.get(index);
    if (!dry) {
      // When keying fails the real build reports the error.
      dry = this.compute(this.ctx.plan.stages[index]).catch(() => undefined);
      this.stages.set(index, dry);
    }
    return dry;
  }

  private async compute(stage: Stage): Promise<DryStage | undefined> {
    let key: string;
    if (stage.base.kind === 'stage') {
      const parent = await this.stage(stage.base.index);
      if (!parent) return undefined;
      key = parent.key;
    } else if (stage.base.kind === 'image') {
      const image = this.ctx.images.get(stage.base.normalized);
      if (!image) return undefined;
      key = image.manifestDigest;
    } else {
      key = scratchKey(stage.platform);
    }
    const from = fromInputs(key);
    const steps: DryStep[] = [{ position: `${stage.index}/1`, key: stepKey(from), inputs: from }];
    const env: KeyingEnv = {
      dockerfile: this.ctx.dockerfile,
      sourceKey: async (ref, flag) => {
        if (ref.kind !== 'stage') return this.env.sourceKey(ref, flag);
        const dry = await this.stage(ref.index);
        if (!dry) throw new DryKeyUnavailable();
        return dry.key;
      },
      planCopy: (step) => this.planCopy(step),
      contextSource: () => this.env.sources.contextSource(),
      putListing: (files) => this.env.putListing(files),
    };
    for (let i = 0; i < stage.steps.length; i++) {
      const step = stage.steps[i];
      const keyed = await keyStep(step, keyParent(step, key, stage.platform), env);
      // After a COPY --from the stage stands on the content it copied, which its record names.
      const resultKey =
        step.kind === 'copy' && step.from ? await this.ctx.lookup.resultKey(keyed.key) : undefined;
      key = stateKeyAfter(step, key, resultKey ?? keyed.key);
      steps.push({
        position: `${stage.index}/${i + 2}`,
        key: keyed.key,
        inputs: keyed.inputs,
        ...(changesFilesystem(step) && key !== keyed.key ? { resultKey: key } : {}),
      });
    }
    return { key, steps };
  }

  /** A COPY's inputs are its source files; the stage's files only shape the layer, so an empty one will do. */
  private async planCopy(step: CopyStep): Promise<CopyPlan> {
    if (step.kind === 'add') throw new DryKeyUnavailable();
    // A name is looked up in the stage's files, which keying ahead does not have (a linked copy refuses names).
    if (ownerNeedsStageFiles(step)) throw new DryKeyUnavailable();
    const where = this.ctx.dockerfile.location(step.line, step.endLine);
    const owner = await copyOwner(step, { layers: [] }, this.ctx.views, where);
    const planned = await planCopy(
      step,
      await this.env.sources.contextSource(),
      StageFs.empty(),
      this.env.copyOptions(step, owner),
    );
    await Promise.all(planned.temporary.map((t) => fsp.rm(t, { recursive: true, force: true })));
    return planned;
  }
}
