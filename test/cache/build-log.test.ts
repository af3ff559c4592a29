/**
 * The build log in a real store dir: builds appended and read back oldest first, bounded per Dockerfile and
 * target, the latest of a group carried by an exported cache, imported builds merged by id, malformed records
 * refused, a damaged file skipped, and no temp file left behind.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  appendBuildLog,
  carriedBuilds,
  isLoggedBuild,
  MAX_CARRIED_BUILDS,
  MAX_LOGGED_BUILDS,
  mergeBuildLog,
  newBuildId,
  readBuildLog,
  type LoggedBuild,
  type LoggedStep,
} from '../../src/cache/build-log';

let root: string;

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-build-log-'));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 0, 1);

const STEPS: LoggedStep[] = [
  {
    position: '0/1',
    stage: 'stage-0',
    index: 1,
    line: 1,
    instruction: 'FROM alpine:3.20',
    cache: 'hit',
    imported: true,
    durationMs: 2,
  },
  {
    position: '0/2',
    stage: 'stage-0',
    index: 2,
    line: 2,
    instruction: 'RUN make',
    cache: 'miss',
    reason: '1 file changed: src/a.c (content)',
    durationMs: 1500,
  },
];

/** A build finished `n` seconds after T0. */
function logged(n: number, where: { dockerfile?: string; target?: string } = {}): LoggedBuild {
  return {
    version: 1,
    id: newBuildId(),
    finishedAt: new Date(T0 + n * 1000).toISOString(),
    dockerfile: where.dockerfile ?? 'Dockerfile',
    target: where.target ?? '',
    durationMs: 1502,
    steps: STEPS,
  };
}

/** Every file under the build log, relative to it. */
async function files(): Promise<string[]> {
  const dir = path.join(root, 'build-log');
  const out: string[] = [];
  for (const group of await fsp.readdir(dir)) {
    for (const name of await fsp.readdir(path.join(dir, group))) out.push(`${group}/${name}`);
  }
  return out.sort();
}

describe('build log', () => {
  it('a build appended is read back as it was', async () => {
    const b = logged(1);
    await appendBuildLog(root, b);
    expect(await readBuildLog(root)).toEqual([b]);
    const [name] = await files();
    expect(name).toMatch(new RegExp(`^[0-9a-f]{16}/${T0 + 1000}-${b.id}\\.json$`));
  });

  it('an empty store has no builds', async () => {
    expect(await readBuildLog(root)).toEqual([]);
    expect(await carriedBuilds(root, 'Dockerfile', '')).toEqual([]);
  });

  it('oldest first, across Dockerfiles and targets, whatever order they came in', async () => {
    const builds = [
      logged(3),
      logged(1, { dockerfile: 'app.Dockerfile' }),
      logged(2, { target: 'test' }),
      logged(4),
    ];
    for (const b of builds) await appendBuildLog(root, b);
    expect((await readBuildLog(root)).map((b) => b.finishedAt)).toEqual(
      [1, 2, 3, 4].map((n) => new Date(T0 + n * 1000).toISOString()),
    );
    // One directory per Dockerfile and target.
    expect(new Set((await files()).map((f) => f.split('/')[0])).size).toBe(3);
  });

  it(`keeps the latest ${MAX_LOGGED_BUILDS} builds of a Dockerfile and target, and every other group`, async () => {
    const other = logged(0, { target: 'test' });
    await appendBuildLog(root, other);
    const all: LoggedBuild[] = [];
    for (let i = 1; i <= MAX_LOGGED_BUILDS + 5; i++) {
      const b = logged(i);
      all.push(b);
      await appendBuildLog(root, b);
    }
    const kept = await readBuildLog(root);
    expect(kept).toHaveLength(MAX_LOGGED_BUILDS + 1);
    expect(kept[0].id).toBe(other.id);
    expect(kept.slice(1).map((b) => b.id)).toEqual(all.slice(5).map((b) => b.id));
    expect(await files()).toHaveLength(MAX_LOGGED_BUILDS + 1);
  });

  it(`an exported cache carries the latest ${MAX_CARRIED_BUILDS} builds of its group only`, async () => {
    const mine: LoggedBuild[] = [];
    for (let i = 1; i <= MAX_CARRIED_BUILDS + 3; i++) {
      // Another Dockerfile's and another target's builds in between, later than some of these.
      if (i % 10 === 0) await appendBuildLog(root, logged(i * 10, { dockerfile: 'app.Dockerfile' }));
      if (i % 10 === 5) await appendBuildLog(root, logged(i * 10, { target: 'test' }));
      const b = logged(i);
      mine.push(b);
      await appendBuildLog(root, b);
    }
    const carried = await carriedBuilds(root, 'Dockerfile', '');
    expect(carried.map((b) => b.id)).toEqual(mine.slice(-MAX_CARRIED_BUILDS).map((b) => b.id));
    expect(carried.every((b) => b.dockerfile === 'Dockerfile' && b.target === '')).toBe(true);
    const test = await carriedBuilds(root, 'Dockerfile', 'test');
    expect(test.map((b) => b.target)).toEqual(['test', 'test', 'test', 'test', 'test']);
    expect(await carriedBuilds(root, 'Nope', '')).toEqual([]);
  });

  it('merging adds only builds whose ids the store does not know, and says how many', async () => {
    const own = logged(2);
    await appendBuildLog(root, own);
    const before = logged(1);
    const elsewhere = logged(3, { target: 'test' });
    // The store's own build carried back, with a changed record: the store's copy stays.
    const back: LoggedBuild = { ...own, durationMs: 9 };
    expect(await mergeBuildLog(root, [before, back, elsewhere])).toBe(2);
    expect(await readBuildLog(root)).toEqual([before, own, elsewhere]);
    expect(await mergeBuildLog(root, [before, back, elsewhere])).toBe(0);
    expect(await mergeBuildLog(root, [])).toBe(0);
    expect(await files()).toHaveLength(3);
  });

  it('the same build carried by two imported caches is added once', async () => {
    const b = logged(1);
    expect(await mergeBuildLog(root, [b, { ...b }])).toBe(1);
    expect(await readBuildLog(root)).toEqual([b]);
  });

  it(`merging keeps the bound: a group full of newer builds drops the older ones merged`, async () => {
    for (let i = 100; i < 100 + MAX_LOGGED_BUILDS; i++) await appendBuildLog(root, logged(i));
    const old = [logged(1), logged(2)];
    const newer = logged(1000);
    await mergeBuildLog(root, [...old, newer]);
    const kept = await readBuildLog(root);
    expect(kept).toHaveLength(MAX_LOGGED_BUILDS);
    expect(kept.map((b) => b.id)).not.toContain(old[0].id);
    expect(kept[kept.length - 1].id).toBe(newer.id);
    expect(kept[0].finishedAt).toBe(new Date(T0 + 101_000).toISOString());
  });

  it('a damaged file or a record of another shape is skipped', async () => {
    const good = logged(1);
    await appendBuildLog(root, good);
    const [groupDir] = (await files()).map((f) => path.join(root, 'build-log', f.split('/')[0]));
    await fsp.writeFile(path.join(groupDir, `${T0 + 2000}-${'a'.repeat(16)}.json`), '{"version": 1, "id": ');
    await fsp.writeFile(path.join(groupDir, `${T0 + 3000}-${'b'.repeat(16)}.json`), '{"version": 2}\n');
    await fsp.writeFile(path.join(groupDir, `${T0 + 4000}-${'c'.repeat(16)}.json`), 'null\n');
    // Not a log file's name at all: not read.
    await fsp.writeFile(path.join(groupDir, 'notes.txt'), 'hello\n');
    expect(await readBuildLog(root)).toEqual([good]);
    expect(await carriedBuilds(root, 'Dockerfile', '')).toEqual([good]);
  });

  it('no temp file is left behind', async () => {
    for (let i = 1; i <= 5; i++) await appendBuildLog(root, logged(i));
    await mergeBuildLog(root, [logged(0), logged(6, { target: 'test' })]);
    const names = await files();
    expect(names).toHaveLength(7);
    for (const f of names) expect(f).toMatch(/^[0-9a-f]{16}\/\d{13,}-[0-9a-f]{16}\.json$/);
  });
});

