/**
 * Where a build's files come from: the build context (walked once, after `.dockerignore`, with the stat-keyed
 * digest cache) and the root filesystems that `COPY --from` and `RUN --mount from=` name — a stage of this build,
 * an image, or scratch — each seen through a read-only view of its layers, listing only what the step's paths reach.
 */
import * as path from 'node:path';
import { contextEntries, loadIgnorePatterns, matcherFromIgnoreFile, type IgnoreFile } from '../context';
import { BuildError } from '../errors';
import type { Step, StageRef } from '../planner/types';
import { sourceFromEntries, type CopySourceFs } from './ops/copy/source-fs';
import type { BuildContext } from './build-context';
import type { StageResult } from './types';

/** A scratch context's: no patterns at all. */
const NO_IGNORE_FILE: IgnoreFile = { file: null, patterns: [], lines: [] };

export class BuildSources {
  private context: Promise<CopySourceFs> | undefined;

  constructor(
    private readonly ctx: BuildContext,
    /** A stage of this build, built (or being built) by the solver. */
    private readonly stage: (index: number) => Promise<StageResult>,
  ) {}

  /** The build context as a copy source, walked once per build. */
  contextSource(): Promise<CopySourceFs> {
    this.context ??= (async () => {
      const { opts } = this.ctx;
      const ignore = opts.scratchContext
        ? NO_IGNORE_FILE
        : await loadIgnorePatterns(
            opts.contextDir,
            opts.dockerfileText === undefined ? opts.dockerfilePath : null,
          );
      const entries = await contextEntries(opts.contextDir, {
        matcher: matcherFromIgnoreFile(ignore),
        cacheDir: opts.scratchContext ? null : path.join(opts.root, 'context-digests'),
      });
      const modes = opts.contextModes ?? 'normalize';
      const source = sourceFromEntries(path.resolve(opts.contextDir), entries, true, 'build context', {
        modes,
      });
      opts.events({ type: 'context-modes', policy: modes, normalized: source.normalizedModes });
      return source;
    })();
    return this.context;
  }

  /** What a COPY/ADD copies from: the context, or the root filesystem its `--from` names. */
  async copySource(step: Extract<Step, { kind: 'copy' | 'add' }>): Promise<CopySourceFs> {
    if (!step.from) return this.contextSource();
    const from = step.from;
    // Only what the step's paths reach is listed: a stage's root filesystem has thousands of files.
    const scope = step.sources.flatMap((s) => (s.kind === 'path' ? [s.path] : []));
    const { dockerfile } = this.ctx;
    return dockerfile.locate(dockerfile.location(step.line, step.endLine), () =>
      this.rootfs(from, 'COPY --from', scope),
    );
  }

  /**
   * The root filesystem on disk of what `COPY --from` or `RUN --mount from=` (`flag`, for messages) names; as a copy
   * source, listing only what the paths of `scope` reach when given.
   */
  async rootfs(from: StageRef, flag: string, scope?: readonly string[]): Promise<CopySourceFs> {
    const { plan, images, imports, views } = this.ctx;
    if (from.kind === 'stage') {
      const source = await this.stage(from.index);
      await imports.ensureLayers(source.layers);
      return views.source(source.layers, `stage ${plan.stages[from.index].displayName}`, scope);
    }
    if (from.kind === 'image') {
      const image = await images.source(from, plan.targetPlatform, flag);
      if (!image) throw new BuildError(`${flag}=${from.ref}: image not found`);
      await imports.ensureLayers(image.layers);
      return views.source(image.layers, `image ${from.ref}`, scope);
    }
    return views.source([], 'scratch', scope);
  }
}
