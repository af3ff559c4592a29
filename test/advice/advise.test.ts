/**
 * advise(): the rules with the `# check=` directive applied (one rule skipped, all skipped, error=true), and the
 * context rule on real directories (.git and node_modules present or not, a .dockerignore that leaves them out or
 * not, `<Dockerfile>.dockerignore` winning, a context that is not the user's).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { advise, contextFacts, type Advice, type ContextLocation } from '../../src/advice';
import { BuildError } from '../../src/errors';
import { parseDockerfile } from '../../src/parser';
import { planBuild } from '../../src/planner';
import { tempDir, writeFiles } from '../helpers/build';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true }))));

async function context(files: Record<string, string>, subdirs: string[] = []): Promise<string> {
  const dir = await tempDir('advice-ctx');
  dirs.push(dir);
  await writeFiles(dir, files);
  for (const d of subdirs) await fsp.mkdir(path.join(dir, d), { recursive: true });
  return dir;
}

function adviseText(
  text: string,
  where: ContextLocation | null = null,
  buildArgs: Record<string, string> = {},
): Promise<Advice> {
  const bytes = Buffer.from(text);
  const args = new Map(Object.entries(buildArgs));
  const plan = planBuild(parseDockerfile(bytes), { fileName: 'Dockerfile', buildArgs: args });
  return advise({ plan, dockerfile: bytes, fileName: 'Dockerfile', buildArgs: args, context: where });
}

const SEVERAL = 'FROM debian\nRUN apt-get update\nRUN apt-get install -y x\nADD https://example.com/f /f\n';

describe('# check=', () => {
  test('without the directive every rule reports', async () => {
    const advice = await adviseText(SEVERAL);
    expect(advice.findings.map((f) => f.rule)).toEqual(['AptUpdateSeparate', 'AddUrlWithoutChecksum']);
    expect(advice.violation).toBeUndefined();
  });

  test('skip=Rule turns that rule off, and only that one', async () => {
    const advice = await adviseText(`# check=skip=AptUpdateSeparate\n${SEVERAL}`);
    expect(advice.findings.map((f) => [f.rule, f.line])).toEqual([['AddUrlWithoutChecksum', 5]]);
  });

  test('skip=all turns every rule off', async () => {
    expect((await adviseText(`# check=skip=all\n${SEVERAL}`)).findings).toEqual([]);
  });

  test('error=true makes findings a violation naming each rule once; none without findings', async () => {
    const advice = await adviseText(
      `# check=error=true\n${SEVERAL}RUN apt-get update\nRUN apt-get install y\n`,
    );
    expect(advice.findings).toHaveLength(3);
    expect(advice.violation).toEqual(
      new BuildError('lint violation found for rules: AptUpdateSeparate, AddUrlWithoutChecksum'),
    );
    expect((await adviseText('# check=error=true\nFROM debian\n')).violation).toBeUndefined();
    expect((await adviseText(`# check=skip=all;error=true\n${SEVERAL}`)).violation).toBeUndefined();
  });

  test('BUILDKIT_DOCKERFILE_CHECK replaces the directive', async () => {
    const advice = await adviseText(`# check=skip=all\n${SEVERAL}`, null, {
      BUILDKIT_DOCKERFILE_CHECK: 'skip=AddUrlWithoutChecksum',
    });
    expect(advice.findings.map((f) => f.rule)).toEqual(['AptUpdateSeparate']);
  });
});

describe('ContextWithoutDockerignore on a real context', () => {
  const COPY_ALL = 'FROM alpine\nCOPY . /app\nRUN true\n';
  const rulesIn = async (dir: string, dockerfilePath: string | null = null): Promise<string[]> =>
    (await adviseText(COPY_ALL, { dir, dockerfilePath })).findings.map((f) => f.rule);

  test('.git in a context with no .dockerignore', async () => {
    const dir = await context({ 'a.txt': 'a' }, ['.git']);
    expect(await contextFacts({ dir, dockerfilePath: null })).toEqual({
      ignoreFile: null,
      included: ['.git'],
    });
    expect(await rulesIn(dir)).toEqual(['ContextWithoutDockerignore']);
  });

  test('a .dockerignore that leaves out one of two: the other is named', async () => {
    const dir = await context({ '.dockerignore': '**/node_modules\n' }, ['.git', 'node_modules/x']);
    expect(await contextFacts({ dir, dockerfilePath: null })).toEqual({
      ignoreFile: path.join(dir, '.dockerignore'),
      included: ['.git'],
    });
  });

  test('a .dockerignore that leaves both out: quiet', async () => {
    const dir = await context({ '.dockerignore': '.git\nnode_modules\n' }, ['.git', 'node_modules']);
    expect(await rulesIn(dir)).toEqual([]);
  });

  test('<Dockerfile>.dockerignore wins over the context’s', async () => {
    const dir = await context({ '.dockerignore': '.git\n', 'app.Dockerfile.dockerignore': 'other\n' }, [
      '.git',
    ]);
    expect(await rulesIn(dir)).toEqual([]);
    expect(await rulesIn(dir, path.join(dir, 'app.Dockerfile'))).toEqual(['ContextWithoutDockerignore']);
  });

  test('neither .git nor node_modules: quiet; a context that is not the user’s: quiet', async () => {
    expect(await rulesIn(await context({ 'a.txt': 'a' }))).toEqual([]);
    const withGit = await context({}, ['.git']);
    expect((await adviseText(COPY_ALL, null)).findings).toEqual([]);
    expect(await rulesIn(withGit)).toEqual(['ContextWithoutDockerignore']);
  });

  test('a .dockerignore with a bad pattern: unknown, so quiet (the build reports the pattern)', async () => {
    const dir = await context({ '.dockerignore': '[\n' }, ['.git']);
    expect(await contextFacts({ dir, dockerfilePath: null })).toBeUndefined();
    expect(await rulesIn(dir)).toEqual([]);
  });
});
