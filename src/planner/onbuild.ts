/**
 * ONBUILD triggers: texts stored in a base's config (or a parent stage's ONBUILD steps), parsed again as one
 * instruction each and run as the first steps of the stage built on it. Like BuildKit, errors in a trigger point at
 * the FROM line of the stage that runs it.
 */
import { parseDockerfile } from '../parser';
import { DockerfileSyntaxError } from '../parser/errors';
import type { Command } from './commands';
import { PlanFault } from './fault';
import { parseCommand } from './parse-command';
import type { SourceSpan } from './types';

/** Parses `triggers` into commands marked fromOnBuild, located at `at` (the running stage's FROM). */
export function parseTriggers(triggers: readonly string[], at: SourceSpan): Command[] {
  return triggers.map((trigger) => parseTrigger(trigger, at));
}

function parseTrigger(trigger: string, at: SourceSpan): Command {
  let instructions;
  try {
    instructions = parseDockerfile(trigger).instructions;
  } catch (err) {
    if (err instanceof DockerfileSyntaxError) throw new PlanFault(err.message);
    throw err;
  }
  if (instructions.length !== 1) throw new PlanFault('onbuild trigger should be a single expression');
  const span: SourceSpan = { line: at.line, endLine: at.endLine, original: trigger };
  const cmd = parseCommand(instructions[0], span, true);
  if (cmd.kind === 'from') throw new PlanFault("FROM isn't allowed as an ONBUILD trigger");
  return cmd;
}
