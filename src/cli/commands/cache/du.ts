import { Flags } from '@oclif/core';
import { defaultMaxStorage } from '../../../cache/gc';
import { formatSize } from '../../../cache/units';
import { readStoreUsage } from '../../../cache/usage';
import { BaseCommand } from '../../base-command';
import { storeRoot } from '../../build-options';
import { formatTable } from '../../cache-table';

export default class CacheDu extends BaseCommand {
  static override summary = 'Show how much space the store takes, by kind.';

  static override description =
    'Every byte under the store root is counted once, in the first kind that claims it: cache layers (blobs ' +
    'that cache records point at), compressed copies of snapshot-kept layers made for outputs (regenerable), ' +
    'image-only blobs (what only tags keep: manifests, configs, pulled base layers), file and layer listings, ' +
    'snapshots (the layers on disk, one per diff_id: RUN layers live only there until an output needs them), the ' +
    'records themselves, ' +
    'unreferenced blobs (removed by the next prune) and the rest. Sizes are apparent sizes in SI units, the ' +
    'same units `cache prune --keep-storage` takes.';

  static override examples = ['<%= config.bin %> cache du', '<%= config.bin %> cache du --json'];

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    json: Flags.boolean({ description: 'print the usage as JSON (bytes)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CacheDu);
    const root = storeRoot(flags.root);
    const usage = await readStoreUsage(root);
    const bound = await defaultMaxStorage(root);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ ...usage, defaultMaxStorage: bound }, null, 2)}\n`);
      return;
    }
    const rows = [['KIND', 'COUNT', 'SIZE']];
    for (const r of usage.rows)
      rows.push([r.label, r.kind === 'other' ? '' : String(r.count), formatSize(r.bytes)]);
    rows.push(['total', '', formatSize(usage.total)]);
    process.stdout.write(formatTable(rows, [1, 2]));
    process.stdout.write(`\nbuilds prune the store to ${formatSize(bound)} by default (--max-storage)\n`);
  }
}
