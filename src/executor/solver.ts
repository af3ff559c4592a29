/**
 * Solving a plan's stages: each stage once (independent ones concurrently, each waiting for the stages it reads),
 * and per step — key → lookup → on a miss, the op (RUN, COPY/ADD, WORKDIR) → record → history and event. Metadata
 * steps change only the stage's config; a filesystem step becomes the next step's parent. What the stage builds on
 * is its base: an image, another stage or scratch, keyed by its manifest digest, result key or platform.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { HistoryStep } from '../cache/build-history';
import { explainMiss } from '../cache/explain';
import type { CacheRecord } from '../cache/key-index';
import type { LayerRecord } from '../image/stored-image';
import { stepKey, type FileInput, type StepInputs } from '../cache/step-key';
import type { StepRef } from '../events';
import { layerListing, type FsEntry } from '../layers/listing';
import type { CopyStep, Stage, StageRef, Step } from '../planner/types';
import { canonicalJson } from '../store/canonical-json';
import { isDigest, sha256Digest, type Digest } from '../store/digest';
import { copiedFromStages, fromInputs, lazy, scratchKey, type BuildContext } from './build-context';
import { BuildSources } from './build-sources';
import { AheadKeyer } from './keyed-ahead';
import { copiedContent } from './ops/copy/copied-content';
import { planCopy, type CopyEntry, type CopyPlan, type CopyPlanOptions } from './ops/copy/plan-copy';
import { applyStep, inheritConfig, scratchConfig } from './ops/image-config';
import { toTarEntry, writeFilesLayer } from './ops/layer-writer';
import { copyOwner, ownerNeedsStageFiles, resolveOwner, type Owner } from './ops/owner';
import { runCommand } from './ops/run-command';
import { workdirEntries } from './ops/workdir';
import { filesLayerForm } from './layer-use';
import { StageFs } from './stage-fs';
import { changesFilesystem, displayInstruction, isLinkedCopy } from './step-inputs';
import { keyParent, keyStep, stateKeyAfter, type KeyingEnv } from './step-keyer';
import type { StageResult } from './types';

export class Solver {
  readonly sources: BuildSources;
  readonly ahead: AheadKeyer;
  /** Every step's key, inputs and cache outcome, in the order they were decided: the build's history. */
  readonly history: HistoryStep[] = [];
  /** The ids of the RUN cache mounts the built stages use (a `cache-mounts=true` export carries them). */
  readonly cacheMountIds: string[] = [];
  steps = 0;
  hits = 0;
  /** True when the final image's stages all hit with keys computed ahead: the other stages are not run. */
  keyedAhead = false;
  private readonly results = new Map<number, Promise<StageResult>>();
  /** Work started ahead of need (unpacking a stage for a later COPY --from), awaited by `settled`. */
  private readonly background: Promise<unknown>[] = [];

  constructor(private readonly ctx: BuildContext) {
    this.sources = new BuildSources(ctx, (index) => this.stage(index));
    this.ahead = new AheadKeyer(ctx, {
      sources: this.sources,
      sourceKey: (from, flag) => this.sourceKey(from, flag),
      putListing: (files) => this.putListing(files),
      copyOptions: (step, owner) => this.copyOptions(step, owner),
    });
  }

  /** Stage `index`, built once per build; every caller gets the same result. */
  stage(index: number): Promise<StageResult> {
    let result = this.results.get(index);
    if (!result) {
      result = this.runStage(this.ctx.plan.stages[index]);
      // Failures surface through the awaiting caller; avoid an unhandled rejection for stages awaited later.
      result.catch(() => undefined);
      this.results.set(index, result);
    }
    return result;
  }

  /** Whether stage `index` was started (it is not when keyed ahead and not needed by the final image). */
  started(index: number): boolean {
    return this.results.has(index);
  }

  /** Resolves once every stage this build started has finished or failed (nothing of it still runs). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.results.values(), ...this.background]);
  }

  private async runStage(stage: Stage): Promise<StageResult> {
    const { plan } = this.ctx;
    const total = stage.steps.length + 1;
    const ref = (index: number, line: number, instruction: string): StepRef => ({
      stage: stage.name ?? `stage-${stage.index}`,
      showStage: plan.stages.length > 1,
      stageIndex: stage.index,
      index,
      total,
      line,
      instruction,
    });
    const fromRef = ref(1, stage.line, `FROM ${stage.baseName}`);
    // A stage that waits for the stages it reads shows its FROM as started once they are done: shown running all
    // that time, it would look stuck. (FROM itself still comes after them: the first of two equal FROMs records
    // what the second then hits.)
    const waitsForStages = !this.keyedAhead && stage.dependsOn.length > 0;
    if (!waitsForStages) this.ctx.opts.events({ type: 'step-start', step: fromRef });
    let state = await this.baseState(stage);
    // Start the stages this one reads now, so they overlap with its first steps (not when keyed ahead: then its
    // steps all hit and those stages need not run at all).
    if (!this.keyedAhead) await Promise.all(stage.dependsOn.map((d) => this.stage(d)));
    if (waitsForStages) this.ctx.opts.events({ type: 'step-start', step: fromRef });
    const baseLabel =
      stage.base.kind === 'stage'
        ? `stage ${plan.stages[stage.base.index].displayName}`
        : stage.base.kind === 'image'
          ? `base image ${stage.baseName}`
          : 'scratch';
    const fromMissed = !(await this.fromStep(stage, state.key, fromRef, baseLabel));
    /** Whether every filesystem step so far was linked: the stage's filesystem is then its base merged with them. */
    let onlyLinked = true;

    let cmdSet = false;
    let parentMissed = false;
    for (let i = 0; i < stage.steps.length; i++) {
      const step = stage.steps[i];
      const stepRef = ref(i + 2, step.line, displayInstruction(step));
      this.ctx.opts.events({ type: 'step-start', step: stepRef });
      const t0 = performance.now();
      const position = `${stage.index}/${i + 2}`;
      const stageState = state;
      const linked = isLinkedCopy(step);
      const keyed = await keyStep(
        step,
        keyParent(step, state.key, stage.platform),
        this.keyingEnv(stageState),
      );
      const { key, inputs } = keyed;
      let copy = keyed.copy;
      if (inputs.filesDigest) await this.ctx.opts.inUse?.add([inputs.filesDigest]);
      if (step.kind === 'run') {
        for (const m of step.mounts) if (m.type === 'cache') this.cacheMountIds.push(m.id);
      }
      const record = await this.ctx.lookup.find(key);
      let layer: LayerRecord | null;
      let reason: string | undefined;
      let createdAt: string;
      let entries: CopyEntry[] | undefined = copy?.entries;
      /** What the steps after a COPY --from stand on: the key of the content it copied. */
      let resultKey = record?.resultKey;
      /** A COPY --from whose source changed but whose copied content did not. */
      let byContent: CacheRecord | undefined;
      if (record) {
        layer = record.layer;
        createdAt = record.createdAt;
      } else {
        if ((step.kind === 'copy' || step.kind === 'add') && !copy) {
          copy = await this.planCopyStep(step, stageState);
          entries = copy.entries;
        }
        let content: StepInputs | undefined;
        if ((step.kind === 'copy' || step.kind === 'add') && step.from && copy) {
          content = await this.contentInputs(inputs, copy.entries);
          // Its listing is kept from a concurrent prune as every other step's file listing is.
          if (content.filesDigest) await this.ctx.opts.inUse?.add([content.filesDigest]);
          resultKey = stepKey(content);
          byContent = await this.ctx.lookup.find(resultKey);
        }
        if (step.kind === 'workdir') entries = await this.workdirChange(step, stageState);
        const form = filesLayerForm(plan, stage.index, i);
        layer = byContent
          ? byContent.layer
          : await this.makeLayer(step, state.layers, entries, stepRef, form, key);
        if (layer) await this.ctx.opts.inUse?.add([key, layer.digest, layer.diffId]);
        // A hit by content keeps the history time of the layer it reuses, so the image is the same as before.
        createdAt = byContent?.createdAt ?? new Date().toISOString();
        if (content && resultKey && !byContent)
          await this.putRecord(resultKey, stepRef, layer, content, t0, createdAt);
        await this.putRecord(key, stepRef, layer, inputs, t0, createdAt, resultKey);
        const previous = this.ctx.previous.get(position);
        reason = byContent
          ? undefined
          : explainMiss({
              current: inputs,
              currentFiles: keyed.files,
              previous: previous && { inputs: previous, files: await this.previousFiles(previous) },
              // A linked step stands on nothing of the stage: no step before it can be why it missed.
              parentMissed: parentMissed && !linked,
              isFirstStep: i === 0 && !linked,
              baseChangedBelowLinks: fromMissed && onlyLinked && !linked,
              noCache: this.ctx.opts.noCache,
              baseLabel,
            });
      }
      const hit = record !== undefined || byContent !== undefined;
      const imported = record
        ? this.ctx.lookup.wasImported(key)
        : byContent !== undefined && resultKey !== undefined && this.ctx.lookup.wasImported(resultKey);
      await Promise.all((copy?.temporary ?? []).map((t) => fsp.rm(t, { recursive: true, force: true })));
      // The next step stands on the filesystem: only a step that changes it can make the next one miss.
      // (A linked step's layer is merged over the filesystem: what follows misses if either changed.)
      if (linked) parentMissed ||= !hit;
      else if (changesFilesystem(step)) {
        parentMissed = !hit;
        onlyLinked = false;
      }
      // A step's history time is when it was first built, so a fully cached rebuild gives the very same image.
      const created = this.ctx.opts.sourceDateEpoch !== undefined ? this.ctx.created : createdAt;
      applyStep(state.config, step, layer !== null, created, cmdSet);
      if (step.kind === 'cmd') cmdSet = true;
      if (layer) state = this.withLayer(state, layer, entries);
      state.key = stateKeyAfter(step, state.key, resultKey ?? key);
      this.history.push({
        position,
        key,
        inputs,
        cache: hit ? 'hit' : 'miss',
        ...(reason !== undefined ? { reason } : {}),
        ...(imported ? { imported: true } : {}),
        ...(changesFilesystem(step) && state.key !== key ? { resultKey: state.key } : {}),
      });
      this.report(stepRef, key, hit ? 'hit' : 'miss', reason, performance.now() - t0, layer, imported);
    }
    if (parentMissed && copiedFromStages(this.ctx).has(stage.index)) {
      // A stage that missed has a new key, so every COPY --from it misses too and will need its files: unpack them
      // now, while other stages still run, rather than when the first such COPY gets its turn.
      const source = state;
      this.background.push(
        this.ctx.imports
          .ensureLayers(source.layers)
          .then(() => this.ctx.views.directory(source.layers))
          .catch(() => undefined), // the COPY that needs it awaits the same unpacking and reports its error
      );
    }
    return state;
  }

  /** A missed filesystem step's layer: the RUN's change, or the COPY/ADD/WORKDIR entries written (null: none). */
  private async makeLayer(
    step: Step,
    layers: readonly LayerRecord[],
    entries: CopyEntry[] | undefined,
    stepRef: StepRef,
    form: ReturnType<typeof filesLayerForm>,
    key: Digest,
  ): Promise<LayerRecord | null> {
    if (step.kind === 'run') return runCommand(this.runContext(), step, layers, stepRef, key);
    if (!entries || (entries.length === 0 && !(step.kind === 'workdir' && step.resolved !== '/')))
      return null;
    const { root, sourceDateEpoch } = this.ctx.opts;
    return writeFilesLayer(root, this.ctx.blobs, entries.map(toTarEntry), form, sourceDateEpoch);
  }

  /** Writes the record of a step built now (or reused by content). */
  private async putRecord(
    key: Digest,
    stepRef: StepRef,
    layer: LayerRecord | null,
    inputs: StepInputs,
    t0: number,
    createdAt = new Date().toISOString(),
    resultKey?: Digest,
  ): Promise<void> {
    await this.ctx.index.put({
      version: 1,
      key,
      description: stepRef.instruction,
      layer,
      inputs,
      durationMs: Math.round(performance.now() - t0),
      createdAt,
      lastUsedAt: new Date().toISOString(),
      ...(resultKey !== undefined ? { resultKey } : {}),
    });
  }

  /** A COPY --from keyed by what it copies instead of by its source's key (BuildKit's content cache). */
  private async contentInputs(inputs: StepInputs, entries: readonly CopyEntry[]): Promise<StepInputs> {
    const op = Object.fromEntries(Object.entries(inputs.op).filter(([k]) => k !== 'fromKey'));
    const rows = await copiedContent(entries);
    return {
      parent: inputs.parent,
      op: { ...op, instruction: inputs.op.instruction, copiedContent: true },
      filesDigest: await this.putListing(rows),
    };
  }

  /** The state a stage starts in: its base's key, config, layers and files. */
  private async baseState(stage: Stage): Promise<StageResult> {
    if (stage.base.kind === 'stage') {
      const parent = await this.stage(stage.base.index);
      return { ...parent, config: inheritConfig(parent.config), layers: [...parent.layers] };
    }
    if (stage.base.kind === 'image') {
      const image = this.ctx.images.get(stage.base.normalized);
      if (!image) throw new Error(`base image ${stage.base.normalized} was not resolved before the build`);
      const layers = [...image.layers];
      return {
        key: image.manifestDigest,
        config: inheritConfig(image.config),
        layers,
        fs: lazy(async () => {
          let fs = StageFs.empty();
          for (const l of layers) fs = fs.withLayer(await this.listing(l));
          return fs;
        }),
      };
    }
    return {
      key: scratchKey(stage.platform),
      config: scratchConfig(stage.platform),
      layers: [],
      fs: async () => StageFs.empty(),
    };
  }

  /** FROM is a step too, keyed by the base alone: it hits when an earlier build already stood on this base. */
  /** Whether the FROM step hit. */
  private async fromStep(
    stage: Stage,
    parent: string,
    fromRef: StepRef,
    baseLabel: string,
  ): Promise<boolean> {
    const position = `${stage.index}/1`;
    const inputs = fromInputs(parent);
    const key = stepKey(inputs);
    const record = await this.ctx.lookup.find(key);
    const previous = this.ctx.previous.get(position);
    const reason = record
      ? undefined
      : explainMiss({
          current: inputs,
          previous: previous && { inputs: previous },
          parentMissed: false,
          isFirstStep: true,
          noCache: this.ctx.opts.noCache,
          baseLabel,
        });
    const imported = record !== undefined && this.ctx.lookup.wasImported(key);
    this.history.push({
      position,
      key,
      inputs,
      cache: record ? 'hit' : 'miss',
      ...(reason !== undefined ? { reason } : {}),
      ...(imported ? { imported: true } : {}),
    });
    if (!record) await this.putRecord(key, fromRef, null, inputs, performance.now());
    this.report(fromRef, key, record ? 'hit' : 'miss', reason, 0, null, imported);
    return record !== undefined;
  }

  /** The stage with `layer` on top; its files known from the entries written, else read from the layer's listing. */
  private withLayer(state: StageResult, layer: LayerRecord, entries: CopyEntry[] | undefined): StageResult {
    const fsBefore = state.fs;
    const added: FsEntry[] | undefined = entries?.map((e) => ({
      path: e.path,
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      linkTarget: e.linkTarget,
    }));
    // A RUN's change is only known from its layer: read its listing (once, cached) when the view is needed.
    const addedEntries = async (): Promise<FsEntry[]> => added ?? this.listing(layer);
    state.config.rootfs.diff_ids.push(layer.diffId);
    return {
      ...state,
      layers: [...state.layers, layer],
      fs: lazy(async () => (await fsBefore()).withLayer(await addedEntries())),
    };
  }

  /** How the running build keys a step: COPY planned against the stage's files, the stages it reads built. */
  private keyingEnv(state: StageResult): KeyingEnv {
    return {
      dockerfile: this.ctx.dockerfile,
      sourceKey: (from, flag) => this.sourceKey(from, flag),
      planCopy: (step) => this.planCopyStep(step, state),
      contextSource: () => this.sources.contextSource(),
      putListing: (files) => this.putListing(files),
    };
  }

  private async planCopyStep(step: CopyStep, state: StageResult): Promise<CopyPlan> {
    const source = await this.sources.copySource(step);
    const linked = isLinkedCopy(step);
    if (ownerNeedsStageFiles(step)) await this.ctx.imports.ensureLayers(state.layers);
    const where = this.ctx.dockerfile.location(step.line, step.endLine);
    const owner = await copyOwner(step, state, this.ctx.views, where);
    // A linked copy is made on an empty filesystem, as BuildKit does: the stage's files are not seen.
    return planCopy(step, source, linked ? StageFs.empty() : await state.fs(), this.copyOptions(step, owner));
  }

  /** The directory a WORKDIR creates, owned by the stage's user. */
  private async workdirChange(
    step: Extract<Step, { kind: 'workdir' }>,
    state: StageResult,
  ): Promise<CopyEntry[]> {
    const user = step.context.user;
    const owner = user ? await resolveOwner(user, state, this.ctx.views) : undefined;
    const fs = await state.fs();
    const epoch = this.ctx.opts.sourceDateEpoch ?? Math.floor(this.ctx.startedMs / 1000);
    return this.ctx.dockerfile.locate(this.ctx.dockerfile.location(step.line, step.endLine), async () =>
      workdirEntries(step.resolved, fs, owner, epoch),
    );
  }

  /** How this build plans a COPY/ADD (the same when keying ahead as when building). */
  private copyOptions(step: Step, owner: Owner | undefined): CopyPlanOptions {
    return {
      owner,
      dirTime: Math.floor(this.ctx.startedMs / 1000),
      epoch: this.ctx.opts.sourceDateEpoch,
      tmpDir: path.join(this.ctx.opts.root, 'tmp'),
      location: this.ctx.dockerfile.location(step.line, step.endLine),
    };
  }

  /** What a `COPY --from` source is, for the key: a stage's result key, an image's manifest digest. */
  private async sourceKey(from: StageRef, flag: string): Promise<string> {
    if (from.kind === 'stage') {
      const dry = this.keyedAhead ? await this.ahead.stage(from.index) : undefined;
      return dry?.key ?? (await this.stage(from.index)).key;
    }
    if (from.kind === 'image') {
      const image = await this.ctx.images.source(from, this.ctx.plan.targetPlatform, flag);
      return image?.manifestDigest ?? `missing:${from.normalized}`;
    }
    return 'scratch';
  }

  /** Stores a step's file listing (the blob a later miss is explained against); returns its digest. */
  private async putListing(files: FileInput[]): Promise<Digest> {
    const listing = canonicalJson(files);
    const digest = sha256Digest(listing);
    // Hashed once already: the store skips the write (and fsync) when it has this listing from a past build.
    await this.ctx.blobs.put(listing, { expectedDigest: digest });
    return digest;
  }

  private runContext(): Parameters<typeof runCommand>[0] {
    const { opts, blobs, imports, dockerfile } = this.ctx;
    return { opts, blobs, imports, sources: this.sources, dockerfile, events: opts.events };
  }

  /** What a layer holds: from its cached or imported listing, else read from the (fetched) layer. */
  private async listing(layer: LayerRecord): Promise<FsEntry[]> {
    if (!(await this.ctx.imports.provideListing(layer))) await this.ctx.imports.ensureBlob(layer.digest);
    return layerListing(this.ctx.opts.root, this.ctx.blobs, layer.digest, layer.diffId);
  }

  private async previousFiles(previous: StepInputs): Promise<FileInput[] | undefined> {
    const digest = previous.filesDigest;
    if (!digest || !isDigest(digest)) return undefined;
    try {
      await this.ctx.imports.ensureBlob(digest);
      return JSON.parse((await this.ctx.blobs.readAll(digest)).toString('utf8')) as FileInput[];
    } catch {
      return undefined;
    }
  }

  private report(
    step: StepRef,
    key: Digest,
    cache: 'hit' | 'miss',
    reason: string | undefined,
    ms: number,
    layer: LayerRecord | null,
    imported: boolean,
  ): void {
    this.steps++;
    if (cache === 'hit') this.hits++;
    this.ctx.opts.events({
      type: 'step-done',
      step,
      cache,
      ...(reason !== undefined ? { reason } : {}),
      ...(imported ? { imported: true } : {}),
      durationMs: ms,
      layer: layer && { digest: layer.digest, diffId: layer.diffId, size: layer.size },
      key,
    });
  }
}
