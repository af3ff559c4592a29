/**
 * Where a build's files come from: the build context (walked once, after `.dockerignore`, with the stat-keyed
 * digest cache) and the root filesystems that `COPY --from` and `RUN --mount from=` name — a stage of this build,
 * an image, or scratch — each seen through a read-only view of its layers, listing only what the step's paths reach.
 */
import * as path from 'node:path';
import type { CacheImports } from '../cache/transfer/build-imports';
import { contextEntries, loadIgnorePatterns, matcherFromIgnoreFile } from '../context';
import { BuildError } from '../errors';
import type { EventSink } from '../events';
import type { Platform, Step, StageRef } from '../planner/types';
import type { BaseImages } from './base-images';
import type { DockerfileText } from './dockerfile-text';
import { sourceFromEntries, type CopySourceFs } from './ops/copy/source-fs';
import type { RootfsViews } from './rootfs';
import type { BuildOptions, StageResult } from './types';

export class BuildSources {
  private context: Promise<CopySourceFs> | undefined;

  constructor(
    private readonly opts: Pick<BuildOptions, 'root' | 'contextDir' | 'dockerfilePath' | 'contextModes'>,
    private readonly events: EventSink,
    private readonly dockerfile: DockerfileText,
    private readonly images: BaseImages,
    private readonly imports: CacheImports,
    private readonly views: RootfsViews,
    /** A stage of this build, built (or being built) by the solver; and its display name. */
    private readonly stage: (index: number) => Promise<StageResult>,
    private readonly stageName: (index: number) => string,
    private readonly targetPlatform: () => Platform,
  ) {}

  /** The build context as a copy source, walked once per build. */
  contextSource(): Promise<CopySourceFs> {
    this.context ??= (async () => {
      const ignore = await loadIgnorePatterns(this.opts.contextDir, this.opts.dockerfilePath);
      const entries = await contextEntries(this.opts.contextDir, {
        matcher: matcherFromIgnoreFile(ignore),
        cacheDir: path.join(this.opts.root, 'context-digests'),
      });
      const modes = this.opts.contextModes ?? 'normalize';
      const source = sourceFromEntries(path.resolve(this.opts.contextDir), entries, true, 'build context', {
        modes,
      });
      this.events({ type: 'context-modes', policy: modes, normalized: source.normalizedModes });
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
    return this.dockerfile.locate(this.dockerfile.location(step.line, step.endLine), () =>
      this.rootfs(from, 'COPY --from', scope),
    );
  }

  /**
   * The root filesystem on disk of what `COPY --from` or `RUN --mount from=` (`flag`, for messages) names; as a copy
   * source, listing only what the paths of `scope` reach when given.
   */
  async rootfs(from: StageRef, flag: string, scope?: readonly string[]): Promise<CopySourceFs> {
    if (from.kind === 'stage') {
      const source = await this.stage(from.index);
      await this.imports.ensureLayers(source.layers);
      return this.views.source(source.layers, `stage ${this.stageName(from.index)}`, scope);
    }
    if (from.kind === 'image') {
      const image = await this.images.source(from, this.targetPlatform(), flag);
      if (!image) throw new BuildError(`${flag}=${from.ref}: image not found`);
      await this.imports.ensureLayers(image.layers);
      return this.views.source(image.layers, `image ${from.ref}`, scope);
    }
    return this.views.source([], 'scratch', scope);
  }
}
