import { shortDigest } from '../../../store/digest';
import { Flags } from '@oclif/core';
import { formatAgo, formatDuration, formatSize } from '../../../cache/units';
import { listCacheRecords } from '../../../cache/usage';
import { BaseCommand } from '../../base-command';
import { storeRoot } from '../../build-options';
import { formatTable } from '../../cache-table';

export default class CacheLs extends BaseCommand {
  static override summary = 'List the cache records: one per built step, most recently used first.';

  static override description =
    'Each record is one step result the next build can reuse: its key (shortened), the size of the layer it ' +
    'made (0 for metadata-only steps such as ENV), when a build last used it, when it was built and how long ' +
    'that took, and the instruction.';

  static override examples = ['<%= config.bin %> cache ls', '<%= config.bin %> cache ls --json'];

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    json: Flags.boolean({ description: 'print the records as JSON' }),
    'no-trunc': Flags.boolean({ description: 'show full keys' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CacheLs);
    const records = await listCacheRecords(storeRoot(flags.root));
    if (flags.json) {
      const out = records.map((r) => ({
        key: r.key,
        description: r.description,
        size: r.layer?.size ?? 0,
        layer: r.layer?.digest ?? null,
        durationMs: r.durationMs,
        createdAt: r.createdAt,
        lastUsedAt: r.lastUsedAt,
      }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    const now = Date.now();
    const rows = [['KEY', 'SIZE', 'LAST USED', 'CREATED', 'BUILD TIME', 'STEP']];
    for (const r of records) {
      rows.push([
        flags['no-trunc'] ? r.key : shortDigest(r.key),
        r.layer ? formatSize(r.layer.size) : '0B',
        formatAgo(r.lastUsedAt, now),
        formatAgo(r.createdAt, now),
        formatDuration(r.durationMs),
        r.description,
      ]);
    }
    process.stdout.write(formatTable(rows, [1, 4]));
  }
}
