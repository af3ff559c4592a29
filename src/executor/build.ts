/**
 * One build: Dockerfile → plan → stages (independent ones concurrently) → steps, each checked against the cache by
 * its key and run only when it missed → the target stage's image (config + manifest blobs). Events report every
 * step with its cache outcome and, for a miss, the reason. When the final image's stages hit throughout with the
 * stages they read keyed ahead (from the Dockerfile and context alone), those stages are not run at all.
 */
import { promises as fsp } from 'node:fs';
import { isErrno } from '../store/atomic';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { BlobStore } from '../store/blob-store';
import { loadBuildHistory, saveBuildHistory, type HistoryStep } from '../cache/build-history';
import { canonicalJson } from '../store/canonical-json';
import { sha256Digest, type Digest } from '../store/digest';
import type { InUseMarker } from '../cache/in-use';
import { KeyIndex, type CacheRecord, type LayerRecord } from '../cache/key-index';
import { inlineCacheAnnotation } from '../cache/transfer/registry-cache';
import type { CacheBlobSource, LoadedCache } from '../cache/transfer/types';
import { restoreCacheMount } from './ops/cache-mount-archive';
import { contextEntries, loadIgnorePatterns, matcherFromIgnoreFile } from '../context';
import { BuildError, TsbuildError, UserError, type SourceLocation } from '../errors';
import { parseDockerfile, type Directive } from '../parser';
import { buildChecks, planBuild, skippedChecks } from '../planner';
import type { BaseImageConfig, BuildPlan, Platform, RunStep, Stage, StageRef, Step } from '../planner/types';
import type { Isolation } from './sandbox';
import { runStep } from './ops/run';
import type { EventSink, StepRef } from '../events';
import { planCopy, type CopyEntry, type CopyPlanOptions } from './ops/copy/plan-copy';
import { sourceFromEntries, type CopySourceFs } from './ops/copy/source-fs';
import { explainMiss } from '../cache/explain';
import type { FileInput, StepInputs } from '../cache/step-key';
import { assembleImage } from '../image/assemble';
import { parseManifest, type ImageManifest } from '../image/oci-types';
import { applyStep, inheritConfig, scratchConfig, type ImageConfigFile } from './ops/image-config';
import { layerListing, type FsEntry } from '../layers/listing';
import { contextMountInputs, materializeContextMount } from './ops/context-mount';
import {
  commitRunLayer,
  toTarEntry,
  writeFilesLayer,
  writeLayer,
  type Compression,
} from './ops/layer-writer';
import { filesLayerForm } from './layer-use';
import { StageFs } from './stage-fs';
import { argInputs, changesFilesystem, displayInstruction, opInputs } from './step-inputs';
import { stepKey } from '../cache/step-key';
import { RootfsViews } from './rootfs';
import { layerAvailable } from '../store/snapshot-layers';
import { recoverUnsyncedSnapshots } from '../layers/snapshot-durability';
import { compressedLayer } from '../image/export-layers';
import { workdirEntries } from './ops/workdir';
import { resolveOwner } from './ops/owner';
import { CacheImports, type ImportStats } from '../cache/transfer/build-imports';
import { collectCacheConfig, type BuildCacheView } from '../cache/transfer/build-export';

/** An image the build can start from (from the local store). */
export interface ResolvedImage {
  manifestDigest: Digest;
  config: ImageConfigFile;
  layers: LayerRecord[];
  /**
   * Where the layers this store lacks are (a base left in its registry by a build that may not need it): fetched
   * from there only when a step or an output needs them, as layers of an imported cache are.
   */
  layerSource?: CacheBlobSource;
}

export interface BuildOptions {
  root: string;
  contextDir: string;
  /** Absolute path of the Dockerfile. */
  dockerfilePath: string;
  /** The Dockerfile as named in messages. */
  dockerfileName: string;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  noCache: boolean;
  labels: ReadonlyMap<string, string>;
  compression: Compression;
  /** SOURCE_DATE_EPOCH in seconds. */
  sourceDateEpoch?: number;
  platform?: Platform;
  events: EventSink;
  resolveImage: (normalizedRef: string, platform: Platform) => Promise<ResolvedImage | undefined>;
  /** `--secret` values by id; never written to a layer, a key or the log. */
  secrets?: ReadonlyMap<string, Buffer>;
  /** `--network` for RUN: default (its own namespace, outbound access), none, or host (needs `allowHostNetwork`). */
  network?: 'default' | 'host' | 'none';
  /** `--allow network.host`: RUN may use the host's network. */
  allowHostNetwork?: boolean;
  /** `--isolation` for RUN (default auto: an OCI runtime, runc or crun; chroot is refused). */
  isolation?: Isolation;
  /** This build's in-use marker: what it reads and writes is kept from a concurrent prune. */
  inUse?: InUseMarker;
  /** `--cache-from` caches, read: their records hit like local ones, their blobs are fetched when needed. */
  cacheFrom?: readonly LoadedCache[];
  /** `--cache-to type=inline`: the final image's step records go into its manifest. */
  inlineCache?: boolean;
  /**
   * The outputs can take layers straight from the registry an imported cache is in (a `--push` and nothing else):
   * the final image's layers that stayed in that cache are then not fetched just to write the image.
   */
  layersMayStayRemote?: boolean;
  /** `--context-modes` (default normalize: group/other write bits of context files cleared, whatever the umask). */
  contextModes?: 'normalize' | 'preserve';
}

export interface BuiltImage {
  config: ImageConfigFile;
  configDigest: Digest;
  configSize: number;
  manifestDigest: Digest;
  manifestSize: number;
  manifest: ImageManifest;
  layers: LayerRecord[];
  steps: number;
  hits: number;
  durationMs: number;
  /** What `--cache-to` exports from this build. */
  cache: BuildCacheView;
  /** What the `--cache-from` caches gave. */
  imported: ImportStats;
}