describe('isLoggedBuild', () => {
  const good = logged(1);
  const omit = (o: object, key: string): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
  const without = (key: keyof LoggedBuild): Record<string, unknown> => omit(good, key);
  const withStep = (over: Record<string, unknown>): Record<string, unknown> => ({
    ...good,
    steps: [STEPS[0], { ...STEPS[1], ...over }],
  });
  const stepWithout = (key: keyof LoggedStep): Record<string, unknown> => ({
    ...good,
    steps: [omit(STEPS[1], key)],
  });

  it('takes a build as the log writes it, survived through JSON', () => {
    expect(isLoggedBuild(good)).toBe(true);
    expect(isLoggedBuild(JSON.parse(JSON.stringify(good)))).toBe(true);
    expect(isLoggedBuild({ ...good, steps: [] })).toBe(true);
  });

  it('refuses what is not one', () => {
    const bad: [string, unknown][] = [
      ['null', null],
      ['a string', 'build'],
      ['an array', [good]],
      ['version 2', { ...good, version: 2 }],
      ['an id too short', { ...good, id: 'abc' }],
      ['an id not hex', { ...good, id: 'z'.repeat(16) }],
      ['an id with a path in it', { ...good, id: '../../../etc/pw' }],
      ['a time that is no time', { ...good, finishedAt: 'yesterday' }],
      ['a numeric dockerfile', { ...good, dockerfile: 1 }],
      ['a duration as text', { ...good, durationMs: '5' }],
      ['steps not a list', { ...good, steps: {} }],
      ['no id', without('id')],
      ['no steps', without('steps')],
      ['no target', without('target')],
      ['no finishedAt', without('finishedAt')],
      ['a step cache of another word', withStep({ cache: 'skipped' })],
      ['a step reason not text', withStep({ reason: 3 })],
      ['a step index as text', withStep({ index: '2' })],
      ['a step null', { ...good, steps: [null] }],
      ['a step without its position', stepWithout('position')],
      ['a step without its duration', stepWithout('durationMs')],
      ['a step without its instruction', stepWithout('instruction')],
    ];
    for (const [what, v] of bad) expect([what, isLoggedBuild(v)]).toEqual([what, false]);
  });
});
