import { shortDigest } from '../../store/digest';
import { Args, Flags } from '@oclif/core';
import { loadImageBuild, type ImageBuildStep } from '../../cache/image-builds';
import { BuildError } from '../../errors';
import { uncompressedLayerSize } from '../../layers/layer-size';
import { BlobStore } from '../../store/blob-store';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';
import { createdSince, ellipsis, formatTable, humanSize } from '../docker-format';
import { findLocalImage } from '../local-image';

/** One row of `history`: a history entry of the image config, newest first. */
interface HistoryRow {
  id: string;
  created: string | undefined;
  createdBy: string;
  size: number;
  comment: string;
  step: ImageBuildStep | null;
}

export default class History extends BaseCommand {
  static override summary = 'Show the history of an image: its layers and the steps that made them.';

  static override description =
    'As `docker history`: one row per entry of the image config, newest first, with the size of the layer it ' +
    'added (uncompressed; 0B for a step that changed only the config). For an image built here, CACHE KEY is ' +
    'the key of the step that made the entry and LAST BUILD whether that step hit the cache the last time this ' +
    'image was built; entries that came with the base image show -.';

  static override args = {
    image: Args.string({
      ignoreStdin: true,
      description: 'image name, name:tag, digest or image id',
      required: true,
    }),
  };

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    'no-trunc': Flags.boolean({ description: "don't truncate output" }),
    quiet: Flags.boolean({ char: 'q', description: 'only show image ids' }),
    format: Flags.string({
      description: 'table (default) or json (one object per line)',
      options: ['table', 'json'],
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(History);
    const root = storeRoot(flags.root);
    const blobs = new BlobStore(root);
    const local = await findLocalImage(root, blobs, args.image);
    if (local === undefined) throw new BuildError(`no such image: ${args.image}`);
    const trunc = !flags['no-trunc'];
    const { config, layers } = local.image;
    const built = await loadImageBuild(root, local.id);
    const entries = config.history ?? [];
    const rows: HistoryRow[] = [];
    let layer = 0;
    for (const [i, h] of entries.entries()) {
      let size = 0;
      if (h.empty_layer !== true) {
        const l = layers[layer++];
        if (l !== undefined) size = (await uncompressedLayerSize(root, blobs, l)) ?? l.size;
      }
      rows.push({
        id: '<missing>',
        created: h.created,
        createdBy: h.created_by ?? '',
        size,
        comment: h.comment ?? '',
        step: built?.history.length === entries.length ? (built.history[i] ?? null) : null,
      });
    }
    rows.reverse();
    // As docker shows an image built by BuildKit: the image id on the newest entry, the others have none of their own.
    const top = rows[0];
    if (top !== undefined) top.id = trunc ? shortDigest(local.id) : local.id;

    if (flags.quiet) {
      for (const r of rows) process.stdout.write(`${r.id}\n`);
      return;
    }
    const cells = rows.map((r) => ({
      ID: r.id,
      CreatedSince: createdSince(r.created),
      CreatedBy: trunc ? ellipsis(r.createdBy.replaceAll('\t', ' '), 45) : r.createdBy,
      Size: humanSize(r.size),
      Comment: r.comment,
      CacheKey: r.step === null ? '-' : trunc ? shortDigest(r.step.key) : r.step.key,
      LastBuild: r.step === null ? '-' : lastBuild(r.step),
    }));
    if (flags.format === 'json') {
      for (const [i, c] of cells.entries()) {
        const r = rows[i];
        const doc = { ...c, CreatedAt: r?.created ?? '', SizeBytes: r?.size ?? 0 };
        process.stdout.write(`${JSON.stringify(doc)}\n`);
      }
      return;
    }
    const head = ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT', 'CACHE KEY', 'LAST BUILD'];
    const body = cells.map((c) => [
      c.ID,
      c.CreatedSince,
      c.CreatedBy,
      c.Size,
      c.Comment,
      c.CacheKey,
      c.LastBuild,
    ]);
    process.stdout.write(formatTable([head, ...body]));
  }
}

function lastBuild(step: ImageBuildStep): string {
  if (step.cache === 'hit') return step.imported === true ? 'hit (cache-from)' : 'hit';
  return step.cache;
}
