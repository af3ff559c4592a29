import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { contextEntries } from '../../../src/context';
import { materializeContextMount } from '../../../src/executor/ops/context-mount';
import { sourceFromEntries } from '../../../src/executor/ops/copy/source-fs';
import { acquireCacheDir } from '../../../src/executor/sandbox/cache-mounts';
import { resolveRunMounts, type MountSources } from '../../../src/executor/ops/run-mounts';
import { BuildError } from '../../../src/errors';
import type { RunMount } from '../../../src/planner/types';
import { mountsUnder, requireRoot, tempDir } from '../sandbox/support/fixtures';

requireRoot();

let dir: string;
let ctx: string;
let src: MountSources;
let mountsBefore: string[];

beforeEach(async () => {
  dir = await tempDir('mounts');
  ctx = path.join(dir, 'ctx');
  const stage = path.join(dir, 'stage');
  await fsp.mkdir(path.join(ctx, 'src'), { recursive: true });
  await fsp.writeFile(path.join(ctx, 'src/main.c'), 'int main;');
  await fsp.symlink('/../../../../etc', path.join(ctx, 'escape'));
  await fsp.mkdir(path.join(stage, 'usr/lib'), { recursive: true });
  await fsp.writeFile(path.join(stage, 'usr/lib/libx.so'), 'lib');
  src = {
    root: path.join(dir, 'root'),
    contextMount: async (source, dest) => {
      const context = sourceFromEntries(ctx, await contextEntries(ctx), true, 'build context');
      await materializeContextMount(context, source, dest);
    },
    sourceDir: async (from) => {
      if (from.kind !== 'stage') throw new Error('only stages here');
      return stage;
    },
    secrets: new Map([['token', Buffer.from('t0k3n')]]),
    scratch: path.join(dir, 'scratch'),
  };
  mountsBefore = mountsUnder(dir);
});

afterEach(async () => {
  expect(mountsUnder(dir)).toEqual(mountsBefore);
  await fsp.rm(dir, { recursive: true, force: true });
});

const bind = (extra: Partial<Extract<RunMount, { type: 'bind' }>>): RunMount => ({
  type: 'bind',
  target: '/mnt',
  source: '/',
  readOnly: true,
  ...extra,
});

