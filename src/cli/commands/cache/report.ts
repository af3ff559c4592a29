import { Args, Flags } from '@oclif/core';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { readBuildLog, type LoggedBuild } from '../../../cache/build-log';
import { summarizeBuilds, type DockerfileReport } from '../../../cache/cache-report';
import { parseCacheFrom } from '../../../cache/transfer/cache-spec';
import { parseAge } from '../../../cache/units';
import { UserError } from '../../../errors';
import {
  groupId,
  type AdviceLine,
  renderCacheReportJson,
  renderCacheReportMarkdown,
  renderCacheReportText,
} from '../../../report/cache-report';
import { BaseCommand } from '../../base-command';
import { storeRoot } from '../../build-options';
import { loadCacheFrom } from '../../cache-io';
import { adviceCosts } from '../../advice-history';
import { runCheck } from '../../check-run';
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

  static override args = {
    context: Args.string({
      ignoreStdin: true,
      description: 'build context whose Dockerfile the advice is about (default .)',
      default: '.',
    }),
  };

  static override flags = {
    file: Flags.string({
      char: 'f',
      description: 'the Dockerfile to give advice on (default: CONTEXT/Dockerfile), as `tsbuild check` does',
    }),
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
    const { args, flags } = await this.parse(CacheReport);
    const sinceMs = flags.since !== undefined ? Date.now() - parseAge(flags.since, '--since') : undefined;
    const root = storeRoot(flags.root);
    const builds = await readBuildLog(root);
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
    process.stdout.write(render(reports, await adviceFor(reports, args.context, flags.file, root)));
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

/**
 * `tsbuild check`'s findings on the Dockerfile here, each with what the history shows it cost, for the reports
 * of that Dockerfile. None when there is no Dockerfile here (a report read from a cache on another machine) or it
 * cannot be planned: the numbers stand without advice.
 */
async function adviceFor(
  reports: readonly DockerfileReport[],
  context: string,
  file: string | undefined,
  root: string,
): Promise<Map<string, AdviceLine[]>> {
  const out = new Map<string, AdviceLine[]>();
  const name = file ?? 'Dockerfile';
  const mine = reports.filter((r) => r.dockerfile === name);
  if (mine.length === 0 || !existsSync(file ?? path.join(context, 'Dockerfile'))) return out;
  for (const r of mine) {
    const result = await runCheck({
      context,
      file,
      root,
      buildArgs: new Map(),
      target: r.target === '' ? undefined : r.target,
      // The context is a directory here: stdin is never read.
      stdin: () => process.stdin,
      warn: (line) => process.stderr.write(`${line}\n`),
    }).catch((err: unknown) => {
      process.stderr.write(`warning: no advice: ${err instanceof Error ? err.message : String(err)}\n`);
      return undefined;
    });
    if (!result) continue;
    const costs = adviceCosts(result.findings, r);
    out.set(
      groupId(r),
      result.findings.map((f, i) => ({
        rule: f.rule,
        line: f.line,
        message: f.message,
        misses: costs[i]?.misses ?? 0,
        missCostMs: costs[i]?.missCostMs ?? 0,
      })),
    );
  }
  return out;
}
