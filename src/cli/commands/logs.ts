import { Args, Flags } from '@oclif/core';
import * as path from 'node:path';
import { listBuildHistories, type HistoryStep } from '../../cache/build-history';
import { readStepLog, stepLogsMatching } from '../../cache/step-logs';
import { UserError } from '../../errors';
import { isDigest, shortDigest, type Digest } from '../../store/digest';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';
import { planInfo } from '../plan-info';

/** A key as `history`, the report and a failed build's error print it: at least 6 hex digits, `sha256:` optional. */
const KEY_RE = /^(?:sha256:)?([0-9a-f]{6,64})$/i;
/** A step as the build log labels it, `[3/7]` or `[builder 3/7]`, or typed short: `3`, `builder/3`, `1/3`. */
const LABEL_RE = /^\[(?:(.+?) +)? *(\d+)\/\d+\]$/;
const SHORT_RE = /^(?:(.+?)[ /])?(\d+)$/;

export default class Logs extends BaseCommand {
  static override summary =
    'Print the whole output of a RUN step, as it ran (the live view shows only its end).';

  static override description =
    "STEP is the step's cache key (or its first 6+ hex digits, as `tsbuild history`, the --report file and a " +
    "failed build's error print it), or its place in the last build of the Dockerfile as the log labels it: `4` " +
    '(step 4 of the last stage), `builder/3` or `[builder 3/7]`. A step that hit the cache prints the log of the ' +
    'build that ran it.';

  static override examples = [
    '<%= config.bin %> logs 3f9a1c0e2b7d',
    '<%= config.bin %> logs builder/3',
    '<%= config.bin %> logs 4 -f build/app.Dockerfile --target prod',
  ];

  static override args = {
    step: Args.string({
      ignoreStdin: true,
      description: 'cache key (prefix) or step (N, STAGE/N)',
      required: true,
    }),
    context: Args.string({ ignoreStdin: true, description: 'build context directory', default: '.' }),
  };

  static override flags = {
    file: Flags.string({ char: 'f', description: 'Dockerfile path (default: CONTEXT/Dockerfile)' }),
    target: Flags.string({
      description: 'the stage that was built (default: the last build of the Dockerfile)',
    }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Logs);
    const root = storeRoot(flags.root);
    const key = KEY_RE.test(args.step)
      ? await keyFromPrefix(root, args.step)
      : await this.keyFromPosition(
          root,
          args.step,
          flags.file ?? path.join(args.context, 'Dockerfile'),
          flags.target,
        );
    const log = await readStepLog(root, key);
    if (log === undefined) {
      throw new UserError(
        `no log of step ${shortDigest(key)} in the store ${root}: it ran no command here ` +
          '(not a RUN, or its layer came from an imported cache), or its log was pruned',
      );
    }
    process.stdout.write(log);
  }

  private async keyFromPosition(
    root: string,
    step: string,
    dockerfileArg: string,
    target: string | undefined,
  ): Promise<Digest> {
    const m = LABEL_RE.exec(step.trim()) ?? SHORT_RE.exec(step.trim());
    if (!m) {
      throw new UserError(
        `${step}: not a step: give a cache key (6+ hex digits) or a step as the log labels it (4, builder/3)`,
      );
    }
    const dockerfile = path.resolve(dockerfileArg);
    const pair = (await listBuildHistories(root)).find(
      (p) =>
        p.current.dockerfile === dockerfile &&
        (target === undefined || p.current.target === target.toLowerCase()),
    );
    if (!pair) throw new UserError(`no build of ${dockerfile} is remembered in the store ${root}`);
    const steps = pair.current.steps;
    const stageIndex = await stageIndexOf(m[1], steps, dockerfile, pair.current.target);
    const position = `${stageIndex}/${Number(m[2])}`;
    const found = steps.find((s) => s.position === position);
    if (!found) throw new UserError(`${step}: the last build of ${dockerfile} has no such step`);
    return found.key;
  }
}

async function keyFromPrefix(root: string, given: string): Promise<Digest> {
  const matches = await stepLogsMatching(root, given);
  if (matches.length === 1) return matches[0];
  const hex = given.replace(/^sha256:/i, '').toLowerCase();
  if (matches.length === 0) {
    const full = `sha256:${hex}`;
    // A whole key with no log still gets the explanation of why there is none.
    if (isDigest(full) && hex.length === 64) return full;
    throw new UserError(`no saved log for a step whose key starts with ${hex} in the store ${root}`);
  }
  throw new UserError(
    `${hex} names ${matches.length} steps' logs (${matches.map(shortDigest).join(', ')}): give more digits`,
  );
}

/** The stage a position names: its index, its name as the Dockerfile has it now, or (none given) the last built. */
async function stageIndexOf(
  stage: string | undefined,
  steps: readonly HistoryStep[],
  dockerfile: string,
  target: string,
): Promise<number> {
  const built = steps.map((s) => Number(s.position.split('/')[0]));
  if (stage === undefined) return Math.max(...built);
  if (/^\d+$/.test(stage)) return Number(stage);
  const { stages } = await planInfo(dockerfile, target);
  for (const [index, s] of stages ?? new Map<number, { name: string }>()) {
    if (s.name.toLowerCase() === stage.toLowerCase()) return index;
  }
  if (/^stage-\d+$/.test(stage)) return Number(stage.slice(6));
  throw new UserError(`${stage}: no stage of that name in ${dockerfile}`);
}