describe('resolveRunMounts', () => {
  it('binds a context or stage path read-only, resolved inside its root', async () => {
    const r = await resolveRunMounts(
      [
        bind({ source: '/src' }),
        bind({ target: '/libs', source: 'usr/lib', from: { kind: 'stage', index: 0 } }),
      ],
      src,
    );
    // The context part is a copy made for the run (the context as the build sees it), under the run's scratch.
    const copy = path.join(dir, 'scratch', 'context-0');
    expect(r.mounts).toEqual([
      { type: 'bind', source: copy, target: '/mnt', readOnly: true },
      { type: 'bind', source: path.join(dir, 'stage/usr/lib'), target: '/libs', readOnly: true },
    ]);
    expect(await fsp.readFile(path.join(copy, 'main.c'), 'utf8')).toBe('int main;');
    await r.release();
  });

  it('never resolves a bind source through a symlink out of the context', async () => {
    // /escape -> /../../../../etc is /etc inside the context, which does not exist.
    await expect(resolveRunMounts([bind({ source: '/escape/passwd' })], src)).rejects.toThrow(
      /mount source \/escape\/passwd does not exist in the build context/,
    );
  });

  it('gives an rw bind a throwaway layer: writable, and the source never changes', async () => {
    const r = await resolveRunMounts([bind({ source: '/src', readOnly: false })], src);
    const view = (r.mounts[0] as { source: string }).source;
    expect(view).not.toBe(path.join(ctx, 'src'));
    await fsp.writeFile(path.join(view, 'main.c'), 'changed');
    await fsp.writeFile(path.join(view, 'new.c'), 'new');
    await r.release();
    expect(await fsp.readdir(path.join(ctx, 'src'))).toEqual(['main.c']);
    expect(await fsp.readFile(path.join(ctx, 'src/main.c'), 'utf8')).toBe('int main;');
  });

  it('hands secrets over as files and environment, and fails only for a missing required one', async () => {
    const r = await resolveRunMounts(
      [
        {
          type: 'secret',
          id: 'token',
          target: '/run/secrets/token',
          required: false,
          mode: 0o400,
          uid: 0,
          gid: 0,
        },
        { type: 'secret', id: 'token', env: 'TOKEN', required: false, mode: 0o400, uid: 0, gid: 0 },
        {
          type: 'secret',
          id: 'absent',
          target: '/run/secrets/absent',
          required: false,
          mode: 0o400,
          uid: 0,
          gid: 0,
        },
      ],
      src,
    );
    expect(r.mounts).toEqual([
      {
        type: 'file',
        target: '/run/secrets/token',
        content: Buffer.from('t0k3n'),
        mode: 0o400,
        uid: 0,
        gid: 0,
      },
    ]);
    expect(r.env).toEqual(['TOKEN=t0k3n']);
    await expect(
      resolveRunMounts([{ type: 'secret', id: 'absent', required: true, mode: 0o400, uid: 0, gid: 0 }], src),
    ).rejects.toThrow(BuildError);
  });

  it('refuses required ssh mounts and warns about optional ones', async () => {
    const ssh: RunMount = { type: 'ssh', id: 'default', required: false, mode: 0o600, uid: 0, gid: 0 };
    const r = await resolveRunMounts([ssh], src);
    expect(r.mounts).toEqual([]);
    expect(r.warnings[0]).toMatch(/ssh.*not supported/);
    await expect(resolveRunMounts([{ ...ssh, required: true }], src)).rejects.toThrow(/not supported/);
  });

  it('makes cache mounts persistent directories tsbuild owns, created with mode, owner and seed', async () => {
    const cache: RunMount = {
      type: 'cache',
      target: '/root/.cache',
      id: 'go-build',
      sharing: 'shared',
      source: 'usr/lib',
      from: { kind: 'stage', index: 0 },
      readOnly: false,
      mode: 0o750,
      uid: 1000,
      gid: 1000,
    };
    const r = await resolveRunMounts([cache], src);
    const m = r.mounts[0] as { source: string; owned?: boolean; readOnly: boolean };
    expect(m.owned).toBe(true);
    expect(m.source.startsWith(path.join(src.root, 'cache-mounts'))).toBe(true);
    const st = await fsp.stat(m.source);
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o750, 1000, 1000]);
    expect(await fsp.readFile(path.join(m.source, 'libx.so'), 'utf8')).toBe('lib');
    await fsp.writeFile(path.join(m.source, 'kept'), 'x');
    await r.release();
    const again = await resolveRunMounts([cache], src);
    expect((again.mounts[0] as { source: string }).source).toBe(m.source);
    expect(await fsp.readFile(path.join(m.source, 'kept'), 'utf8')).toBe('x');
    await again.release();
  });
});

