/**
 * COPY and ADD (BuildKit's CopyCommand.Expand and dispatchCopy): sources, destination, --chown, --chmod and ADD's
 * --checksum are expanded; heredoc bodies with an unquoted delimiter are expanded raw (quotes kept, `\` escapes);
 * --exclude is not. Sources are classified (path, URL, git) and checked against what each instruction allows.
 */
import { ShellLex } from '../parser/shell/lex';
import { parseChmod } from './chmod';
import type { CopyCommand } from './commands';
import { expandWord, type DispatchContext, type StepBody } from './dispatch-context';
import { PlanFault } from './fault';
import { goQuote } from './go';
import { copySource } from './graph';
import { destinationPath } from './paths';
import type { CopySource, CopyStep, StageRef } from './types';

/** Heredoc bodies are expanded with `\` as escape whatever the directive says, and quotes left alone. */
const RAW_LEX = new ShellLex({ escapeToken: '\\', skipProcessQuotes: true });

export function copyStep(cmd: CopyCommand, ctx: DispatchContext): StepBody<CopyStep> {
  const isAdd = cmd.kind === 'add';
  const from = cmd.from === '' ? undefined : fromStage(cmd.from, ctx);

  const chown = expandWord(ctx, cmd.chown);
  const chmodText = expandWord(ctx, cmd.chmod);
  const checksum = expandWord(ctx, cmd.checksum);
  const paths = cmd.sourcePaths.map((s) => expandWord(ctx, s));
  const dest = expandWord(ctx, cmd.dest);
  const env = ctx.state.env.toMap();
  const heredocs = cmd.sourceContents.map((c) => ({
    name: c.name,
    content: c.expand ? RAW_LEX.processWord(c.data, env) : c.data,
  }));

  const chmod = chmodText === '' ? undefined : parseChmod(chmodText);
  if (checksum !== '') {
    if (paths.length !== 1) throw new PlanFault("checksum can't be specified for multiple sources");
    if (!isHttpSource(paths[0]) && !isGitSource(paths[0]))
      throw new PlanFault('checksum requires HTTP(S) or Git sources');
  }
  const sources = paths.map((p): CopySource => {
    if (isGitSource(p)) {
      if (!isAdd) throw new PlanFault("source can't be a git ref for COPY");
      return { kind: 'git', url: p };
    }
    if (isHttpSource(p)) {
      if (!isAdd) throw new PlanFault("source can't be a URL for COPY");
      return { kind: 'url', url: p };
    }
    return { kind: 'path', path: p };
  });

  let createdBy = isAdd ? 'ADD' : 'COPY';
  if (cmd.parents) createdBy += ' --parents';
  if (chown !== '') createdBy += ` --chown=${chown}`;
  if (chmodText !== '') createdBy += ` --chmod=${chmodText}`;
  for (const p of paths) createdBy += ` ${p}`;
  for (const h of heredocs) createdBy += ` <<${h.name}`;
  createdBy += ` ${dest} # buildkit`;

  const step: StepBody<CopyStep> = {
    kind: cmd.kind,
    sources,
    heredocs,
    dest,
    destPath: destinationPath(ctx.state.workdir, dest),
    link: cmd.link,
    parents: cmd.parents,
    excludes: [...cmd.excludes],
    createdBy,
  };
  if (from) step.from = from;
  if (chown !== '') step.chown = chown;
  if (chmod) step.chmod = chmod;
  if (checksum !== '') step.checksum = checksum;
  if (cmd.keepGitDir !== undefined) step.keepGitDir = cmd.keepGitDir;
  if (cmd.unpack !== undefined) step.unpack = cmd.unpack;
  return step;
}

/** `COPY --from`: a stage must be defined before the one copying from it. */
function fromStage(from: string, ctx: DispatchContext): StageRef {
  const ref = copySource(from, ctx.headers, ctx.lex);
  if (ref.kind === 'stage' && ref.index >= ctx.stageIndex) {
    throw new PlanFault(
      `cannot copy from stage ${goQuote(from)}, it needs to be defined before current stage ${goQuote(ctx.headers[ctx.stageIndex].displayName)}`,
    );
  }
  return ref;
}

function isHttpSource(src: string): boolean {
  return (src.startsWith('http://') || src.startsWith('https://')) && !isGitSource(src);
}

/**
 * A git source the way BuildKit's ParseGitRef tells one from a local path: an explicit git transport, or an
 * HTTP(S) URL whose path ends in `.git` (`https://github.com/o/r.git#v1:dir`).
 */
export function isGitSource(src: string): boolean {
  if (/^(git:\/\/|ssh:\/\/|git@[^:/]+:)/.test(src)) return true;
  const m = /^https?:\/\/[^/?#]+(\/[^?#]*)?/.exec(src);
  return m !== null && m[1] !== undefined && m[1].endsWith('.git');
}
