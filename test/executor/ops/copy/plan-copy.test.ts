/**
 * COPY planning without a build: which entries a COPY makes (globs, a directory's contents, excludes, symlinks
 * followed at the top only, --chown/--chmod, created parents) and which context files its key reads. Steps come
 * from the real parser and planner; the context is real files on disk.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { toContextEntry, walkContext } from '../../../../src/context';
import { BuildError } from '../../../../src/errors';
import { planCopy, type CopyPlan } from '../../../../src/executor/ops/copy/plan-copy';
import { sourceFromEntries } from '../../../../src/executor/ops/copy/source-fs';
import { StageFs } from '../../../../src/executor/stage-fs';
import type { CopyStep } from '../../../../src/planner';
import { tempDir, writeFiles } from '../../../helpers/build';
import { only, steps } from '../../../planner/helpers';

let ctx: string;
let tmp: string;
beforeAll(async () => {
  ctx = await tempDir('plan-copy-ctx');
  tmp = await tempDir('plan-copy-tmp');
  await writeFiles(ctx, {
    'a.ts': 'a',
    'b.ts': 'bb',
    'c.js': 'c',
    'src/x.ts': 'x',
    'src/docs/y.md': 'y',
    'src/z.md': 'z',
  });
  await fsp.symlink('a.ts', path.join(ctx, 'link-to-a'));
  await fsp.symlink('../a.ts', path.join(ctx, 'src/inner-link'));
});
afterAll(async () => {
  await fsp.rm(ctx, { recursive: true, force: true });
  await fsp.rm(tmp, { recursive: true, force: true });
});

function copyStep(instruction: string): CopyStep {
  return only(steps(`FROM scratch\n${instruction}\n`), 'copy');
}

async function plan(instruction: string, owner?: { uid: number; gid: number }): Promise<CopyPlan> {
  const walked = await walkContext(ctx, null);
  const source = sourceFromEntries(
    ctx,
    walked.map((w) => toContextEntry(w)),
    true,
    'build context',
  );
  return planCopy(copyStep(instruction), source, StageFs.empty(), {
    owner,
    dirTime: 0,
    tmpDir: tmp,
    location: { file: 'Dockerfile', line: 2, endLine: 2, text: instruction },
  });
}

const paths = (p: CopyPlan): string[] => p.entries.map((e) => e.path).sort();
const inputPaths = (p: CopyPlan): string[] => p.inputs.map((i) => i[0]).sort();

describe('planCopy', () => {
  it('a glob copies each match into the destination directory, which it creates', async () => {
    const p = await plan('COPY *.ts /app/');
    expect(paths(p)).toEqual(['app', 'app/a.ts', 'app/b.ts']);
    expect(inputPaths(p)).toEqual(['a.ts', 'b.ts']);
  });

  it('a directory source copies its contents, not the directory itself', async () => {
    const p = await plan('COPY src /app');
    expect(paths(p)).toEqual(['app', 'app/docs', 'app/docs/y.md', 'app/inner-link', 'app/x.ts', 'app/z.md']);
  });

  it('--exclude drops matches at any depth the pattern names, and they are not read for the key', async () => {
    const p = await plan('COPY --exclude=**/*.md src /app');
    expect(paths(p)).toEqual(['app', 'app/docs', 'app/inner-link', 'app/x.ts']);
    expect(inputPaths(p).some((i) => i.endsWith('.md'))).toBe(false);
  });

  it('a symlink named as the source is followed; one inside a copied directory is copied as a link', async () => {
    const top = await plan('COPY link-to-a /l');
    const l = top.entries.find((e) => e.path === 'l');
    expect(l).toMatchObject({ type: 'file', size: 1 });
    const inner = (await plan('COPY src /app')).entries.find((e) => e.path === 'app/inner-link');
    expect(inner).toMatchObject({ type: 'symlink', linkTarget: '../a.ts' });
  });

  it('a single file to a path without a trailing slash is that file; with one, a file inside it', async () => {
    expect(paths(await plan('COPY a.ts /renamed'))).toEqual(['renamed']);
    expect(paths(await plan('COPY a.ts /dir/'))).toEqual(['dir', 'dir/a.ts']);
  });

  it('--chown gives the copied entries and the directories it creates the owner (BuildKit mkdirAll with the chown), --chmod the mode of the copies only', async () => {
    const p = await plan('COPY --chown=1000:1001 --chmod=640 *.ts /deep/app/', { uid: 1000, gid: 1001 });
    const byPath = new Map(p.entries.map((e) => [e.path, e]));
    expect(byPath.get('deep/app/a.ts')).toMatchObject({ uid: 1000, gid: 1001, mode: 0o640 });
    expect(byPath.get('deep')).toMatchObject({ type: 'dir', uid: 1000, gid: 1001, mode: 0o755 });
  });

  it('a source that is not there is a BuildError naming it', async () => {
    await expect(plan('COPY missing.txt /x')).rejects.toThrow(BuildError);
    await expect(plan('COPY missing.txt /x')).rejects.toThrow(/missing\.txt/);
  });
});
