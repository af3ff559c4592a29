/**
 * One store, many processes: concurrent builds both land, and a build killed with SIGKILL at any moment
 * leaves a store the next build uses without complaint, producing an image skopeo and umoci accept.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  killAfter,
  listTree,
  requireE2e,
  startTsbuild,
  TempDirs,
  toolJson,
  tsbuild,
  tsbuildOk,
  unpack,
  writeTree,
  type Run,
} from '../helpers/e2e';
import { mountsUnder } from '../executor/sandbox/support/fixtures';

const temps = new TempDirs();
beforeAll(() => requireE2e('skopeo', 'umoci'));
afterAll(() => temps.cleanup());

/**
 * The sources go through a stage of their own, so that layer is written straight into a snapshot (another stage
 * reads it) while the final stage's layers are kept as tars: a kill can land in either kind of commit.
 */
const DOCKERFILE = [
  'FROM scratch AS sources',
  'COPY src/ /src/',
  '',
  'FROM scratch',
  'WORKDIR /srv',
  'COPY shared.txt ./',
  'COPY --from=sources /src ./src/',
  'COPY . /all/',
  '',
].join('\n');

/** A context of `count` files of a few KB under src/, spread over ten directories. */
async function bigContext(dir: string, count: number, tag: string): Promise<void> {
  const files: Record<string, string> = {
    Dockerfile: DOCKERFILE,
    'shared.txt': 'the same in every context\n',
  };
  for (let i = 0; i < count; i++) {
    files[`src/d${i % 10}/f${String(i).padStart(3, '0')}.txt`] =
      `${tag} ${i}\n${randomBytes(512 + i * 5).toString('base64')}\n`;
  }
  await writeTree(dir, files);
}

function describeRun(r: Run): string {
  return `exit ${r.status} signal ${r.signal}\n${r.stderr}`;
}

