/**
 * `COPY --link` as BuildKit (with MergeOp) does it: the layer is made on an empty filesystem and keyed without the
 * stage's files, so a change below it (the base) reuses it and reruns only the steps that are not linked; the image
 * keeps the Dockerfile's layer order; names in `--chown` are refused, and `--chmod` turns the link off.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  listTree,
  modeOwner,
  requireE2e,
  stepLines,
  TempDirs,
  toolJson,
  tsbuild,
  tsbuildOk,
  unpack,
  writeTree,
} from '../helpers/e2e';

const temps = new TempDirs();
beforeAll(() => requireE2e('skopeo', 'umoci'));
afterAll(() => temps.cleanup());

const DOCKERFILE = [
  'FROM scratch AS base',
  'COPY base.txt /',
  'COPY --chown=5:6 app/ /app/',
  '',
  'FROM base',
  'COPY --link linked.txt /app/',
  'COPY --link --chown=7:8 linked.txt /opt/deep/linked.txt',
  'COPY plain.txt /app/',
  '',
].join('\n');

async function context(dir: string, base: string): Promise<void> {
  await writeTree(dir, {
    Dockerfile: DOCKERFILE,
    'base.txt': base,
    'app/keep.txt': 'kept\n',
    'linked.txt': 'linked\n',
    'plain.txt': 'plain\n',
  });
}

function build(root: string, ctx: string, extra: string[] = []): Promise<{ stderr: string }> {
  return tsbuildOk(['-t', 'link:latest', '--progress', 'plain', '--root', root, ...extra, ctx]);
}

const cached = (lines: string[]): boolean[] => lines.map((l) => l.endsWith('  CACHED'));

describe('COPY --link', () => {
  test('a base change reuses every linked layer and reruns only the steps that are not linked', async () => {
    const dir = await temps.make('link');
    const root = path.join(dir, 'store');
    const ctx = path.join(dir, 'ctx');
    await context(ctx, 'base 1\n');
    await build(root, ctx);

    await fsp.writeFile(path.join(ctx, 'base.txt'), 'base 2\n');
    const again = await build(root, ctx);
    const lines = stepLines(again.stderr);
    // base: FROM, COPY base.txt (changed), COPY app/ (its parent changed); final: FROM (a new base), the two linked
    // COPYs (reused), COPY plain.txt (stands on the merged filesystem, which changed).
    expect(lines).toHaveLength(7);
    expect(cached(lines)).toEqual([true, false, false, false, true, true, false]);
    expect(lines[6]).toContain('(miss: stage base changed below the linked layers)');

    // The image has every layer in the Dockerfile's order, and the files as BuildKit merges them.
    const layout = path.join(dir, 'layout');
    await build(root, ctx, ['-o', `type=oci,dest=${layout}`]);
    const inspect = await toolJson<{ Layers: string[] }>('skopeo', ['inspect', `oci:${layout}:latest`]);
    expect(inspect.Layers).toHaveLength(5);
    const rootfs = await unpack(layout, 'latest', path.join(dir, 'bundle'));
    expect(await listTree(rootfs)).toEqual([
      'app',
      'app/keep.txt',
      'app/linked.txt',
      'app/plain.txt',
      'base.txt',
      'opt',
      'opt/deep',
      'opt/deep/linked.txt',
    ]);
    expect(await fsp.readFile(path.join(rootfs, 'base.txt'), 'utf8')).toBe('base 2\n');
    // The linked layer's /app (made on an empty filesystem, root's) is merged over the base's (owned 5:6).
    expect(await modeOwner(path.join(rootfs, 'app'))).toBe('0755 0:0');
    expect(await modeOwner(path.join(rootfs, 'app/keep.txt'))).toMatch(/ 5:6$/);
    expect(await modeOwner(path.join(rootfs, 'opt/deep/linked.txt'))).toMatch(/ 7:8$/);
  });

  test('--chown by name is refused at the step; --chmod turns the link off', async () => {
    const dir = await temps.make('link-owner');
    const root = path.join(dir, 'store');
    const ctx = path.join(dir, 'ctx');
    await writeTree(ctx, {
      Dockerfile: 'FROM scratch\nCOPY --link --chown=app a.txt /a.txt\n',
      'a.txt': 'a\n',
    });
    const refused = await tsbuild(['--progress', 'plain', '--root', root, ctx]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('Dockerfile:2');
    expect(refused.stderr).toContain('--link --chown=app: a linked copy is made without the stage');
    expect(refused.stderr).not.toContain('    at ');

    await writeTree(ctx, {
      Dockerfile: 'FROM scratch AS base\nCOPY base.txt /\nFROM base\nCOPY --link --chmod=600 a.txt /a.txt\n',
      'base.txt': '1\n',
    });
    await build(root, ctx);
    await fsp.writeFile(path.join(ctx, 'base.txt'), '2\n');
    const again = await build(root, ctx);
    // Not linked: it stands on the base, which changed.
    expect(cached(stepLines(again.stderr))).toEqual([true, false, false, false]);
  });
});
