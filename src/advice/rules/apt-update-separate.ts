/**
 * `AptUpdateSeparate`: `apt-get update` (or `apt update`) in a RUN that installs nothing, while a later RUN (in the
 * stage or a stage built FROM it) runs `apt-get install`: Docker's best-practice case. The update's layer stays
 * cached with the package index of the day it ran.
 */
import type { Stage } from '../../planner/types';
import { lineIn, stepFinding } from '../finding';
import { positionals, runCommands } from '../shell-commands';
import type { AdviceInput, Finding, Rule } from '../types';

const APT = new Set(['apt-get', 'apt']);
const INSTALLS = new Set(['install', 'upgrade', 'dist-upgrade', 'full-upgrade']);

interface AptUse {
  update: boolean;
  install?: string;
}

function aptUse(commands: readonly string[][]): AptUse {
  const use: AptUse = { update: false };
  for (const words of commands) {
    const tool = words[0]?.replace(/^.*\//, '');
    if (tool === undefined || !APT.has(tool)) continue;
    const sub = positionals(words)[0];
    if (sub === 'update') use.update = true;
    else if (sub !== undefined && INSTALLS.has(sub)) use.install ??= `${tool} ${sub}`;
  }
  return use;
}

interface LoneUpdate {
  stage: Stage;
  position: number;
  tool: string;
}

export const aptUpdateSeparate: Rule = {
  name: 'AptUpdateSeparate',
  why: 'the cached update layer keeps an old package index: a later change to the install line installs stale versions (or fails on packages gone from the mirror), and the index is dead weight in the image',
  check({ plan }: AdviceInput): Finding[] {
    const out: Finding[] = [];
    const pendingAtEnd = new Map<number, LoneUpdate[]>();
    // Two stages built FROM the one with the lone update may both install: it is reported once.
    const reported = new Set<LoneUpdate>();
    for (const stage of plan.stages) {
      let pending = stage.base.kind === 'stage' ? [...(pendingAtEnd.get(stage.base.index) ?? [])] : [];
      stage.steps.forEach((step, i) => {
        if (step.kind !== 'run') return;
        const commands = runCommands(step);
        const use = aptUse(commands);
        if (use.install !== undefined) {
          for (const lone of pending) {
            if (reported.has(lone)) continue;
            reported.add(lone);
            const at = lineIn(step.line, stage, lone.stage);
            out.push(
              stepFinding(
                aptUpdateSeparate,
                lone.stage,
                lone.position,
                `${lone.tool} update runs alone in this RUN and ${use.install} comes in a later one (${at}): ` +
                  `run them in one RUN (apt-get update && apt-get install -y …)`,
              ),
            );
          }
          pending = [];
        }
        if (use.update && use.install === undefined && !step.fromOnBuild) {
          const tool = commands.find((w) => APT.has(w[0]?.replace(/^.*\//, '') ?? ''))?.[0] ?? 'apt-get';
          pending.push({ stage, position: i, tool });
        }
      });
      pendingAtEnd.set(stage.index, pending);
    }
    return out;
  },
};