describe('one store, many processes', () => {
  test('two builds of different contexts started at once both succeed and both tags are in the store', async () => {
    const dir = await temps.make('concurrent');
    const root = path.join(dir, 'store');
    await bigContext(path.join(dir, 'one'), 60, 'one');
    await bigContext(path.join(dir, 'two'), 60, 'two');
    for (const round of [1, 2]) {
      if (round === 2) {
        await fsp.writeFile(path.join(dir, 'one', 'src/d1/extra.txt'), 'more one\n');
        await fsp.writeFile(path.join(dir, 'two', 'src/d2/extra.txt'), 'more two\n');
      }
      const [one, two] = await Promise.all(
        ['one', 'two'].map(
          (name) =>
            startTsbuild([
              '-t',
              `${name}:${round}`,
              '--progress',
              'plain',
              '--root',
              root,
              '-o',
              `type=oci,dest=${path.join(dir, `${name}-${round}`)}`,
              path.join(dir, name),
            ]).done,
        ),
      );
      for (const r of [one, two])
        if (r.status !== 0) throw new Error(`a concurrent build failed: ${describeRun(r)}`);
      for (const name of ['one', 'two']) {
        const inspect = await toolJson<{ Layers: string[] }>('skopeo', [
          'inspect',
          `oci:${path.join(dir, `${name}-${round}`)}:${round}`,
        ]);
        expect(inspect.Layers).toHaveLength(4);
      }
    }
    const images = await tsbuildOk(['images', '--root', root]);
    const listed = images.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(/\s+/).slice(0, 2).join(':'))
      .sort();
    expect(listed).toEqual(['one:1', 'one:2', 'two:1', 'two:2']);
    for (const tag of ['one:2', 'two:2']) {
      const inspect = await tsbuildOk(['inspect', '--root', root, tag]);
      expect(JSON.parse(inspect.stdout)).toMatchObject({ RepoTag: `docker.io/library/${tag}` });
    }
  });

  test('builds killed with SIGKILL at random moments leave a store the next build uses', async () => {
    const dir = await temps.make('sigkill');
    const root = path.join(dir, 'store');
    const ctx = path.join(dir, 'ctx');
    await bigContext(ctx, 300, 'big');

    const log: string[] = [];
    let killed = 0;
    for (let i = 0; i < 10; i++) {
      // New work every time, so no attempt is a pure cache hit.
      await fsp.writeFile(path.join(ctx, `src/d${i}/attempt.txt`), `attempt ${i}\n`);
      const { child, done } = startTsbuild(['-t', 'big:latest', '--progress', 'plain', '--root', root, ctx]);
      // Start-up touches no store: count from the first progress line, after which the whole build takes some
      // 150 ms here (a wider window lets fast builds finish first). Every other attempt is killed as the image is
      // being tagged instead (after the `image sha256:` line).
      const delay = await (i % 2 === 0
        ? killAfter(child, /^\[(\S+ )?1\/\d+\] FROM/m, 100)
        : killAfter(child, /^image sha256:/m, 20));
      const run = await done;
      log.push(
        `attempt ${i}: ${delay === null ? 'finished first' : `killed after ${delay} ms`}, ${describeRun(run)}`,
      );
      if (run.signal === 'SIGKILL') killed++;
      else if (run.status !== 0) throw new Error(`attempt ${i} failed on its own: ${describeRun(run)}`);
    }
    // Most attempts must really have been killed, or this tests nothing.
    if (killed < 7) throw new Error(`only ${killed} of 10 attempts were killed:\n${log.join('\n')}`);

    const layout = path.join(dir, 'layout');
    const after = await tsbuild([
      '-t',
      'big:latest',
      '--progress',
      'plain',
      '--root',
      root,
      '-o',
      `type=oci,dest=${layout}`,
      ctx,
    ]);
    if (after.status !== 0)
      throw new Error(`the build after the kills failed: ${describeRun(after)}\n${log.join('\n')}`);
    expect(after.stderr).not.toContain('    at ');
    // The views the killed builds had mounted came down when the next build started.
    expect(mountsUnder(root)).toEqual([]);
    // And `cache check` finds nothing broken: no half-made snapshot or blob under a final name.
    const check = await tsbuild(['cache', 'check', '--root', root]);
    expect(check.stdout).toMatch(/: no problems\n$/);
    const inspect = await toolJson<{ Layers: string[] }>('skopeo', ['inspect', `oci:${layout}:latest`]);
    expect(inspect.Layers).toHaveLength(4);
    const rootfs = await unpack(layout, 'latest', path.join(dir, 'bundle'));
    const files = (await listTree(rootfs)).filter((f) => f.endsWith('.txt'));
    // shared.txt, 300 sources and 10 attempt files, in /srv and again under /all.
    expect(files.filter((f) => f.startsWith('srv/'))).toHaveLength(311);
    expect(files.filter((f) => f.startsWith('all/'))).toHaveLength(311);
    expect(await fsp.readFile(path.join(rootfs, 'srv/src/d9/attempt.txt'), 'utf8')).toBe('attempt 9\n');

    // And the store stays consistent: the same build again is all hits, the same image.
    const again = await tsbuildOk(['-t', 'big:latest', '--progress', 'plain', '--root', root, ctx]);
    expect(again.stderr).toMatch(/^5\/5 steps cached \(100%\)/m);
    expect(again.stderr.match(/^image (sha256:\S+)$/m)?.[1]).toBe(
      after.stderr.match(/^image (sha256:\S+)$/m)?.[1],
    );
  });

  test('a build that hits every step still takes down what a killed build left mounted', async () => {
    const dir = await temps.make('stale-mount');
    const root = path.join(dir, 'store');
    const ctx = path.join(dir, 'ctx');
    await bigContext(ctx, 20, 'stale');
    await tsbuildOk(['-t', 'small:latest', '--progress', 'plain', '--root', root, ctx]);
    // What a build killed with a view mounted leaves: its runs dir, named for a pid that is gone, with a mount in it.
    const dead = spawnSync('true').pid;
    const stale = path.join(root, 'runs', `${dead}-0123456789ab`);
    const view = path.join(stale, 'view-0123456789abcdef');
    await fsp.mkdir(view, { recursive: true });
    expect(spawnSync('mount', ['--bind', '-o', 'ro', ctx, view]).status).toBe(0);
    expect(mountsUnder(root)).toEqual([view]);

    const again = await tsbuildOk(['-t', 'small:latest', '--progress', 'plain', '--root', root, ctx]);
    expect(again.stderr).toMatch(/^5\/5 steps cached \(100%\)/m);
    expect(mountsUnder(root)).toEqual([]);
    expect(await fsp.readdir(path.join(root, 'runs'))).toEqual([]);
  });
});
