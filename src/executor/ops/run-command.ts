/**
 * A RUN that missed: sandboxed on an overlay of the stage's layers (fetched first if an imported cache holds them),
 * its context and `from=` bind mounts, secrets and cache mounts (filled from an imported cache the first time),
 * its output streamed as events and saved whole under the step's key (`tsbuild logs`); its change becomes the layer
 * (the overlay's upper dir as the snapshot itself).
 */
import { StringDecoder } from 'node:string_decoder';
import type { LayerRecord } from '../../image/stored-image';
import type { CacheImports } from '../../cache/transfer/build-imports';
import type { EventSink, StepRef } from '../../events';
import { StepLogRecorder } from '../../cache/step-logs';
import type { Digest } from '../../store/digest';
import type { RunStep } from '../../planner/types';
import type { BlobStore } from '../../store/blob-store';
import type { BuildSources } from '../build-sources';
import type { DockerfileText } from '../dockerfile-text';
import type { BuildOptions } from '../types';
import { restoreCacheMount } from './cache-mount-archive';
import { materializeContextMount } from './context-mount';
import { commitRunLayer, writeLayer } from './layer-writer';
import { runStep } from './run';

export interface RunCommandContext {
  opts: Pick<
    BuildOptions,
    'root' | 'secrets' | 'network' | 'allowHostNetwork' | 'isolation' | 'sourceDateEpoch' | 'compression'
  >;
  blobs: BlobStore;
  imports: CacheImports;
  sources: BuildSources;
  dockerfile: DockerfileText;
  events: EventSink;
}

export async function runCommand(
  ctx: RunCommandContext,
  step: RunStep,
  layers: readonly LayerRecord[],
  ref: StepRef,
  key: Digest,
): Promise<LayerRecord | null> {
  const { opts, blobs, imports, sources, events } = ctx;
  await imports.ensureLayers(layers);
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const location = ctx.dockerfile.location(step.line, step.endLine);
  const log = new StepLogRecorder();
  try {
    return await runLogged();
  } finally {
    // Failed or not: the output of a failed command is the log people come for. A log that cannot be saved (a
    // full disk) is a warning; it must not hide why the step itself failed.
    await log.save(opts.root, key).then(
      (bytes) => events({ type: 'step-log', step: ref, key, bytes }),
      (err: unknown) =>
        events({
          type: 'warning',
          message: `the log of ${ref.instruction} was not saved: ${err instanceof Error ? err.message : String(err)}`,
        }),
    );
  }

  async function runLogged(): Promise<LayerRecord | null> {
    const { result } = await ctx.dockerfile.locate(location, () =>
      runStep(
        {
          root: opts.root,
          blobs,
          layers,
          step,
          contextMount: async (source, dest) =>
            materializeContextMount(await sources.contextSource(), source, dest),
          sourceDir: async (from) => (await sources.rootfs(from, 'RUN --mount from')).root,
          secrets: opts.secrets,
          restoreCacheMount: (id) => cacheMountRestorer(ctx, id),
          network: opts.network,
          allowHostNetwork: opts.allowHostNetwork,
          isolation: opts.isolation,
          // A decoder per stream, so a UTF-8 character split across two chunks comes out whole.
          onOutput: (chunk, stream) => {
            log.append(chunk, stream);
            events({ type: 'step-output', step: ref, stream, text: decoders[stream].write(chunk) });
          },
          onWarning: (message) => events({ type: 'warning', message }),
          location,
        },
        async (entries, upperDir) =>
          entries.length === 0
            ? null
            : upperDir !== undefined
              ? commitRunLayer(opts.root, upperDir, entries, opts.sourceDateEpoch)
              : writeLayer(opts.root, blobs, entries, opts.compression, opts.sourceDateEpoch),
      ),
    );
    return result;
  }
}

/** Fills a RUN cache mount created for the first time from an imported one (fetched only then). */
function cacheMountRestorer(
  ctx: RunCommandContext,
  id: string,
): ((emptyDir: string) => Promise<void>) | undefined {
  const imported = ctx.imports.cacheMount(id);
  if (!imported) return undefined;
  return async (emptyDir) => {
    await imported.fetch();
    await restoreCacheMount(ctx.opts.root, ctx.blobs, imported.archive, emptyDir);
  };
}