describe('acquireCacheDir sharing', () => {
  it('shared: everyone at once gets the same directory', async () => {
    const a = await acquireCacheDir(src.root, { id: 'c', sharing: 'shared' });
    const b = await acquireCacheDir(src.root, { id: 'c', sharing: 'shared' });
    expect(b.dir).toBe(a.dir);
    await a.release();
    await b.release();
  });

  it('private: a second user while the first holds it gets another instance', async () => {
    const a = await acquireCacheDir(src.root, { id: 'c', sharing: 'private' });
    const b = await acquireCacheDir(src.root, { id: 'c', sharing: 'private' });
    expect(b.dir).not.toBe(a.dir);
    await b.release();
    await a.release();
    const c = await acquireCacheDir(src.root, { id: 'c', sharing: 'private' });
    expect(c.dir).toBe(a.dir);
    await c.release();
  });

  it('locked: a second user waits for the first', async () => {
    const a = await acquireCacheDir(src.root, { id: 'c', sharing: 'locked' });
    let got = false;
    const pending = acquireCacheDir(src.root, { id: 'c', sharing: 'locked' }).then((b) => {
      got = true;
      return b;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toBe(false);
    await a.release();
    const b = await pending;
    expect(b.dir).toBe(a.dir);
    await b.release();
  });
});

describe('acquireCacheDir restore (imported caches)', () => {
  it('fills a new data dir once, in an empty temp dir renamed into place, before mode and owner are set', async () => {
    const seen: string[] = [];
    const restore = jest.fn(async (emptyDir: string) => {
      seen.push(...(await fsp.readdir(emptyDir)));
      await fsp.writeFile(path.join(emptyDir, 'restored'), 'r');
    });
    const a = await acquireCacheDir(src.root, {
      id: 'imp',
      sharing: 'shared',
      mode: 0o700,
      uid: 1000,
      gid: 1000,
      restore,
    });
    expect(restore).toHaveBeenCalledTimes(1);
    expect(restore.mock.calls[0]?.[0]).not.toBe(a.dir);
    expect(seen).toEqual([]);
    expect(a.warning).toBeUndefined();
    expect(await fsp.readFile(path.join(a.dir, 'restored'), 'utf8')).toBe('r');
    const st = await fsp.stat(a.dir);
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o700, 1000, 1000]);
    await a.release();

    const again = jest.fn(async () => undefined);
    const b = await acquireCacheDir(src.root, { id: 'imp', sharing: 'locked', restore: again });
    expect(b.dir).toBe(a.dir);
    expect(again).not.toHaveBeenCalled();
    await b.release();
  });

  it('restores only data: never a seeded cache, never a private-N instance', async () => {
    const restore = jest.fn(async () => undefined);
    const seeded = await acquireCacheDir(src.root, {
      id: 'seeded',
      sharing: 'shared',
      seed: ctx,
      restore,
    });
    expect(await fsp.readdir(seeded.dir)).toContain('src');
    await seeded.release();

    const first = await acquireCacheDir(src.root, { id: 'p', sharing: 'private' });
    const second = await acquireCacheDir(src.root, { id: 'p', sharing: 'private', restore });
    expect(path.basename(second.dir)).toBe('private-1');
    expect(restore).not.toHaveBeenCalled();
    await second.release();
    await first.release();
  });

  it('starts the cache empty, with a warning, when the restore fails, and leaves no temp dir behind', async () => {
    const c = await acquireCacheDir(src.root, {
      id: 'broken',
      sharing: 'shared',
      restore: async (emptyDir) => {
        await fsp.writeFile(path.join(emptyDir, 'half'), 'h');
        throw new BuildError('blob is corrupt');
      },
    });
    expect(await fsp.readdir(c.dir)).toEqual([]);
    expect(c.warning).toMatch(/cache mount broken: .*could not be restored.*blob is corrupt/);
    expect(await fsp.readdir(path.join(src.root, 'tmp'))).toEqual([]);
    await c.release();
  });

  it('resolveRunMounts asks for the restore by cache id (not for from= mounts) and passes its warning on', async () => {
    const asked: string[] = [];
    const cache = (id: string, extra: Partial<Extract<RunMount, { type: 'cache' }>> = {}): RunMount => ({
      type: 'cache',
      target: `/c/${id}`,
      id,
      sharing: 'shared',
      source: '',
      readOnly: false,
      ...extra,
    });
    const r = await resolveRunMounts(
      [cache('ok'), cache('bad'), cache('seeded', { from: { kind: 'stage', index: 0 }, source: 'usr' })],
      {
        ...src,
        restoreCacheMount: (id) => {
          asked.push(id);
          if (id === 'ok') return (d) => fsp.writeFile(path.join(d, 'item'), 'restored');
          return async () => {
            throw new Error('registry gone');
          };
        },
      },
    );
    expect(asked).toEqual(['ok', 'bad']);
    const [ok] = r.mounts as Array<{ source: string }>;
    expect(await fsp.readFile(path.join(ok?.source as string, 'item'), 'utf8')).toBe('restored');
    expect(r.warnings).toEqual([expect.stringMatching(/cache mount bad: .*registry gone/)]);
    await r.release();
  });
});