interface StageResult {
  key: string;
  config: ImageConfigFile;
  layers: LayerRecord[];
  fs: () => Promise<StageFs>;
}

export async function build(opts: BuildOptions): Promise<BuiltImage> {
  if ((opts.cacheFrom ?? []).length === 0) return new Build(opts).run();
  // An imported cache can fail to deliver a blob it offered (a CI cache restored in part, a registry cache
  // overwritten meanwhile). Its hits cannot be trusted then: build again without it rather than fail. What this
  // attempt built itself is in the local store by now, so the second one hits those steps.
  let live = true;
  const attempt = new Build({ ...opts, events: (e) => live && opts.events(e) });
  try {
    return await attempt.run();
  } catch (err) {
    const failure = attempt.importFailure();
    if (failure === undefined) throw err;
    live = false;
    await attempt.settled();
    opts.events({ type: 'restart', reason: `${failure}; building again without --cache-from` });
    return new Build({ ...opts, cacheFrom: [] }).run();
  }
}

class Build {
  private readonly blobs: BlobStore;
  /** Read-only root filesystems of stages and images (COPY --from, --chown=NAME), mounted once per build. */
  private readonly views: RootfsViews;
  private readonly index: KeyIndex;
  private readonly started = Date.now();
  private readonly created: string;
  private readonly results = new Map<number, Promise<StageResult>>();
  private readonly images = new Map<string, ResolvedImage>();
  private context: Promise<CopySourceFs> | undefined;
  private readonly historySteps: HistoryStep[] = [];
  private previous = new Map<string, StepInputs>();
  private steps = 0;
  private hits = 0;
  private lines: string[] = [];
  private dockerfileDirectives: readonly Directive[] = [];
  private readonly imports: CacheImports;
  private readonly cacheMountIds: string[] = [];
  private finalStages: number[] = [];
  private targetName = '';
  /** True when the final image's stages all hit with keys computed ahead: the other stages are not run. */
  private keyedAhead = false;
  /** Stage keys computed from the Dockerfile and context alone (undefined: some step needs the stage's files). */
  private readonly dryStages = new Map<number, Promise<DryStage | undefined>>();
  /** Work started ahead of need (unpacking a stage for a later COPY --from), awaited by `settled`. */
  private readonly background: Promise<unknown>[] = [];

  constructor(private readonly opts: BuildOptions) {
    this.blobs = new BlobStore(opts.root);
    this.views = new RootfsViews(opts.root, this.blobs);
    this.index = new KeyIndex(opts.root);
    this.imports = new CacheImports(opts.root, this.blobs, opts.cacheFrom ?? [], async (digests) => {
      await opts.inUse?.add(digests);
    });
    const epoch = opts.sourceDateEpoch;
    this.created = new Date(epoch !== undefined ? epoch * 1000 : this.started)
      .toISOString()
      .replace('.000Z', 'Z');
  }

  async run(): Promise<BuiltImage> {
    try {
      return await this.runBuild();
    } finally {
      await this.views.release();
    }
  }

  private async runBuild(): Promise<BuiltImage> {
    await this.blobs.init();
    // Temp files of builds that were killed long ago; a live build's are far younger than this.
    await this.blobs.cleanTemp().catch(() => 0);
    // Before any lookup trusts a snapshot: those an earlier boot left unsynced are checked first.
    await recoverUnsyncedSnapshots(this.opts.root);
    const plan = await this.plan();
    const targetName = plan.stages[plan.target].displayName;
    const history = await loadBuildHistory(this.opts.root, this.opts.dockerfilePath, targetName);
    // A fresh machine (CI) has no build of its own: explain misses against the build that exported the cache.
    const previousSteps = history?.steps ?? this.imports.history(targetName) ?? [];
    for (const s of previousSteps) this.previous.set(s.position, s.inputs);
    this.targetName = targetName;

    const skipped = skippedChecks(this.dockerfileDirectives);
    for (const w of buildChecks(plan)) {
      if (skipped.has(w.rule) || skipped.has('all')) continue;
      this.opts.events({
        type: 'warning',
        message: `${this.opts.dockerfileName}:${w.line}: ${w.rule}: ${w.message}`,
      });
    }
    for (const warning of plan.unusedBuildArgs) {
      this.opts.events({
        type: 'warning',
        message: `build arg ${warning} was given but not used by any ARG`,
      });
    }
    this.keyedAhead = await this.targetHitsAlone(plan);
    let target: StageResult;
    if (this.keyedAhead) {
      // Every step of the final image's stages has a record: build only those; the stages they copy from are
      // keyed from the Dockerfile and the context alone and never run (what BuildKit does with a cache that
      // holds only the final image's steps). Their steps still go into the history and a mode=max export.
      target = await this.stage(plan, plan.target);
      for (const i of plan.needed) {
        if (this.results.has(i)) continue;
        const dry = await this.dryStage(plan, i);
        for (const s of dry?.steps ?? []) this.historySteps.push({ ...(s as HistoryStep), cache: 'skipped' });
        // Their cache mounts too: a `cache-mounts=true` export passes on the imported archives of the ones unused.
        for (const step of plan.stages[i].steps) {
          if (step.kind !== 'run') continue;
          for (const m of step.mounts) if (m.type === 'cache') this.cacheMountIds.push(m.id);
        }
      }
    } else {
      // Start every needed stage; each waits for the stages it reads, so independent stages overlap.
      for (const i of plan.needed) this.stage(plan, i);
      target = await this.stage(plan, plan.target);
      await Promise.all(plan.needed.map((i) => this.stage(plan, i)));
    }

    this.finalStages = finalStageChain(plan);
    const image = await this.writeImage(target);
    await this.keepImportedRecords();
    await saveBuildHistory(this.opts.root, {
      version: 1,
      dockerfile: this.opts.dockerfilePath,
      target: targetName,
      steps: this.historySteps,
    });
    this.opts.events({
      type: 'build-done',
      steps: this.steps,
      hits: this.hits,
      misses: this.steps - this.hits,
      durationMs: image.durationMs,
      imageId: image.configDigest,
    });
    return image;
  }

