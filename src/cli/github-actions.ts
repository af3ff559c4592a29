/**
 * GitHub Actions, where many of these builds run: the cache report goes into the job's summary page, and a failed
 * build marks the Dockerfile line in the pull request (a workflow command on stdout). Nothing happens elsewhere.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { TsbuildError } from '../errors';

type Env = Readonly<Record<string, string | undefined>>;

/** Appends the markdown report to `$GITHUB_STEP_SUMMARY` when the job has one; whether it did. */
export async function appendStepSummary(markdown: string, env: Env = process.env): Promise<boolean> {
  const file = env.GITHUB_STEP_SUMMARY;
  if (file === undefined || file === '') return false;
  // The runner's file, shared by every step of the job: appended to, never replaced.
  await fsp.appendFile(file, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return true;
}

/**
 * `::error file=Dockerfile,line=12,endLine=13,title=…::message` for an error that points into a file, under GitHub
 * Actions only; undefined otherwise. The path is the repository's (relative to `$GITHUB_WORKSPACE`), which is how
 * the annotation finds the file in the diff.
 */
export function errorAnnotation(
  err: TsbuildError,
  env: Env = process.env,
  cwd = process.cwd(),
): string | undefined {
  if (env.GITHUB_ACTIONS !== 'true') return undefined;
  const loc = err.location;
  const props: string[] = [];
  if (loc) {
    const workspace =
      env.GITHUB_WORKSPACE !== undefined && env.GITHUB_WORKSPACE !== '' ? env.GITHUB_WORKSPACE : cwd;
    const file = path.relative(workspace, path.resolve(cwd, loc.file)).split(path.sep).join('/');
    props.push(`file=${escapeProperty(file)}`);
    if (loc.line > 0) {
      props.push(`line=${loc.line}`);
      if (loc.endLine !== undefined && loc.endLine !== loc.line) props.push(`endLine=${loc.endLine}`);
    }
  }
  props.push(`title=${escapeProperty('tsbuild: build failed')}`);
  return `::error ${props.join(',')}::${escapeData(err.message)}`;
}

/** The escapes of GitHub's workflow commands (toolkit's `escapeData`/`escapeProperty`). */
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
