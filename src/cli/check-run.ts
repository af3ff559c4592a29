/**
 * What `tsbuild check` does, apart from flags and printing: find the Dockerfile and context as `build` does (or
 * take a Dockerfile given alone, its directory as the context), plan it with the build args and target, ask the
 * advice room, and let an optional annotator add a note to each finding (what the cache history says it cost).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { advise, type Finding, type FindingAnnotator } from '../advice';
import type { BuildError } from '../errors';
import { DockerfileText } from '../executor/dockerfile-text';
import { planBuild } from '../planner';
import { resolveBuildInput, type BuildInputOptions } from './build-input';

export interface CheckRequest {
  /** The positional argument: a context (directory, `-`, URL) as `build` takes it, or a Dockerfile. */
  context: string;
  /** `-f`. */
  file?: string;
  /** The store, for a scratch context and for the annotator. */
  root: string;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  stdin: () => AsyncIterable<Uint8Array>;
  warn: (line: string) => void;
}

export interface CheckResult {
  /** The Dockerfile as named in messages. */
  fileName: string;
  findings: Finding[];
  /** One per finding, from the annotator; all undefined without one. */
  notes: (string | undefined)[];
  /** With `# check=error=true` and findings: the error the command ends with (exit 1). */
  violation?: BuildError;
}

export async function runCheck(req: CheckRequest, annotate?: FindingAnnotator): Promise<CheckResult> {
  const input = await checkInput(req);
  try {
    const { options } = input;
    const dockerfile =
      options.dockerfileText !== undefined
        ? DockerfileText.parse(options.dockerfileText, options.dockerfileName)
        : await DockerfileText.read(options.dockerfilePath, options.dockerfileName);
    const plan = planBuild(dockerfile.parsed, {
      fileName: options.dockerfileName,
      buildArgs: req.buildArgs,
      target: req.target,
      lines: dockerfile.lines,
    });
    const advice = await advise({
      plan,
      dockerfile: dockerfile.bytes,
      fileName: options.dockerfileName,
      buildArgs: req.buildArgs,
      context: options.scratchContext
        ? null
        : {
            dir: options.contextDir,
            dockerfilePath: options.dockerfileText === undefined ? options.dockerfilePath : null,
          },
    });
    const notes =
      annotate !== undefined && advice.findings.length > 0
        ? [
            ...(await annotate(advice.findings, {
              root: req.root,
              dockerfilePath: options.dockerfilePath,
              target: plan.stages[plan.target].displayName,
              dockerfileName: options.dockerfileName,
              requestedTarget: req.target?.toLowerCase() ?? '',
            })),
          ]
        : [];
    return {
      fileName: options.dockerfileName,
      findings: advice.findings,
      notes: advice.findings.map((_, i) => notes[i]),
      ...(advice.violation ? { violation: advice.violation } : {}),
    };
  } finally {
    await input.cleanup();
  }
}

/** `check FILE`: a Dockerfile given where a context goes, with no `-f`, is checked with its directory as context. */
async function checkInput(
  req: CheckRequest,
): Promise<{ options: BuildInputOptions; cleanup: () => Promise<void> }> {
  if (req.file === undefined && req.context !== '-') {
    const stat = await fsp.stat(req.context).catch(() => undefined);
    if (stat?.isFile()) {
      const dockerfilePath = path.resolve(req.context);
      return {
        options: {
          contextDir: path.dirname(dockerfilePath),
          dockerfilePath,
          dockerfileName: req.context,
        },
        cleanup: async () => undefined,
      };
    }
  }
  return resolveBuildInput({
    context: req.context,
    file: req.file,
    root: req.root,
    stdin: req.stdin,
    warn: req.warn,
  });
}