  /** Parse and plan; plan again once the base images' configs are known (their ENV, WORKDIR, ONBUILD …). */
  private async plan(): Promise<BuildPlan> {
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(this.opts.dockerfilePath);
    } catch (err) {
      const why = isErrno(err, 'EISDIR')
        ? 'it is a directory'
        : isErrno(err, 'EACCES')
          ? 'permission denied'
          : 'no such file';
      throw new UserError(`failed to read Dockerfile: ${this.opts.dockerfileName}: ${why}`);
    }
    this.lines = bytes.toString('utf8').split(/\r?\n/);
    const df = parseDockerfile(bytes, { fileName: this.opts.dockerfileName });
    this.dockerfileDirectives = df.directives;
    const base = {
      fileName: this.opts.dockerfileName,
      buildArgs: this.opts.buildArgs,
      target: this.opts.target,
      platform: this.opts.platform,
      lines: this.lines,
    };
    const first = planBuild(df, base);
    const wanted = first.stages.filter((s) => s.needed && s.base.kind === 'image');
    if (wanted.length === 0) return first;
    for (const s of wanted) {
      if (s.base.kind !== 'image') continue;
      let image: ResolvedImage | undefined;
      try {
        image = await this.opts.resolveImage(s.base.normalized, s.platform);
      } catch (err) {
        if (!(err instanceof TsbuildError)) throw err;
        // A registry failure is about this FROM line: say so, with the registry's own one-line reason.
        throw new BuildError(`FROM ${s.baseName}: ${err.message}`, this.location(s.line, s.endLine));
      }
      if (!image) {
        throw new BuildError(
          `FROM ${s.baseName}: no image for ${s.platform.os}/${s.platform.architecture} (${s.base.normalized})`,
          this.location(s.line, s.endLine),
        );
      }
      this.images.set(s.base.normalized, image);
      if (image.layerSource) await this.imports.offerLayers(image.layers, image.layerSource);
      const mismatch = platformMismatch(image.config, s.platform);
      if (mismatch) {
        // BuildKit's InvalidBaseImagePlatform check: the build goes on (an emulator may run it), but says so.
        this.opts.events({
          type: 'warning',
          message: `${this.opts.dockerfileName}:${s.line}: base image ${s.baseName} was pulled with platform "${mismatch.actual}", expected "${mismatch.expected}" for current build`,
        });
      }
      await this.opts.inUse?.add([
        image.manifestDigest,
        ...image.layers.flatMap((l) => [l.digest, l.diffId]),
      ]);
    }
    return planBuild(df, {
      ...base,
      baseImage: (ref: string): BaseImageConfig | undefined => {
        const c = this.images.get(ref)?.config.config;
        if (!c) return undefined;
        return {
          env: c.Env,
          workingDir: c.WorkingDir,
          user: c.User,
          shell: c.Shell,
          onBuild: c.OnBuild ?? undefined,
        };
      },
    });
  }

  /** Why an imported cache failed to deliver a blob during this build, if it did. */
  importFailure(): string | undefined {
    return this.imports.failure;
  }

  /** Resolves once every stage this build started has finished or failed (nothing of it still runs). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.results.values(), ...this.background]);
  }

  private location(
    line: number,
    endLine: number,
  ): { file: string; line: number; endLine: number; text: string } {
    return {
      file: this.opts.dockerfileName,
      line,
      endLine,
      text: this.lines.slice(line - 1, endLine).join('\n'),
    };
  }

  private stage(plan: BuildPlan, index: number): Promise<StageResult> {
    let result = this.results.get(index);
    if (!result) {
      result = this.runStage(plan, plan.stages[index]);
      // Failures surface through the awaiting caller; avoid an unhandled rejection for stages awaited later.
      result.catch(() => undefined);
      this.results.set(index, result);
    }
    return result;
  }

  private async runStage(plan: BuildPlan, stage: Stage): Promise<StageResult> {
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
    this.opts.events({ type: 'step-start', step: fromRef });
    let state: StageResult;
    if (stage.base.kind === 'stage') {
      const parent = await this.stage(plan, stage.base.index);
      state = { ...parent, config: inheritConfig(parent.config), layers: [...parent.layers] };
    } else if (stage.base.kind === 'image') {
      const image = this.images.get(stage.base.normalized) as ResolvedImage;
      const layers = [...image.layers];
      state = {
        key: image.manifestDigest,
        config: inheritConfig(image.config),
        layers,
        fs: lazy(async () => {
          let fs = StageFs.empty();
          for (const l of layers) fs = fs.withLayer(await this.listing(l));
          return fs;
        }),
      };
    } else {
      state = {
        key: scratchKey(stage),
        config: scratchConfig(stage.platform),
        layers: [],
        fs: async () => StageFs.empty(),
      };
    }
    // Start the stages this one reads now, so they overlap with its first steps (not when keyed ahead: then its
    // steps all hit and those stages need not run at all).
    if (!this.keyedAhead) await Promise.all(stage.dependsOn.map((d) => this.stage(plan, d)));
    const baseLabel =
      stage.base.kind === 'stage'
        ? `stage ${plan.stages[stage.base.index].displayName}`
        : stage.base.kind === 'image'
          ? `base image ${stage.baseName}`
          : 'scratch';
    // FROM is a step too, keyed by the base alone: it hits when an earlier build already stood on this base.
    const fromPosition = `${stage.index}/1`;
    const fromInputs: StepInputs = { parent: state.key, op: { instruction: 'FROM', kind: 'from' } };
    const fromKey = stepKey(fromInputs);
    const fromRecord = await this.lookup(fromKey);
    const previousFrom = this.previous.get(fromPosition);
    const fromReason = fromRecord
      ? undefined
      : explainMiss({
          current: fromInputs,
          previous: previousFrom && { inputs: previousFrom },
          parentMissed: false,
          isFirstStep: true,
          noCache: this.opts.noCache,
          baseLabel,
        });
    this.historySteps.push({
      position: fromPosition,
      key: fromKey,
      inputs: fromInputs,
      cache: fromRecord ? 'hit' : 'miss',
      ...(fromReason !== undefined ? { reason: fromReason } : {}),
    });
    if (!fromRecord) {
      const now = new Date().toISOString();
      await this.index.put({
        version: 1,
        key: fromKey,
        description: fromRef.instruction,
        layer: null,
        inputs: fromInputs,
        durationMs: 0,
        createdAt: now,
        lastUsedAt: now,
      });
    }
    this.report(fromRef, fromRecord ? 'hit' : 'miss', fromReason, 0, null);

    let cmdSet = false;
    let parentMissed = false;
    for (let i = 0; i < stage.steps.length; i++) {
      const step = stage.steps[i];
      const stepRef = ref(i + 2, step.line, displayInstruction(step));
      this.opts.events({ type: 'step-start', step: stepRef });
      const t0 = performance.now();
      const position = `${stage.index}/${i + 2}`;

      const inputs: StepInputs = { parent: state.key, op: opInputs(step) };
      const args = argInputs(step);
      if (args) inputs.args = args;
      let files: FileInput[] | undefined;
      let entries: CopyEntry[] | undefined;
      let temporary: string[] = [];
      const copyStep = step.kind === 'copy' || step.kind === 'add' ? step : undefined;
      const stageState = state;
      const planCopyStep = async (copy: Extract<Step, { kind: 'copy' | 'add' }>): Promise<FileInput[]> => {
        const source = await this.copySource(plan, copy);
        if (copy.chown && !NUMERIC_OWNER.test(copy.chown)) await this.imports.ensureLayers(stageState.layers);
        const owner = copy.chown ? await resolveOwner(copy.chown, stageState, this.views) : undefined;
        const planned = await planCopy(copy, source, await stageState.fs(), this.copyOptions(copy, owner));
        entries = planned.entries;
        temporary = planned.temporary;
        return planned.inputs;
      };
      if (copyStep?.from) {
        // The source's key stands for its content: a hit needs neither the source stage's files nor a plan.
        const from = copyStep.from;
        inputs.op.fromKey = await this.locate(this.location(step.line, step.endLine), () =>
          this.sourceKey(plan, from, 'COPY --from'),
        );
      } else if (copyStep) {
        files = await planCopyStep(copyStep);
        inputs.filesDigest = await this.putListing(files);
      } else if (step.kind === 'run') {
        // What the bind mounts show is an input too: the context files they show, the stages they come from.
        const mountFiles = await this.bindMountInputs(step, inputs, (from) =>
          this.sourceKey(plan, from, 'RUN --mount from'),
        );
        if (mountFiles) {
          files = mountFiles;
          inputs.filesDigest = await this.putListing(files);
        }
      } else if (step.kind === 'workdir') {
        const owner = step.context.user
          ? await resolveOwner(step.context.user, state, this.views)
          : undefined;
        const fs = await state.fs();
        entries = await this.locate(this.location(step.line, step.endLine), async () =>
          workdirEntries(
            step.resolved,
            fs,
            owner,
            this.opts.sourceDateEpoch ?? Math.floor(this.started / 1000),
          ),
        );
      }

      const key = stepKey(inputs);
      if (inputs.filesDigest) await this.opts.inUse?.add([inputs.filesDigest]);
      if (step.kind === 'run') {
        for (const m of step.mounts) if (m.type === 'cache') this.cacheMountIds.push(m.id);
      }
      const record = await this.lookup(key);
      let layer: LayerRecord | null;
      let reason: string | undefined;
      let createdAt: string;
      if (record) {
        layer = record.layer;
        createdAt = record.createdAt;
      } else {
        if (copyStep?.from) await planCopyStep(copyStep);
        layer =
          step.kind === 'run'
            ? await this.runCommand(plan, step, state.layers, stepRef)
            : entries && (entries.length > 0 || (step.kind === 'workdir' && step.resolved !== '/'))
              ? await writeFilesLayer(
                  this.opts.root,
                  this.blobs,
                  entries.map(toTarEntry),
                  filesLayerForm(plan, stage.index, i),
                  this.opts.sourceDateEpoch,
                )
              : null;
        if (layer) await this.opts.inUse?.add([key, layer.digest, layer.diffId]);
        const now = new Date().toISOString();
        createdAt = now;
        await this.index.put({
          version: 1,
          key,
          description: stepRef.instruction,
          layer,
          inputs,
          durationMs: Math.round(performance.now() - t0),
          createdAt: now,
          lastUsedAt: now,
        });
        const previous = this.previous.get(position);
        reason = explainMiss({
          current: inputs,
          currentFiles: files,
          previous: previous && { inputs: previous, files: await this.previousFiles(previous) },
          parentMissed,
          isFirstStep: i === 0,
          noCache: this.opts.noCache,
          baseLabel,
        });
      }
      await Promise.all(temporary.map((t) => fsp.rm(t, { recursive: true, force: true })));
      // The next step stands on the filesystem: only a step that changes it can make the next one miss.
      if (changesFilesystem(step)) parentMissed = !record;
      // A step's history time is when it was first built, so a fully cached rebuild gives the very same image.
      const created = this.opts.sourceDateEpoch !== undefined ? this.created : createdAt;
      applyStep(state.config, step, layer !== null, created, cmdSet);
      if (step.kind === 'cmd') cmdSet = true;
      if (layer) {
        const fsBefore = state.fs;
        const added: FsEntry[] | undefined = entries?.map((e) => ({
          path: e.path,
          type: e.type,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          linkTarget: e.linkTarget,
        }));
        const stored = layer;
        // A RUN's change is only known from its layer: read its listing (once, cached) when the view is needed.
        const addedEntries = async (): Promise<FsEntry[]> => added ?? this.listing(stored);
        state = {
          ...state,
          layers: [...state.layers, layer],
          fs: lazy(async () => (await fsBefore()).withLayer(await addedEntries())),
        };
        state.config.rootfs.diff_ids.push(layer.diffId);
      }
      if (changesFilesystem(step)) state.key = key;
      this.historySteps.push({
        position,
        key,
        inputs,
        cache: record ? 'hit' : 'miss',
        ...(reason !== undefined ? { reason } : {}),
      });
      this.report(stepRef, record ? 'hit' : 'miss', reason, performance.now() - t0, layer);
    }
    if (parentMissed && copiedFromStages(plan).has(stage.index)) {
      // A stage that missed has a new key, so every COPY --from it misses too and will need its files: unpack them
      // now, while other stages still run, rather than when the first such COPY gets its turn.
      const source = state;
      this.background.push(
        this.imports
          .ensureLayers(source.layers)
          .then(() => this.views.directory(source.layers))
          .catch(() => undefined), // the COPY that needs it awaits the same unpacking and reports its error
      );
    }
    return state;
  }

  /**
   * Whether every step of the final image's stages has a usable record when keyed ahead (without running any
   * stage): then the stages they copy from need not run.
   */
  private async targetHitsAlone(plan: BuildPlan): Promise<boolean> {
    if (this.opts.noCache) return false;
    const chain = finalStageChain(plan);
    // Only worth asking when some needed stage is outside the chain (a builder to skip).
    if (plan.needed.every((i) => chain.includes(i))) return false;
    for (const i of chain) {
      const dry = await this.dryStage(plan, i);
      if (!dry) return false;
      // FROM steps are metadata records (rewritten when missing); every other step must hit.
      for (const s of dry.steps.slice(1)) if (!(await this.hasRecord(s.key))) return false;
    }
    return true;
  }

  /** A usable record exists for `key` (as `lookup` would find), asked without touching or using it. */
  private async hasRecord(key: Digest): Promise<boolean> {
    const local = await this.index.get(key);
    if (local && (await this.layerPresent(local))) return true;
    return (await this.imports.peek(key)) !== undefined;
  }

  /** A stage's step keys computed from the Dockerfile and the context alone, once per build. */
  private dryStage(plan: BuildPlan, index: number): Promise<DryStage | undefined> {
    let dry = this.dryStages.get(index);
    if (!dry) {
      dry = this.computeDryStage(plan, plan.stages[index]).catch(() => undefined);
      this.dryStages.set(index, dry);
    }
    return dry;
  }

  /**
   * The keys `runStage` will give a stage's steps, without running any: the same inputs, with the stages it reads
   * keyed the same way. Undefined when a step's key needs the stage's files (`--chown` by name) or more than the
   * context (ADD), or when keying fails (the real build then reports the error).
   */
  private async computeDryStage(plan: BuildPlan, stage: Stage): Promise<DryStage | undefined> {
    let key: string;
    if (stage.base.kind === 'stage') {
      const parent = await this.dryStage(plan, stage.base.index);
      if (!parent) return undefined;
      key = parent.key;
    } else if (stage.base.kind === 'image') {
      const image = this.images.get(stage.base.normalized);
      if (!image) return undefined;
      key = image.manifestDigest;
    } else {
      key = scratchKey(stage);
    }
    const fromInputs: StepInputs = { parent: key, op: { instruction: 'FROM', kind: 'from' } };
    const steps: DryStep[] = [{ position: `${stage.index}/1`, key: stepKey(fromInputs), inputs: fromInputs }];
    const sourceKey = async (from: StageRef): Promise<string> => {
      if (from.kind !== 'stage') return this.sourceKey(plan, from, 'COPY --from');
      const dry = await this.dryStage(plan, from.index);
      if (!dry) throw new DryKeyUnavailable();
      return dry.key;
    };
    for (let i = 0; i < stage.steps.length; i++) {
      const step = stage.steps[i];
      const inputs: StepInputs = { parent: key, op: opInputs(step) };
      const args = argInputs(step);
      if (args) inputs.args = args;
      if (step.kind === 'add') return undefined;
      if (step.kind === 'copy') {
        if (step.from) {
          inputs.op.fromKey = await sourceKey(step.from);
        } else {
          if (step.chown && !NUMERIC_OWNER.test(step.chown)) return undefined;
          const owner = step.chown ? await resolveOwner(step.chown, { layers: [] }, this.views) : undefined;
          // A COPY's inputs are its source files; the stage's files only shape the layer, so an empty one will do.
          const planned = await planCopy(
            step,
            await this.contextSource(),
            StageFs.empty(),
            this.copyOptions(step, owner),
          );
          await Promise.all(planned.temporary.map((t) => fsp.rm(t, { recursive: true, force: true })));
          inputs.filesDigest = await this.putListing(planned.inputs);
        }
      } else if (step.kind === 'run') {
        const files = await this.bindMountInputs(step, inputs, sourceKey);
        if (files) inputs.filesDigest = await this.putListing(files);
      }
      const stepDigest = stepKey(inputs);
      steps.push({ position: `${stage.index}/${i + 2}`, key: stepDigest, inputs });
      if (changesFilesystem(step)) key = stepDigest;
    }
    return { key, steps };
  }

  /** How this build plans a COPY/ADD (the same when keying ahead as when building). */
  private copyOptions(step: Step, owner: { uid: number; gid: number } | undefined): CopyPlanOptions {
    return {
      owner,
      dirTime: Math.floor(this.started / 1000),
      epoch: this.opts.sourceDateEpoch,
      tmpDir: path.join(this.opts.root, 'tmp'),
      location: this.location(step.line, step.endLine),
    };
  }

  /** Stores a step's file listing (the blob a later miss is explained against); returns its digest. */
  private async putListing(files: FileInput[]): Promise<Digest> {
    const listing = canonicalJson(files);
    const digest = sha256Digest(listing);
    // Hashed once already: the store skips the write (and fsync) when it has this listing from a past build.
    await this.blobs.put(listing, { expectedDigest: digest });
    return digest;
  }

  /**
   * The key inputs of a RUN's bind mounts, as BuildKit keys a mount by what it shows: a `from=` mount adds the
   * source's key to `inputs.op.mountSources` (by target); context mounts return the rows of the files they show
   * (undefined when there are none).
   */
  private async bindMountInputs(
    step: RunStep,
    inputs: StepInputs,
    sourceKey: (from: StageRef) => Promise<string>,
  ): Promise<FileInput[] | undefined> {
    let files: FileInput[] | undefined;
    const sources: Record<string, string> = {};
    for (const m of step.mounts) {
      if (m.type !== 'bind') continue;
      if (m.from !== undefined) {
        const from = m.from;
        sources[m.target] = await this.locate(this.location(step.line, step.endLine), () => sourceKey(from));
      } else {
        const context = await this.contextSource();
        const rows = await this.locate(this.location(step.line, step.endLine), async () =>
          contextMountInputs(context, m.source),
        );
        (files ??= []).push(...rows);
      }
    }
    if (Object.keys(sources).length > 0) inputs.op.mountSources = sources;
    return files;
  }

  /** Runs a RUN that missed: sandboxed on an overlay of the stage's layers; its change becomes the layer. */
  private async runCommand(
    plan: BuildPlan,
    step: RunStep,
    layers: readonly LayerRecord[],
    ref: StepRef,
  ): Promise<LayerRecord | null> {
    await this.imports.ensureLayers(layers);
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    const location = this.location(step.line, step.endLine);
    const { result } = await this.locate(location, () =>
      runStep(
        {
          root: this.opts.root,
          blobs: this.blobs,
          layers,
          step,
          contextMount: async (source, dest) =>
            materializeContextMount(await this.contextSource(), source, dest),
          sourceDir: async (from) => (await this.sourceRootfs(plan, from, 'RUN --mount from')).root,
          secrets: this.opts.secrets,
          restoreCacheMount: (id) => this.cacheMountRestore(id),
          network: this.opts.network,
          allowHostNetwork: this.opts.allowHostNetwork,
          isolation: this.opts.isolation,
          // A decoder per stream, so a UTF-8 character split across two chunks comes out whole.
          onOutput: (chunk, stream) =>
            this.opts.events({ type: 'step-output', step: ref, text: decoders[stream].write(chunk) }),
          onWarning: (message) => this.opts.events({ type: 'warning', message }),
          location,
        },
        async (entries, upperDir) =>
          entries.length === 0
            ? null
            : upperDir !== undefined
              ? commitRunLayer(this.opts.root, upperDir, entries, this.opts.sourceDateEpoch)
              : writeLayer(
                  this.opts.root,
                  this.blobs,
                  entries,
                  this.opts.compression,
                  this.opts.sourceDateEpoch,
                ),
      ),
    );
    return result;
  }

  /** Fills a RUN cache mount created for the first time from an imported one (fetched only then). */
  private cacheMountRestore(id: string): ((emptyDir: string) => Promise<void>) | undefined {
    const imported = this.imports.cacheMount(id);
    if (!imported) return undefined;
    return async (emptyDir) => {
      await imported.fetch();
      await restoreCacheMount(this.opts.root, this.blobs, imported.archive, emptyDir);
    };
  }

  /** Errors raised without a Dockerfile location (a sandbox failure, say) get the step's. */
  private async locate<T>(location: SourceLocation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TsbuildError && !err.location) throw new BuildError(err.message, location);
      throw err;
    }
  }

  /** What a `COPY --from` source is, for the key: a stage's result key, an image's manifest digest. */
  private async sourceKey(plan: BuildPlan, from: StageRef, flag: string): Promise<string> {
    if (from.kind === 'stage') {
      const dry = this.keyedAhead ? await this.dryStage(plan, from.index) : undefined;
      return dry?.key ?? (await this.stage(plan, from.index)).key;
    }
    if (from.kind === 'image') {
      const image = await this.sourceImage(plan, from, flag);
      return image?.manifestDigest ?? `missing:${from.normalized}`;
    }
    return 'scratch';
  }

  /** An image named by `COPY --from` / `RUN --mount from=`, resolved once per build (as FROM images are). */
  private async sourceImage(
    plan: BuildPlan,
    from: Extract<StageRef, { kind: 'image' }>,
    flag: string,
  ): Promise<ResolvedImage | undefined> {
    let image = this.images.get(from.normalized);
    if (!image) {
      try {
        image = await this.opts.resolveImage(from.normalized, plan.targetPlatform);
      } catch (err) {
        if (!(err instanceof TsbuildError)) throw err;
        // As for FROM: the registry's one-line reason, said about this flag (the caller adds the line).
        throw new BuildError(`${flag}=${from.ref}: ${err.message}`);
      }
      if (image) this.images.set(from.normalized, image);
      if (image?.layerSource) await this.imports.offerLayers(image.layers, image.layerSource);
    }
    return image;
  }

  /**
   * The root filesystem on disk of what `COPY --from` or `RUN --mount from=` (`flag`, for messages) names; as a copy
   * source, listing only what the paths of `scope` reach when given.
   */
  private async sourceRootfs(
    plan: BuildPlan,
    from: StageRef,
    flag: string,
    scope?: readonly string[],
  ): Promise<CopySourceFs> {
    if (from.kind === 'stage') {
      const source = await this.stage(plan, from.index);
      await this.imports.ensureLayers(source.layers);
      return this.views.source(source.layers, `stage ${plan.stages[from.index].displayName}`, scope);
    }
    if (from.kind === 'image') {
      const image = await this.sourceImage(plan, from, flag);
      if (!image) throw new BuildError(`${flag}=${from.ref}: image not found`);
      await this.imports.ensureLayers(image.layers);
      return this.views.source(image.layers, `image ${from.ref}`, scope);
    }
    return this.views.source([], 'scratch', scope);
  }

  /**
   * A usable record for `key`: a local one whose layer is still here, else one from a `--cache-from` cache (its layer
   * is fetched later, and only if something needs it).
   */
  private async lookup(key: Digest): Promise<CacheRecord | undefined> {
    if (this.opts.noCache) return undefined;
    const local = await this.index.get(key);
    if (local?.layer) {
      // Protect what the hit uses from a concurrent prune before checking it is still there.
      await this.opts.inUse?.add([key, local.layer.digest, local.layer.diffId]);
    }
    if (local && (await this.layerPresent(local))) {
      await this.index.touch(local);
      return local;
    }
    const imported = await this.imports.hit(key);
    if (!imported) return undefined;
    if (imported.layer) await this.opts.inUse?.add([key, imported.layer.digest, imported.layer.diffId]);
    return toLocalRecord(imported);
  }

  /** A local record is usable when it made no layer or its layer is still in the store (blob or snapshot). */
  private async layerPresent(record: CacheRecord): Promise<boolean> {
    return !record.layer || layerAvailable(this.opts.root, this.blobs, record.layer);
  }

  /** Imported records this build hit become local ones once their layer is here (else they stay remote). */
  private async keepImportedRecords(): Promise<void> {
    for (const r of this.imports.usedRecords()) {
      if (r.layer && !(await this.blobs.has(r.layer.digest))) continue;
      const local = await this.index.get(r.key);
      if (local && (await this.layerPresent(local))) continue;
      await this.index.put(toLocalRecord(r));
    }
  }

  /** What a layer holds: from its cached or imported listing, else read from the (fetched) layer. */
  private async listing(layer: LayerRecord): Promise<FsEntry[]> {
    if (!(await this.imports.provideListing(layer))) await this.imports.ensureBlob(layer.digest);
    return layerListing(this.opts.root, this.blobs, layer.digest, layer.diffId);
  }

  private report(
    step: StepRef,
    cache: 'hit' | 'miss',
    reason: string | undefined,
    ms: number,
    layer: LayerRecord | null,
  ): void {
    this.steps++;
    if (cache === 'hit') this.hits++;
    this.opts.events({
      type: 'step-done',
      step,
      cache,
      ...(reason !== undefined ? { reason } : {}),
      durationMs: ms,
      layer: layer && { digest: layer.digest, diffId: layer.diffId, size: layer.size },
    });
  }

  private async previousFiles(previous: StepInputs): Promise<FileInput[] | undefined> {
    if (!previous.filesDigest) return undefined;
    try {
      await this.imports.ensureBlob(previous.filesDigest as Digest);
      return JSON.parse(
        (await this.blobs.readAll(previous.filesDigest as Digest)).toString('utf8'),
      ) as FileInput[];
    } catch {
      return undefined;
    }
  }

  private async copySource(
    plan: BuildPlan,
    step: Extract<Step, { kind: 'copy' | 'add' }>,
  ): Promise<CopySourceFs> {
    if (!step.from) return this.contextSource();
    const from = step.from;
    // Only what the step's paths reach is listed: a stage's root filesystem has thousands of files.
    const scope = step.sources.flatMap((s) => (s.kind === 'path' ? [s.path] : []));
    return this.locate(this.location(step.line, step.endLine), () =>
      this.sourceRootfs(plan, from, 'COPY --from', scope),
    );
  }

  private contextSource(): Promise<CopySourceFs> {
    this.context ??= (async () => {
      const ignore = await loadIgnorePatterns(this.opts.contextDir, this.opts.dockerfilePath);
      const matcher = matcherFromIgnoreFile(ignore);
      const entries = await contextEntries(this.opts.contextDir, {
        matcher,
        cacheDir: path.join(this.opts.root, 'context-digests'),
      });
      const modes = this.opts.contextModes ?? 'normalize';
      const source = sourceFromEntries(path.resolve(this.opts.contextDir), entries, true, 'build context', {
        modes,
      });
      this.opts.events({ type: 'context-modes', policy: modes, normalized: source.normalizedModes });
      return source;
    })();
    return this.context;
  }

  private async writeImage(target: StageResult): Promise<BuiltImage> {
    if (!this.opts.layersMayStayRemote) await this.imports.ensureLayers(target.layers);
    const cache: BuildCacheView = {
      steps: this.historySteps.map((s) => ({
        key: s.key as Digest,
        stage: Number(s.position.split('/')[0]),
      })),
      finalStages: this.finalStages,
      cacheMountIds: this.cacheMountIds,
      imports: this.imports,
      history: {
        target: this.targetName,
        steps: this.historySteps.map((s) => ({
          position: s.position,
          key: s.key as Digest,
          inputs: s.inputs,
        })),
      },
    };
    const config = target.config;
    const times = (config.history ?? []).map((h) => h.created ?? '').filter((t) => t !== '');
    config.created =
      this.opts.sourceDateEpoch !== undefined || times.length === 0
        ? this.created
        : times.sort()[times.length - 1];
    if (this.opts.labels.size > 0) {
      config.config.Labels = { ...(config.config.Labels ?? {}), ...Object.fromEntries(this.opts.labels) };
    }
    // An inline cache names the pushed image's layers, so they are compressed now; otherwise a layer kept as its
    // snapshot stays so, and is compressed only if an output needs it.
    const layers = this.opts.inlineCache
      ? await Promise.all(
          target.layers.map((l) => compressedLayer(this.opts.root, this.blobs, l, this.opts.compression)),
        )
      : target.layers;
    const annotations = this.opts.inlineCache
      ? await this.inlineCacheAnnotations(cache, new Set(layers.map((l) => l.digest)))
      : undefined;
    const assembled = await assembleImage(
      this.blobs,
      config,
      layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      {
        ...(annotations ? { annotations } : {}),
        ...(this.opts.layersMayStayRemote ? { heldElsewhere: (d: Digest) => this.imports.offers(d) } : {}),
      },
    );
    const manifest = parseManifest(await this.blobs.readAll(assembled.manifest.digest));
    return {
      config,
      configDigest: assembled.config.digest,
      configSize: assembled.config.size,
      manifestDigest: assembled.manifest.digest,
      manifestSize: assembled.manifest.size,
      manifest,
      layers,
      steps: this.steps,
      hits: this.hits,
      durationMs: Date.now() - this.started,
      cache,
      imported: this.imports.stats(),
    };
  }

  /** `--cache-to type=inline`: the final image's step records, whose layers are all in the image itself. */
  private async inlineCacheAnnotations(
    cache: BuildCacheView,
    imageLayers: ReadonlySet<Digest>,
  ): Promise<Record<string, string>> {
    const config = await collectCacheConfig(this.opts.root, this.blobs, this.index, cache, {
      mode: 'min',
      listings: false,
      history: false,
      compression: this.opts.compression,
    });
    config.records = config.records.filter((r) => !r.layer || imageLayers.has(r.layer.digest));
    return inlineCacheAnnotation(config);
  }
}

