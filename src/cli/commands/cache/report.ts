import { Flags } from '@oclif/core';
import { readBuildLog, type LoggedBuild } from '../../../cache/build-log';
import { summarizeBuilds } from '../../../cache/cache-report';
import { parseCacheFrom } from '../../../cache/transfer/cache-spec';
import { parseAge } from '../../../cache/units';
import { UserError } from '../../../errors';
import {
  renderCacheReportJson,
  renderCacheReportMarkdown,
  renderCacheReportText,
} from '../../../report/cache-report';
import { BaseCommand } from '../../base-command';
import { storeRoot } from '../../build-options';
import { loadCacheFrom } from '../../cache-io';
import { repeatableString } from '../../flags';

export default class CacheReport extends BaseCommand {
  static override summary =
    'Over the builds the store remembers: which steps keep missing, why, and what it costs.';

  static override description =
    "Per Dockerfile and target, over the logged builds (this store's and those carried in imported caches: a " +
    '`--cache-to` export takes the latest builds along): per step how many builds ran it, its hit rate, the ' +
    'median time of its misses, the time they took, and their first causes ranked — a step that missed only ' +
    'because the one above it did counts the cause of that one ("RUN npm ci: 9 from package-lock.json").';

  static override examples = [
    '<%= config.bin %> cache report --since 7d',
    '<%= config.bin %> cache report --dockerfile build/app.Dockerfile --format markdown >> "$GITHUB_STEP_SUMMARY"',
    '<%= config.bin %> cache report --cache-from type=registry,ref=reg.example/app:cache',
  ];

  static override flags = {
    since: Flags.string({ description: 'only builds finished within this time (e.g. 24h, 7d, 4w)' }),
    dockerfile: Flags.string({
      description: 'only this Dockerfile, as builds named it with -f (default: every Dockerfile)',
    }),
    target: Flags.string({ description: 'only builds of this target (default: every target)' }),
    format: Flags.string({
      options: ['text', 'markdown', 'json'],
      default: 'text',
      description: 'output format',
    }),
    'cache-from': repeatableString({
      description:
        'also count the builds an exported cache carries (type=local,src=DIR | type=registry,ref=REF)',
    }),
    'insecure-registry': repeatableString({
      description: 'registry (host[:port]) reached over plain HTTP or unverified TLS',
    }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CacheReport);
    const sinceMs = flags.since !== undefined ? Date.now() - parseAge(flags.since, '--since') : undefined;
    const builds = await readBuildLog(storeRoot(flags.root));
    const carried = await this.carried(flags['cache-from'] ?? [], flags['insecure-registry'] ?? []);
    const reports = summarizeBuilds(unique([...builds, ...carried]), {
      sinceMs,
      dockerfile: flags.dockerfile,
      target: flags.target?.toLowerCase(),
    });
    const render =
      flags.format === 'json'
        ? renderCacheReportJson
        : flags.format === 'markdown'
          ? renderCacheReportMarkdown
          : renderCacheReportText;
    process.stdout.write(render(reports));
  }

  /** The builds the named caches carry, read only: the store is not changed by a report. */
  private async carried(specs: readonly string[], insecure: readonly string[]): Promise<LoggedBuild[]> {
    if (specs.length === 0) return [];
    const locations = specs.map(parseCacheFrom);
    if (locations.some((l) => l.type === 'inline')) {
      throw new UserError('--cache-from of cache report reads a type=local or type=registry cache');
    }
    const caches = await loadCacheFrom(locations, { insecureRegistries: insecure }, (w) =>
      process.stderr.write(`warning: ${w}\n`),
    );
    return caches.flatMap((c) => c.config.builds ?? []);
  }
}

/** A build carried back in an imported cache and also in the store is counted once. */
function unique(builds: readonly LoggedBuild[]): LoggedBuild[] {
  const seen = new Map<string, LoggedBuild>();
  for (const b of builds) if (!seen.has(b.id)) seen.set(b.id, b);
  return [...seen.values()];
}
