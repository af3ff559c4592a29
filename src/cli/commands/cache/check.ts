import { Flags } from '@oclif/core';
import { checkStore } from '../../../cache/check';
import { formatSize } from '../../../cache/units';
import {
  recoverUnsyncedSnapshots,
  settleUnsyncedSnapshots,
  snapshotHoldsLayer,
} from '../../../layers/snapshot-durability';
import { BuildError } from '../../../errors';
import { BaseCommand } from '../../base-command';
import { storeRoot } from '../../build-options';

export default class CacheCheck extends BaseCommand {
  static override summary = 'Verify every blob and every reference in the store, and remove what is broken.';

  static override description =
    'Re-hashes every blob and every layer kept only as its snapshot, then checks that every cache record’s layer and every tagged image’s manifest, ' +
    'config and layers are present and intact. Repairing is on by default: what it removes is provably ' +
    'unusable (bytes that do not match their digest, records and tags that point at them or at nothing), and ' +
    'keeping it would only let the next build reuse broken data; with it gone, the next build rebuilds those ' +
    'steps. Use --no-repair to only report (for instance to keep a failing disk’s evidence).\n\n' +
    'Exits with status 1 when problems were found and not repaired, 0 otherwise. Warnings (a missing file ' +
    'listing, which only makes miss explanations vaguer) never fail the check.';

  static override examples = ['<%= config.bin %> cache check', '<%= config.bin %> cache check --no-repair'];

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    repair: Flags.boolean({
      default: true,
      allowNo: true,
      description: 'remove what is broken (default on)',
    }),
    json: Flags.boolean({ description: 'print the result as JSON' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CacheCheck);
    const root = storeRoot(flags.root);
    // Snapshots an earlier boot left unsynced are checked as a build would, then the store is flushed once.
    const recovery = await recoverUnsyncedSnapshots(root);
    if (flags.repair) await settleUnsyncedSnapshots(root);
    const result = await checkStore(root, {
      repair: flags.repair,
      verifySnapshot: (diffId) => snapshotHoldsLayer(root, diffId),
    });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ ...result, unsyncedSnapshots: recovery }, null, 2)}\n`);
    } else {
      for (const p of result.problems) {
        const state = p.repaired ? ' — removed' : p.severity === 'warning' ? ' (warning)' : '';
        process.stdout.write(`${p.message}${state}\n`);
      }
      if (recovery.kept + recovery.dropped > 0)
        process.stdout.write(
          `snapshots left unsynced before a restart: ${recovery.kept} whole, ${recovery.dropped} removed ` +
            `(rebuilt or unpacked again when needed)\n`,
        );
      const found = result.problems.filter((p) => p.severity === 'error').length;
      const repaired = result.problems.filter((p) => p.severity === 'error' && p.repaired).length;
      const summary =
        found === 0
          ? 'no problems'
          : `${found} problem${found === 1 ? '' : 's'}, ${repaired === found ? 'all' : repaired} repaired`;
      process.stdout.write(
        `checked ${result.blobs} blobs (${formatSize(result.blobBytes)}), ${result.records} cache records, ` +
          `${result.tags} tags: ${summary}\n`,
      );
    }
    if (result.unrepaired > 0) {
      const hint = flags.repair ? '' : ' (run `tsbuild cache check` without --no-repair to remove them)';
      throw new BuildError(
        `${result.unrepaired} problem${result.unrepaired === 1 ? '' : 's'} not repaired${hint}`,
      );
    }
  }
}