/** A step keyed ahead: its place (`stage/step`), key and key inputs, as `runStage` would record them. */
interface DryStep {
  position: string;
  key: Digest;
  inputs: StepInputs;
}

interface DryStage {
  /** The stage's result key (its last step's, or its base's when it has no steps). */
  key: string;
  steps: DryStep[];
}

/** A stage read by a step could not be keyed ahead. */
class DryKeyUnavailable extends Error {}

/** The stages some needed COPY/ADD --from reads (their files get unpacked). */
function copiedFromStages(plan: BuildPlan): Set<number> {
  const out = new Set<number>();
  for (const i of plan.needed) {
    for (const step of plan.stages[i].steps) {
      if ((step.kind === 'copy' || step.kind === 'add') && step.from?.kind === 'stage')
        out.add(step.from.index);
    }
  }
  return out;
}

/** A uid[:gid] `--chown` needs no lookup in the stage's files. */
const NUMERIC_OWNER = /^\d+(:\d+)?$/;

/** The target stage and the stages it is built FROM, in order: what the final image's layers come from. */
/** The image's platform and the stage's, as `os/arch[/variant]`, when they differ (a variant only if asked for). */
function platformMismatch(
  config: { os: string; architecture: string; variant?: string },
  wanted: Platform,
): { actual: string; expected: string } | undefined {
  const show = (p: { os: string; architecture: string; variant?: string }): string =>
    [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
  const same =
    config.os === wanted.os &&
    config.architecture === wanted.architecture &&
    (wanted.variant === undefined || config.variant === undefined || config.variant === wanted.variant);
  return same ? undefined : { actual: show(config), expected: show(wanted) };
}

/** What a stage `FROM scratch` stands on, for its keys: nothing but its platform. */
function scratchKey(stage: Stage): string {
  const p = stage.platform;
  return `scratch:${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
}

function finalStageChain(plan: BuildPlan): number[] {
  const chain: number[] = [];
  let stage: Stage | undefined = plan.stages[plan.target];
  while (stage) {
    chain.push(stage.index);
    stage = stage.base.kind === 'stage' ? plan.stages[stage.base.index] : undefined;
  }
  return chain;
}

function toLocalRecord(r: {
  key: Digest;
  description: string;
  layer: LayerRecord | null;
  inputs: CacheRecord['inputs'];
  durationMs: number;
  createdAt: string;
}): CacheRecord {
  return {
    version: 1,
    key: r.key,
    description: r.description,
    layer: r.layer,
    inputs: r.inputs,
    durationMs: r.durationMs,
    createdAt: r.createdAt,
    lastUsedAt: new Date().toISOString(),
  };
}

function lazy<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
