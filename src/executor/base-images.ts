/**
 * The images a build stands on or reads from: each `FROM` image and each image named by `COPY --from` or
 * `RUN --mount from=`, resolved once per build through the caller's `resolveImage`, marked in use, and — when its
 * layers stayed in a registry — offered to the cache imports so they are fetched only if something needs them.
 */
import { formatPlatform, type Platform } from '../platform';
import type { CacheImports } from '../cache/transfer/build-imports';
import { BuildError, TsbuildError } from '../errors';
import type { EventSink } from '../events';

import type { BaseImageConfig, Stage, StageRef } from '../planner/types';
import type { DockerfileText } from './dockerfile-text';
import type { BuildOptions, ResolvedImage } from './types';

export class BaseImages {
  private readonly images = new Map<string, ResolvedImage>();

  constructor(
    private readonly opts: Pick<BuildOptions, 'resolveImage' | 'inUse'>,
    private readonly imports: CacheImports,
    private readonly dockerfile: DockerfileText,
    private readonly events: EventSink,
  ) {}

  /** The image a stage was resolved `FROM` (after `resolveFrom`). */
  get(normalizedRef: string): ResolvedImage | undefined {
    return this.images.get(normalizedRef);
  }

  /**
   * Resolves a stage's `FROM` image and returns the part of its config the planner uses. A registry failure or a
   * missing platform is an error about the FROM line; a platform other than the stage's is a warning, as in
   * BuildKit (an emulator may run it).
   */
  async resolveFrom(stage: Stage, normalizedRef: string): Promise<BaseImageConfig | undefined> {
    const where = this.dockerfile.location(stage.line, stage.endLine);
    let image: ResolvedImage | undefined;
    try {
      image = await this.opts.resolveImage(normalizedRef, stage.platform);
    } catch (err) {
      if (!(err instanceof TsbuildError)) throw err;
      throw new BuildError(`FROM ${stage.baseName}: ${err.message}`, where);
    }
    if (!image) {
      const p = stage.platform;
      throw new BuildError(
        `FROM ${stage.baseName}: no image for ${p.os}/${p.architecture} (${normalizedRef})`,
        where,
      );
    }
    this.images.set(normalizedRef, image);
    if (image.layerSource) await this.imports.offerLayers(image.layers, image.layerSource);
    const mismatch = platformMismatch(image.config, stage.platform);
    if (mismatch) {
      this.events({
        type: 'warning',
        message: `${this.dockerfile.fileName}:${stage.line}: base image ${stage.baseName} was pulled with platform "${mismatch.actual}", expected "${mismatch.expected}" for current build`,
      });
    }
    await this.opts.inUse?.add([image.manifestDigest, ...image.layers.flatMap((l) => [l.digest, l.diffId])]);
    const c = image.config.config;
    return {
      env: c.Env,
      workingDir: c.WorkingDir,
      user: c.User,
      shell: c.Shell,
      onBuild: c.OnBuild ?? undefined,
    };
  }

  /** An image named by `COPY --from` / `RUN --mount from=` (`flag`, for messages), resolved once per build. */
  async source(
    from: Extract<StageRef, { kind: 'image' }>,
    platform: Platform,
    flag: string,
  ): Promise<ResolvedImage | undefined> {
    let image = this.images.get(from.normalized);
    if (!image) {
      try {
        image = await this.opts.resolveImage(from.normalized, platform);
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
}

/** The image's platform and the stage's, as `os/arch[/variant]`, when they differ (a variant only if asked for). */
function platformMismatch(
  config: { os: string; architecture: string; variant?: string },
  wanted: Platform,
): { actual: string; expected: string } | undefined {
  const same =
    config.os === wanted.os &&
    config.architecture === wanted.architecture &&
    (wanted.variant === undefined || config.variant === undefined || config.variant === wanted.variant);
  return same ? undefined : { actual: formatPlatform(config), expected: formatPlatform(wanted) };
}
