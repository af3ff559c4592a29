import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { displayInstruction } from '../executor/step-inputs';
import { parseDockerfile } from '../parser';
import { planBuild } from '../planner';
import type { HistoryContext } from '../report/explain-report';

/**
 * Stage names, bases and step lines from planning the Dockerfile as it is now. Best effort: the file may have
 * changed since the build or need build args; then steps are named by stage index only.
 */
export async function planInfo(
  dockerfile: string,
  target: string,
): Promise<Pick<HistoryContext, 'stages' | 'line'>> {
  try {
    const bytes = await fsp.readFile(dockerfile);
    const lines = bytes.toString('utf8').split(/\r?\n/);
    const name = path.basename(dockerfile);
    const plan = planBuild(parseDockerfile(bytes, { fileName: name }), {
      fileName: name,
      buildArgs: new Map(),
      target: /^stage-\d+$/.test(target) ? undefined : target,
      lines,
    });
    const stages = new Map<number, { name: string; base?: string; from?: string }>();
    const stepLines = new Map<string, number>();
    for (const s of plan.stages) {
      const base =
        s.base.kind === 'stage'
          ? `stage ${plan.stages[s.base.index]?.displayName ?? s.base.index}`
          : s.base.kind === 'image'
            ? `base image ${s.baseName}`
            : 'scratch';
      stages.set(s.index, { name: s.displayName, base, from: `FROM ${s.baseName}` });
      s.steps.forEach((step, i) =>
        stepLines.set(`${s.index}/${i + 2}|${displayInstruction(step)}`, step.line),
      );
    }
    return { stages, line: (position, instruction) => stepLines.get(`${position}|${instruction}`) };
  } catch {
    return {};
  }
}
