import { Args, Flags } from '@oclif/core';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../../store/blob-store';
import { listBuildHistories } from '../../../cache/build-history';
import { isDigest } from '../../../store/digest';
import { KeyIndex } from '../../../cache/key-index';
import { UserError } from '../../../errors';
import type { FileInput } from '../../../cache/step-key';
import type { BuildReport } from '../../../report/build-report';
import {
  explainHistories,
  explainReports,
  renderExplanation,
  type Explanation,
  type HistoryContext,
} from '../../../report/explain-report';
import { BaseCommand } from '../../base-command';
import { repeatableString } from '../../flags';
import { storeRoot } from '../../build-options';
import { planInfo } from '../../plan-info';

export default class CacheExplain extends BaseCommand {
  static override summary = 'Say which steps stopped hitting the cache between the last two builds, and why.';

  static override description =
    'Compares the last two builds of a Dockerfile (and target) as the store remembers them, step by step, and ' +
    'names the first cause of each run of misses — the changed file, build arg, instruction or base image — ' +
    'with the steps that missed only because of it listed under it, instead of a wall of "parent step missed".\n\n' +
    'With --report OLD.json --report NEW.json, compares two `--report` files instead (no store needed).';

  static override examples = [
    '<%= config.bin %> cache explain',
    '<%= config.bin %> cache explain . -f build/app.Dockerfile --target prod',
    '<%= config.bin %> cache explain --report before.json --report after.json',
  ];

  static override args = {
    context: Args.string({ ignoreStdin: true, description: 'build context directory', default: '.' }),
  };

  static override flags = {
    file: Flags.string({ char: 'f', description: 'Dockerfile path (default: CONTEXT/Dockerfile)' }),
    target: Flags.string({
      description: 'the stage that was built (default: the last build of the Dockerfile)',
    }),
    report: repeatableString({
      description: 'a --report JSON file; give it twice to compare: --report OLD --report NEW',
    }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    json: Flags.boolean({ description: 'print the explanation as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CacheExplain);
    let explanation: Explanation | undefined;
    if (flags.report !== undefined) {
      const [a, b, ...more] = flags.report;
      if (a === undefined || b === undefined || more.length > 0) {
        throw new UserError('--report is given twice: --report OLD.json --report NEW.json');
      }
      explanation = explainReports(await readReport(a), await readReport(b), [a, b]);
    } else {
      const dockerfile = flags.file ? path.resolve(flags.file) : path.resolve(args.context, 'Dockerfile');
      explanation = await this.fromHistory(storeRoot(flags.root), dockerfile, flags.target?.toLowerCase());
      if (explanation === undefined) return;
    }
    process.stdout.write(
      flags.json ? `${JSON.stringify(explanation, null, 2)}\n` : renderExplanation(explanation),
    );
  }

  private async fromHistory(
    root: string,
    dockerfile: string,
    target?: string,
  ): Promise<Explanation | undefined> {
    const pair = (await listBuildHistories(root)).find(
      (p) => p.current.dockerfile === dockerfile && (target === undefined || p.current.target === target),
    );
    const what = `${dockerfile}${target ? ` (target ${target})` : ''}`;
    if (!pair) throw new UserError(`no build of ${what} is remembered in the store ${root}`);
    if (!pair.previous) {
      process.stdout.write(`only one build of ${what} is remembered; explain compares the last two\n`);
      return undefined;
    }
    const blobs = new BlobStore(root);
    const index = new KeyIndex(root);
    const ctx: HistoryContext = {
      ...(await planInfo(dockerfile, pair.current.target)),
      files: async (digest) => {
        if (!isDigest(digest)) return undefined;
        try {
          return JSON.parse((await blobs.readAll(digest)).toString('utf8')) as FileInput[];
        } catch {
          return undefined; // pruned or damaged: the explanation gets vaguer, not wrong
        }
      },
      recordCreatedAt: async (key) => (isDigest(key) ? (await index.get(key))?.createdAt : undefined),
    };
    return explainHistories(pair.previous, pair.current, ctx);
  }
}

async function readReport(file: string): Promise<BuildReport> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new UserError(`cannot read report ${file}`);
  }
  try {
    const report = JSON.parse(text) as BuildReport;
    if (report.version !== 1 || !Array.isArray(report.steps)) throw new Error('not a version 1 report');
    return report;
  } catch (err) {
    throw new UserError(
      `${file} is not a tsbuild --report file: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
