/**
 * One build: Dockerfile → plan (twice, once the base images' configs are known) → the solver (stages, steps, cache)
 * → the target stage's image (config + manifest blobs) → the build's history. Events report every step with its
 * cache outcome and, for a miss, the reason. When the final image's stages hit throughout with the stages they read
 * keyed ahead (from the Dockerfile and context alone), those stages are not run at all.
 */
import { loadBuildHistory, saveBuildHistory } from '../cache/build-history';
import { saveImageBuild } from '../cache/image-builds';
import { KeyIndex } from '../cache/key-index';
import { CacheLookup } from '../cache/lookup';
import type { StepInputs } from '../cache/step-key';
import type { BuildCacheView } from '../cache/transfer/build-export';
import { CacheImports } from '../cache/transfer/build-imports';
import { recoverUnsyncedSnapshots } from '../layers/snapshot-durability';
import { advise, warningLine } from '../advice';
import { planWithBaseImages } from '../planner';
import type { BuildPlan } from '../planner/types';
import { BlobStore } from '../store/blob-store';
import { BaseImages } from './base-images';
import { finalStageChain, type BuildContext } from './build-context';
import { DockerfileText } from './dockerfile-text';
import { imageHistorySteps } from './image-steps';
import { writeBuiltImage } from './image-writer';
import { RootfsViews } from './rootfs';
import { Solver } from './solver';
import type { BuildOptions, BuiltImage, StageResult } from './types';

export type { BuildOptions, BuiltImage, ResolvedImage } from './types';

export async function build(opts: BuildOptions): Promise<BuiltImage> {
  if ((opts.cacheFrom ?? []).length === 0) return new BuildRun(opts).run();
  // An imported cache can fail to deliver a blob it offered (a CI cache restored in part, a registry cache
  // overwritten meanwhile). Its hits cannot be trusted then: build again without it rather than fail. What this
  // attempt built itself is in the local store by now, so the second one hits those steps.
  let live = true;
  // A warning is said once per build: the second attempt plans the same Dockerfile and would say it again.
  const warned = new Set<string>();
  const attempt = new BuildRun({
    ...opts,
    events: (e) => {
      if (!live) return;
      if (e.type === 'warning') warned.add(e.message);
      opts.events(e);
    },
  });
  try {
    return await attempt.run();
  } catch (err) {
    const failure = attempt.importFailure();
    if (failure === undefined) throw err;
    live = false;
    await attempt.settled();
    opts.events({ type: 'restart', reason: `${failure}; building again without --cache-from` });
    return new BuildRun({
      ...opts,
      cacheFrom: [],
      events: (e) => (e.type === 'warning' && warned.has(e.message) ? undefined : opts.events(e)),
    }).run();
  }
}

class BuildRun {
  private readonly blobs: BlobStore;
  /** Read-only root filesystems of stages and images (COPY --from, --chown=NAME), mounted once per build. */
  private readonly views: RootfsViews;
  private readonly imports: CacheImports;
  private readonly startedMs = Date.now();
  private solver: Solver | undefined;

  constructor(private readonly opts: BuildOptions) {
    this.blobs = new BlobStore(opts.root);
    this.views = new RootfsViews(opts.root, this.blobs);
    this.imports = new CacheImports(opts.root, this.blobs, opts.cacheFrom ?? [], async (digests) => {
      await opts.inUse?.add(digests);
    });
  }

  async run(): Promise<BuiltImage> {
    try {
      return await this.runBuild();
    } finally {
      await this.views.release();
    }
  }

  /** Why an imported cache failed to deliver a blob during this build, if it did. */
  importFailure(): string | undefined {
    return this.imports.failure;
  }

  /** Resolves once every stage this build started has finished or failed (nothing of it still runs). */
  async settled(): Promise<void> {
    await this.solver?.settled();
  }

