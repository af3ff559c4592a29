/**
 * A `COPY --from` is keyed by its source stage's key first and, when that changed, by the content it copies
 * (BuildKit's content cache): a builder stage that was rebuilt but produced the same files leaves the copy and every
 * step after it cached, and the image the same.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { requireE2e, stepLines, TempDirs, tsbuildOk, writeTree } from '../helpers/e2e';

const temps = new TempDirs();
beforeAll(() => requireE2e());
afterAll(() => temps.cleanup());

const DOCKERFILE = [
  'FROM scratch AS builder',
  'COPY src/ /src/',
  'COPY out.txt /out/out.txt',
  '',
  'FROM scratch',
  'COPY --from=builder /out/ /app/',
  'COPY after.txt /',
  '',
].join('\n');

async function build(root: string, ctx: string): Promise<{ lines: string[]; image: string | undefined }> {
  const run = await tsbuildOk(['-t', 'content:latest', '--progress', 'plain', '--root', root, ctx]);
  return { lines: stepLines(run.stderr), image: run.stderr.match(/^image (sha256:\S+)$/m)?.[1] };
}

const cached = (lines: string[]): boolean[] => lines.map((l) => l.endsWith('  CACHED'));

test('a rebuilt builder stage with the same output leaves the copy and what follows cached', async () => {
  const dir = await temps.make('from-content');
  const root = path.join(dir, 'store');
  const ctx = path.join(dir, 'ctx');
  await writeTree(ctx, {
    Dockerfile: DOCKERFILE,
    'src/main.c': 'int main(void) { return 0; }\n',
    'out.txt': 'the build output\n',
    'after.txt': 'after\n',
  });
  const first = await build(root, ctx);
  // The second FROM scratch stands where the first did: a hit.
  expect(cached(first.lines)).toEqual([false, false, false, true, false, false]);

  // The builder's sources change, its output does not: the builder reruns, the final stage does not.
  await fsp.writeFile(path.join(ctx, 'src/main.c'), 'int main(void) { return 1; }\n');
  const same = await build(root, ctx);
  expect(cached(same.lines)).toEqual([true, false, false, true, true, true]);
  expect(same.image).toBe(first.image);

  // The output changes: the copy misses, and so does the step standing on it.
  await fsp.writeFile(path.join(ctx, 'out.txt'), 'another output\n');
  const changed = await build(root, ctx);
  expect(cached(changed.lines)).toEqual([true, true, false, true, false, false]);
  expect(changed.lines[5]).toContain('parent step missed');
  expect(changed.image).not.toBe(first.image);

  // And back to the builder of the second build: the final stage's keys are all known, so the builder is not even
  // run (keyed ahead), and the image is the first one again.
  await fsp.writeFile(path.join(ctx, 'out.txt'), 'the build output\n');
  const back = await build(root, ctx);
  expect(cached(back.lines)).toEqual([true, true, true]);
  expect(back.image).toBe(first.image);
});
