/**
 * The one-way line between the rooms of src/ (docs/ARCHITECTURE.md) is enforced by `npm run lint`: the project's own
 * ESLint config, run as `npm run lint` runs it, on a file placed in a room that imports from a room above it.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const PROJECT = path.resolve(__dirname, '..', '..');

function lint(file: string, code: string): { status: number | null; output: string } {
  const r = spawnSync(
    process.execPath,
    [path.join(PROJECT, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--stdin', '--stdin-filename', file],
    { cwd: PROJECT, input: code, encoding: 'utf8' },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('rooms/one-way', () => {
  test.each([
    ['src/report/probe.ts', "import type { BuildOptions } from '../executor/build';", 'report', 'executor'],
    [
      'src/executor/sandbox/probe.ts',
      "import type { RunStep } from '../../planner/types';",
      'executor/sandbox',
      'planner',
    ],
    [
      'src/executor/sandbox/probe.ts',
      "export { KeyIndex } from '../../cache/key-index';",
      'executor/sandbox',
      'cache',
    ],
    ['src/store/probe.ts', "import type { Step } from '../planner/types';", 'store', 'planner'],
    ['src/layers/probe.ts', "import { ImageStore } from '../image/image-store';", 'layers', 'image'],
    ['src/cache/transfer/probe.ts', "import { build } from '../../executor/build';", 'cache', 'executor'],
    ['src/advice/probe.ts', "import type { KeyIndex } from '../cache/key-index';", 'advice', 'cache'],
    ['src/planner/probe.ts', "import { advise } from '../advice';", 'planner', 'advice'],
  ])('%s may not %s', (file, code, from, to) => {
    const r = lint(file, `${code}\nexport const probe = 1;\n`);
    expect(r.status).toBe(1);
    expect(r.output).toContain('rooms/one-way');
    expect(r.output).toContain(`'${from}'`);
    expect(r.output).toContain(`'${to}'`);
  });

  test.each([
    ['src/executor/probe.ts', "import type { KeyIndex } from '../cache/key-index';"],
    ['src/cache/probe.ts', "import { BlobStore } from '../store/blob-store';"],
    ['src/report/probe.ts', "import { explainMiss } from '../cache/explain';"],
    ['src/cli/commands/probe.ts', "import { build } from '../../executor/build';"],
    ['src/cache/transfer/probe.ts', "import type { KeyIndex } from '../key-index';"],
    ['src/advice/probe.ts', "import { planBuild } from '../planner';"],
    ['src/executor/probe.ts', "import { advise } from '../advice';"],
  ])('%s may %s', (file, code) => {
    const r = lint(
      file,
      `${code}\nexport const probe = (): unknown => [${code.match(/\{ (?:type )?(\w+)/)?.[1]}];\n`,
    );
    expect(r.output).not.toContain('rooms/one-way');
  });
});
