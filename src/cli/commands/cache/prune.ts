import { Flags } from '@oclif/core';
import { pruneStore, type PruneOptions } from '../../../cache/gc';
import { openRunsDir } from '../../../layers/runs-dir';
import { formatSize, parseAge, parseSize } from '../../../cache/units';
import { BaseCommand } from '../../base-command';
import { storeRoot } from '../../build-options';

export default class CachePrune extends BaseCommand {
  static override summary = 'Remove cache data, least recently used first.';

  static override description =
    'With --keep-storage, records are removed least recently used first until the store fits in SIZE ' +
    '(snapshots, which are only unpacked layers, go before any record). With --keep-duration, records not ' +
    'used for longer than D are removed. With neither, every cache record goes. A blob is removed only when ' +
    'no remaining record, tag or running build needs it, so tagged images always survive; --all removes the ' +
    'tags too and leaves only what running builds use. Whatever nothing references (the manifests of untagged ' +
    'builds, listings of removed layers) is removed every time.\n\n' +
    'SIZE takes SI (kB, MB, GB) or IEC (KiB, MiB, GiB) units; D takes ms, s, m, h, d, w (e.g. 36h, 7d, 1h30m). ' +
    'Running builds are not disturbed: what they use is kept, and they wait while the store is pruned.';

  static override examples = [
    '<%= config.bin %> cache prune --keep-storage 2GB',
    '<%= config.bin %> cache prune --keep-duration 7d',
    '<%= config.bin %> cache prune --all',
  ];

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    'keep-storage': Flags.string({ description: 'keep at most SIZE of data (e.g. 500MB, 2GB)' }),
    'keep-duration': Flags.string({ description: 'keep records used within D (e.g. 24h, 7d)' }),
    all: Flags.boolean({ description: 'remove everything not in use, tagged images included' }),
    'dry-run': Flags.boolean({ description: 'say what would be removed, remove nothing' }),
    json: Flags.boolean({ description: 'print the result as JSON' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CachePrune);
    const options: PruneOptions = { all: flags.all, dryRun: flags['dry-run'] };
    if (flags['keep-storage'] !== undefined)
      options.keepStorage = parseSize(flags['keep-storage'], '--keep-storage');
    if (flags['keep-duration'] !== undefined)
      options.keepDurationMs = parseAge(flags['keep-duration'], '--keep-duration');
    const root = storeRoot(flags.root);
    // The scratch and mounts of killed builds are garbage too.
    if (!flags['dry-run']) await openRunsDir(root);
    const result = await pruneStore(root, options);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const parts = [
      count(result.removedRecords, 'cache record'),
      count(result.removedBlobs, 'blob'),
      count(result.removedSnapshots, 'snapshot'),
      count(result.removedListings, 'listing'),
    ];
    if (result.removedTags.length > 0) parts.push(count(result.removedTags.length, 'tag'));
    const verb = flags['dry-run'] ? 'would remove' : 'removed';
    process.stdout.write(
      `${verb} ${parts.join(', ')}; ${flags['dry-run'] ? 'would free' : 'freed'} ${formatSize(result.freedBytes)} ` +
        `(store ${formatSize(result.sizeBefore)} → ${formatSize(result.sizeAfter)})\n`,
    );
    for (const name of result.removedTags) process.stdout.write(`untagged ${name}\n`);
    if (options.keepStorage !== undefined && result.sizeAfter > options.keepStorage) {
      const kept =
        result.buildsInUse > 0
          ? `tagged images and ${count(result.buildsInUse, 'running build')}'s data`
          : 'tagged images';
      process.stderr.write(
        `warning: the store is still ${formatSize(result.sizeAfter)}, above ${formatSize(options.keepStorage)}: ` +
          `${kept} are kept (remove images with \`tsbuild rmi\`, or prune with --all)\n`,
      );
    }
  }
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
