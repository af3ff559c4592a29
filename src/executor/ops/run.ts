/**
 * One RUN step from start to layer: the parent layers as snapshots, an overlay rootfs on them, the step's mounts,
 * the command in the sandbox, and — when it succeeded — its change as layer entries, handed to `withLayer` while
 * the files they name still exist. Everything the run made (mounts, scratch dirs, cache holds) is gone when this
 * returns or throws. A failing command throws `RunFailedError` with its exit code and the end of its output.
 */
import * as path from 'node:path';
import type { BlobStore } from '../../store/blob-store';
import { BuildError, type SourceLocation } from '../../errors';
import type { RootfsMode } from '../../layers/overlay';
import { withRunRootfs } from '../../layers/run-rootfs';
import type { SnapshotLayer } from '../../layers/snapshots';
import type { LayerEntry } from '../../layers/tar-writer';
import type { MountSource, RunStep } from '../../planner/types';
import type { CacheMountRestorer } from '../sandbox/cache-mounts';
import { resolveRunMounts } from './run-mounts';
import type { Isolation } from '../sandbox/runtime';
import { runInSandbox } from '../sandbox/sandbox';
import type { NetworkMode, SandboxMount } from '../sandbox/types';

export interface RunStepOptions {
  root: string;
  blobs: BlobStore;
  /** The stage's layers so far, base first (what the RUN starts from). */
  layers: readonly SnapshotLayer[];
  step: RunStep;
  /**
   * For `--mount=type=bind` without `from`: write what a mount of `source` in the build context shows (after
   * .dockerignore) to `dest`, a path that does not exist yet.
   */
  contextMount: (source: string, dest: string) => Promise<void>;
  /** The rootfs directory of a stage or image named by `--mount from=`. */
  sourceDir: (from: MountSource) => Promise<string>;
  secrets?: ReadonlyMap<string, Buffer>;
  /**
   * For a `--mount=type=cache` id, how to fill that cache from an imported one (`--cache-from` with cache mounts);
   * asked only for mounts without `from=`, used only when the cache does not exist here yet.
   */
  restoreCacheMount?: CacheMountRestorer;
  /**
   * The build's `--network`: `default` (the RUN's own namespace, outbound through slirp4netns), `none`, or `host`;
   * a step's own `--network` wins.
   */
  network?: NetworkMode;
  /** The `network.host` entitlement (`--allow network.host`): without it, host networking is refused. */
  allowHostNetwork?: boolean;
  /** Default `auto`. */
  isolation?: Isolation;
  /** Default `auto` (overlay, else copy). */
  rootfsMode?: RootfsMode;
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Warnings for the build log (overlay fallback, skipped ssh mounts …). */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
  /** The step's place in the Dockerfile, for errors. */
  location?: SourceLocation;
}

export interface RunStepResult<T> {
  result: T;
  runtime: 'runc' | 'crun';
  rootfsMode: 'overlay' | 'copy';
}

/** The command exited non-zero (BuildKit's wording). */
export class RunFailedError extends BuildError {
  constructor(
    readonly argv: readonly string[],
    readonly commandExitCode: number,
    /** The last lines of the command's output (stdout and stderr interleaved). */
    readonly outputTail: string,
    location?: SourceLocation,
  ) {
    super(
      `process ${JSON.stringify(argv.join(' '))} did not complete successfully: exit code: ${commandExitCode}`,
      location,
    );
  }
}

const TAIL_BYTES = 16 * 1024;

/**
 * `withLayer` turns the change into a layer while the files it names still exist. On an overlay rootfs it is also
 * given the upper dir, the change itself, which it may make the layer's snapshot (`commitUpperDir`: moved, not
 * copied); a copied rootfs has none.
 */
export async function runStep<T>(
  opts: RunStepOptions,
  withLayer: (entries: LayerEntry[], upperDir: string | undefined) => Promise<T>,
): Promise<RunStepResult<T>> {
  const { step } = opts;
  const warn = opts.onWarning ?? (() => undefined);
  if (step.security === 'insecure') {
    throw new BuildError(
      'RUN --security=insecure is not allowed: tsbuild grants no entitlements',
      opts.location,
    );
  }
  for (const d of step.devices) {
    if (d.required) throw new BuildError(`RUN --device=${d.name} is not supported`, opts.location);
    warn(`RUN --device=${d.name} is not supported; left out`);
  }
  const network = step.network === 'default' ? (opts.network ?? 'default') : step.network;
  if (network === 'host' && opts.allowHostNetwork !== true) {
    throw new BuildError(
      'RUN --network=host needs the network.host entitlement: build with --allow network.host',
      opts.location,
    );
  }
  const request = { root: opts.root, blobs: opts.blobs, layers: opts.layers, mode: opts.rootfsMode };
  return withRunRootfs(request, async (rootfs, runDir) => {
    if (rootfs.fallbackReason !== undefined)
      warn(`RUN uses a copied rootfs (slower): ${rootfs.fallbackReason}`);
    const resolved = await resolveRunMounts(step.mounts, {
      root: opts.root,
      contextMount: opts.contextMount,
      sourceDir: opts.sourceDir,
      secrets: opts.secrets ?? new Map(),
      scratch: path.join(runDir, 'mounts'),
      ...(opts.restoreCacheMount !== undefined ? { restoreCacheMount: opts.restoreCacheMount } : {}),
    });
    resolved.warnings.forEach(warn);
    // A `#!` heredoc is run from a read-only file BuildKit puts at /dev/pipes/NAME.
    const inline: SandboxMount[] = step.inlineFiles.map((f) => ({
      type: 'file',
      target: f.path,
      content: Buffer.from(f.content),
      mode: f.mode,
      uid: 0,
      gid: 0,
    }));
    const env = [
      ...step.context.env.map((kv) => `${kv.key}=${kv.value}`),
      ...step.proxyEnv.map((kv) => `${kv.key}=${kv.value}`),
      ...resolved.env,
    ];
    let tail = Buffer.alloc(0);
    let sandbox;
    try {
      sandbox = await runInSandbox({
        rootfs: rootfs.path,
        argv: step.argv,
        env,
        user: step.context.user,
        workdir: step.context.workdir,
        network,
        isolation: opts.isolation ?? 'auto',
        mounts: [...resolved.mounts, ...inline],
        scratch: path.join(runDir, 'sandbox'),
        onOutput: (chunk, stream) => {
          tail = Buffer.concat([tail, chunk]);
          if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES);
          opts.onOutput?.(chunk, stream);
        },
        signal: opts.signal,
      });
    } finally {
      await resolved.release();
    }
    if (sandbox.exitCode !== 0) {
      throw new RunFailedError(step.argv, sandbox.exitCode, tail.toString('utf8'), opts.location);
    }
    const entries = await rootfs.diff();
    const result = await withLayer(entries, rootfs.upperDir);
    return { result, runtime: sandbox.runtime, rootfsMode: rootfs.mode };
  });
}