  private async runBuild(): Promise<BuiltImage> {
    const { opts } = this;
    await this.blobs.init();
    // Temp files of builds that were killed long ago; a live build's are far younger than this.
    await this.blobs.cleanTemp().catch(() => 0);
    // Before any lookup trusts a snapshot: those an earlier boot left unsynced are checked first.
    await recoverUnsyncedSnapshots(opts.root);
    const dockerfile =
      opts.dockerfileText !== undefined
        ? DockerfileText.parse(opts.dockerfileText, opts.dockerfileName)
        : await DockerfileText.read(opts.dockerfilePath, opts.dockerfileName);
    const images = new BaseImages(opts, this.imports, dockerfile, opts.events);
    const plan = await planWithBaseImages(
      dockerfile.parsed,
      {
        fileName: opts.dockerfileName,
        buildArgs: opts.buildArgs,
        target: opts.target,
        platform: opts.platform,
        lines: dockerfile.lines,
      },
      (stage, ref) => images.resolveFrom(stage, ref),
    );
    const targetName = plan.stages[plan.target].displayName;
    const history = await loadBuildHistory(opts.root, opts.dockerfilePath, targetName);
    // A fresh machine (CI) has no build of its own: explain misses against the build that exported the cache.
    const previous = new Map<string, StepInputs>();
    for (const s of history?.steps ?? this.imports.history(targetName) ?? [])
      previous.set(s.position, s.inputs);
    const index = new KeyIndex(opts.root);
    const ctx: BuildContext = {
      opts,
      plan,
      blobs: this.blobs,
      index,
      lookup: new CacheLookup(opts.root, this.blobs, index, this.imports, opts),
      views: this.views,
      imports: this.imports,
      dockerfile,
      images,
      startedMs: this.startedMs,
      created: new Date(opts.sourceDateEpoch !== undefined ? opts.sourceDateEpoch * 1000 : this.startedMs)
        .toISOString()
        .replace('.000Z', 'Z'),
      previous,
    };
    await this.warn(plan, dockerfile);
    const solver = new Solver(ctx);
    this.solver = solver;
    const target = await this.solve(ctx, solver);

    const image = await writeBuiltImage(opts, this.blobs, index, this.imports, {
      target,
      cache: this.cacheView(ctx, solver, targetName),
      created: ctx.created,
      steps: solver.steps,
      hits: solver.hits,
      startedMs: this.startedMs,
    });
    await ctx.lookup.keepImportedRecords();
    await saveBuildHistory(opts.root, {
      version: 1,
      dockerfile: opts.dockerfilePath,
      target: targetName,
      steps: solver.history,
    });
    await saveImageBuild(opts.root, {
      version: 1,
      imageId: image.configDigest,
      dockerfile: opts.dockerfilePath,
      target: targetName,
      builtAt: new Date().toISOString(),
      history: imageHistorySteps(plan, solver.history, image.config),
    });
    opts.events({
      type: 'build-done',
      steps: solver.steps,
      hits: solver.hits,
      misses: solver.steps - solver.hits,
      durationMs: image.durationMs,
      imageId: image.configDigest,
    });
    return image;
  }

  /**
   * The Dockerfile's checks and advice (minus what `# check=skip` turns off; with `check=error=true` they fail the
   * build before any step runs, as BuildKit's do) and build args no ARG used.
   */
  private async warn(plan: BuildPlan, dockerfile: DockerfileText): Promise<void> {
    const { opts } = this;
    const advice = await advise({
      plan,
      dockerfile: dockerfile.bytes,
      fileName: opts.dockerfileName,
      buildArgs: opts.buildArgs,
      context: opts.scratchContext
        ? null
        : {
            dir: opts.contextDir,
            dockerfilePath: opts.dockerfileText === undefined ? opts.dockerfilePath : null,
          },
    });
    for (const finding of advice.findings) {
      opts.events({ type: 'warning', message: warningLine(opts.dockerfileName, finding) });
    }
    for (const warning of plan.unusedBuildArgs) {
      opts.events({
        type: 'warning',
        message: `build arg ${warning} was given but not used by any ARG`,
      });
    }
    if (advice.violation) throw advice.violation;
  }

  /** Every needed stage solved, or — when the final image's stages all hit keyed ahead — only those. */
  private async solve(ctx: BuildContext, solver: Solver): Promise<StageResult> {
    const { plan } = ctx;
    solver.keyedAhead = await solver.ahead.targetHitsAlone();
    if (!solver.keyedAhead) {
      // Start every needed stage; each waits for the stages it reads, so independent stages overlap.
      for (const i of plan.needed) void solver.stage(i);
      const target = await solver.stage(plan.target);
      await Promise.all(plan.needed.map((i) => solver.stage(i)));
      return target;
    }
    // Every step of the final image's stages has a record: build only those; the stages they copy from are keyed
    // from the Dockerfile and the context alone and never run (what BuildKit does with a cache that holds only the
    // final image's steps). Their steps still go into the history and a mode=max export.
    const target = await solver.stage(plan.target);
    for (const i of plan.needed) {
      if (solver.started(i)) continue;
      const dry = await solver.ahead.stage(i);
      for (const s of dry?.steps ?? []) solver.history.push({ ...s, cache: 'skipped' });
      // Their cache mounts too: a `cache-mounts=true` export passes on the imported archives of the ones unused.
      for (const step of plan.stages[i].steps) {
        if (step.kind !== 'run') continue;
        for (const m of step.mounts) if (m.type === 'cache') solver.cacheMountIds.push(m.id);
      }
    }
    return target;
  }

  /** What `--cache-to` exports from this build: its steps by stage, the final image's stages, the history. */
  private cacheView(ctx: BuildContext, solver: Solver, targetName: string): BuildCacheView {
    return {
      steps: solver.history.map((s) => ({ key: s.key, stage: Number(s.position.split('/')[0]) })),
      finalStages: finalStageChain(ctx.plan),
      cacheMountIds: solver.cacheMountIds,
      imports: this.imports,
      history: {
        target: targetName,
        steps: solver.history.map((s) => ({ position: s.position, key: s.key, inputs: s.inputs })),
      },
    };
  }
}
