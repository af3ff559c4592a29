import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../src/errors';
import { parseDockerfile } from '../../src/parser';
import { planBuild, type BuildPlan } from '../../src/planner';
import { caseDirs, conformancePath } from '../helpers/conformance';
import { AMD64 } from './helpers';

/**
 * Real Dockerfiles (Docker Official Images, BuildKit's and buildx's own, other builders' edge cases) must plan
 * without a crash: either a plan, or a UserError for what BuildKit also refuses.
 */
function planFile(file: string, target?: string): BuildPlan | UserError {
  const text = fs.readFileSync(file, 'utf8');
  const df = parseDockerfile(text);
  try {
    return planBuild(df, {
      fileName: 'Dockerfile',
      buildArgs: new Map(),
      target,
      platform: AMD64,
      buildPlatform: AMD64,
      lines: text.split('\n'),
    });
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
}

const dirs = caseDirs('real-dockerfiles');

describe('real Dockerfiles', () => {
  test('the corpus is there', () => {
    expect(dirs.length).toBeGreaterThan(40);
  });

  test.each(dirs)('%s plans', (name) => {
    const file = path.join(conformancePath('real-dockerfiles'), name, 'Dockerfile');
    const result = planFile(file);
    if (result instanceof UserError) {
      // Only what BuildKit itself refuses at this stage may fail; print it so a regression is obvious.
      expect(result.format()).toMatch(/^Dockerfile:\d+: /);
      return;
    }
    expect(result.needed).toContain(result.target);
    for (const stage of result.stages) {
      if (!stage.needed) continue;
      expect(stage.planError).toBeUndefined();
      for (const step of stage.steps) expect(step.line).toBeGreaterThanOrEqual(stage.line);
    }
    // Every named stage can be a target too.
    for (const stage of result.stages) {
      if (stage.name === undefined) continue;
      const again = planFile(file, stage.name);
      if (!(again instanceof UserError)) expect(again.target).toBe(stage.index);
    }
  });
});
