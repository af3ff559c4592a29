import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { BuildHistory } from '../../src/cache/build-history';
import type { ResolvedImage } from '../../src/executor/build';
import { BuildError, UserError } from '../../src/errors';
import { busyboxContext, openLayer, runBuild, tempDir, writeFiles } from '../helpers/build';

const CLASSIC = `FROM scratch
WORKDIR /app
COPY package.json ./
COPY . .
ENV NODE_ENV=production
CMD ["node", "server.js"]
`;

async function classicContext(): Promise<{ ctx: string; root: string }> {
  const ctx = await tempDir('ctx');
  const root = await tempDir('store');
  await writeFiles(ctx, {
    Dockerfile: CLASSIC,
    'package.json': '{"name":"app"}\n',
    'server.js': 'console.log(1)\n',
    'lib/util.js': 'module.exports = 1;\n',
    '.dockerignore': 'notes.txt\n',
    'notes.txt': 'not in the image\n',
  });
  return { ctx, root };
}

describe('the classic layer-order example (COPY only)', () => {
  test('first build misses everything, the second hits everything', async () => {
    const { ctx, root } = await classicContext();
    const first = await runBuild(ctx, root);
    expect(first.steps.map((s) => s[1])).toEqual(Array(6).fill('miss'));
    expect(first.steps[0]).toEqual(['FROM scratch', 'miss', 'no earlier build of this step']);
    const second = await runBuild(ctx, root);
    expect(second.steps.map((s) => s[1])).toEqual(Array(6).fill('hit'));
    // A fully cached rebuild gives the very same image.
    expect(second.image.configDigest).toBe(first.image.configDigest);
    expect(second.image.manifestDigest).toBe(first.image.manifestDigest);
  });

  test('editing one source file misses from COPY . . on, and the reason names the file', async () => {
    const { ctx, root } = await classicContext();
    await runBuild(ctx, root);
    await fsp.writeFile(path.join(ctx, 'server.js'), 'console.log(2)\n');
    const run = await runBuild(ctx, root);
    expect(run.steps.map((s) => s[1])).toEqual(['hit', 'hit', 'hit', 'miss', 'miss', 'miss']);
    expect(run.steps[3][2]).toBe('1 file changed: server.js (content)');
    expect(run.steps[4][2]).toBe('parent step missed');
  });

  test('editing the dependency manifest misses from its COPY on', async () => {
    const { ctx, root } = await classicContext();
    await runBuild(ctx, root);
    await fsp.writeFile(path.join(ctx, 'package.json'), '{"name":"app","version":"2"}\n');
    const run = await runBuild(ctx, root);
    expect(run.steps.map((s) => s[1])).toEqual(['hit', 'hit', 'miss', 'miss', 'miss', 'miss']);
    expect(run.steps[2][2]).toBe('1 file changed: package.json (content)');
  });

  test('touching a file (mtime only) causes no miss', async () => {
    const { ctx, root } = await classicContext();
    await runBuild(ctx, root);
    const later = new Date(Date.now() + 60_000);
    await fsp.utimes(path.join(ctx, 'server.js'), later, later);
    const run = await runBuild(ctx, root);
    expect(run.steps.every((s) => s[1] === 'hit')).toBe(true);
  });

  test('editing content with the same size and mtime does cause a miss', async () => {
    const { ctx, root } = await classicContext();
    const file = path.join(ctx, 'server.js');
    const before = await fsp.stat(file);
    await runBuild(ctx, root);
    await fsp.writeFile(file, 'console.log(9)\n');
    await fsp.utimes(file, before.atime, before.mtime);
    expect((await fsp.stat(file)).size).toBe(before.size);
    const run = await runBuild(ctx, root);
    expect(run.steps[3]).toEqual(['COPY . .', 'miss', '1 file changed: server.js (content)']);
  });

  test('ignored files never reach a key: editing them causes no miss', async () => {
    const { ctx, root } = await classicContext();
    await runBuild(ctx, root);
    await fsp.writeFile(path.join(ctx, 'notes.txt'), 'edited\n');
    const run = await runBuild(ctx, root);
    expect(run.steps.every((s) => s[1] === 'hit')).toBe(true);
  });

  test('a changed build arg is named in the reason', async () => {
    const ctx = await tempDir('ctx');
    const root = await tempDir('store');
    await writeFiles(ctx, { Dockerfile: 'FROM scratch\nARG VERSION=1\nLABEL v=$VERSION\n' });
    await runBuild(ctx, root, { buildArgs: new Map([['VERSION', '1.2']]) });
    const run = await runBuild(ctx, root, { buildArgs: new Map([['VERSION', '1.3']]) });
    expect(run.steps[1]).toEqual(['ARG VERSION=1', 'miss', 'build arg VERSION changed 1.2 → 1.3']);
    expect(run.image.config.config.Labels).toEqual({ v: '1.3' });
  });

  test('--no-cache rebuilds everything', async () => {
    const { ctx, root } = await classicContext();
    await runBuild(ctx, root);
    const run = await runBuild(ctx, root, { noCache: true });
    expect(run.steps.every((s) => s[1] === 'miss' && s[2] === '--no-cache')).toBe(true);
  });
});

describe('base image platform', () => {
  const imageFor = (architecture: string, variant?: string): ResolvedImage => ({
    manifestDigest: `sha256:${'7'.repeat(64)}`,
    configDigest: `sha256:${'8'.repeat(64)}`,
    config: {
      architecture,
      os: 'linux',
      ...(variant ? { variant } : {}),
      config: {},
      rootfs: { type: 'layers', diff_ids: [] },
    },
    layers: [],
  });
  const warnings = async (image: ResolvedImage, platform?: string): Promise<string[]> => {
    const ctx = await tempDir('ctx');
    await writeFiles(ctx, {
      Dockerfile: `FROM ${platform ? `--platform=${platform} ` : ''}base\nCOPY a /a\n`,
      a: 'a',
    });
    const run = await runBuild(ctx, await tempDir('store'), { resolveImage: async () => image });
    // Only the platform's: the advice on the Dockerfile (COPY onto an image could be --link) is not this test's.
    return run.events.flatMap((e) =>
      e.type === 'warning' && !e.message.includes(': CopyLinkCandidate: ') ? [e.message] : [],
    );
  };

  test('an image for another platform builds, with the warning BuildKit gives', async () => {
    expect(await warnings(imageFor('arm64', 'v8'), 'linux/amd64')).toEqual([
      'Dockerfile:1: base image base was pulled with platform "linux/arm64/v8", expected "linux/amd64" for current build',
    ]);
  });

  test('no warning when the platforms agree (a variant counts only when both say one)', async () => {
    expect(await warnings(imageFor('arm64', 'v8'), 'linux/arm64')).toEqual([]);
    expect(await warnings(imageFor('arm', 'v6'), 'linux/arm/v7')).toHaveLength(1);
  });
});

describe('image config and history', () => {
  test('matches what BuildKit writes for the same Dockerfile', async () => {
    const { ctx, root } = await classicContext();
    const { image } = await runBuild(ctx, root, { sourceDateEpoch: 1_700_000_000 });
    const created = '2023-11-14T22:13:20Z';
    expect(image.config.created).toBe(created);
    expect(image.config.config).toEqual({
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production'],
      Cmd: ['node', 'server.js'],
      WorkingDir: '/app',
      ArgsEscaped: true,
    });
    expect(image.config.history).toEqual([
      { created, created_by: 'WORKDIR /app', comment: 'buildkit.dockerfile.v0' },
      { created, created_by: 'COPY package.json ./ # buildkit', comment: 'buildkit.dockerfile.v0' },
      { created, created_by: 'COPY . . # buildkit', comment: 'buildkit.dockerfile.v0' },
      {
        created,
        created_by: 'ENV NODE_ENV=production',
        comment: 'buildkit.dockerfile.v0',
        empty_layer: true,
      },
      {
        created,
        created_by: 'CMD ["node" "server.js"]',
        comment: 'buildkit.dockerfile.v0',
        empty_layer: true,
      },
    ]);
    expect(image.layers).toHaveLength(3);
  });

  test('two stores with SOURCE_DATE_EPOCH give identical image ids and manifests', async () => {
    const { ctx } = await classicContext();
    const a = await runBuild(ctx, await tempDir('a'), { sourceDateEpoch: 1_700_000_000 });
    const b = await runBuild(ctx, await tempDir('b'), { sourceDateEpoch: 1_700_000_000 });
    expect(b.image.configDigest).toBe(a.image.configDigest);
    expect(b.image.manifestDigest).toBe(a.image.manifestDigest);
  });
});

describe('multi-stage', () => {
  test('COPY --from a stage, unused stages not built, independent stages both built', async () => {
    const ctx = await tempDir('ctx');
    const root = await tempDir('store');
    await writeFiles(ctx, {
      Dockerfile: [
        'FROM scratch AS a',
        'COPY a.txt /out/a.txt',
        'FROM scratch AS b',
        'COPY b.txt /out/',
        'FROM scratch AS unused',
        'COPY missing.txt /',
        'FROM scratch',
        'COPY --from=a /out/a.txt /final/',
        'COPY --from=b /out /final',
        '',
      ].join('\n'),
      'a.txt': 'A\n',
      'b.txt': 'B\n',
    });
    const run = await runBuild(ctx, root);
    const instructions = run.steps.map((s) => s[0]);
    expect(instructions).not.toContain('COPY missing.txt /');
    expect(instructions).toContain('COPY --from=a /out/a.txt /final/');
    expect(run.image.layers).toHaveLength(2);
    const again = await runBuild(ctx, root);
    expect(again.steps.every((s) => s[1] === 'hit')).toBe(true);
  });

  const KEYED = [
    'FROM scratch AS deps',
    'COPY deps.txt /deps.txt',
    'COPY --chown=1000:1000 lib/ /lib/',
    'FROM scratch AS tools',
    'ARG V=1',
    'ENV T=$V',
    'WORKDIR /opt',
    'COPY tool.txt .',
    'FROM tools AS tools2',
    'COPY --from=deps /deps.txt /d2',
    'FROM scratch',
    'COPY --from=deps /deps.txt /app/deps.txt',
    'COPY --from=tools2 /opt/tool.txt /app/tool.txt',
    'COPY app.txt /app/',
    '',
  ].join('\n');

  test('when the final stage hits throughout, the stages it copies from are keyed ahead and never run', async () => {
    const ctx = await tempDir('ctx');
    const root = await tempDir('store');
    await writeFiles(ctx, {
      Dockerfile: KEYED,
      'deps.txt': 'd\n',
      'lib/x.js': 'x\n',
      'tool.txt': 't\n',
      'app.txt': 'a\n',
    });
    const first = await runBuild(ctx, root);
    expect(first.steps.filter((s) => !s[0].startsWith('FROM')).every((s) => s[1] === 'miss')).toBe(true);

    // Every key the final stage uses came out the same from the Dockerfile and context alone (or it would miss),
    // and no builder step was even looked at.
    const second = await runBuild(ctx, root);
    expect(second.steps).toEqual([
      ['FROM scratch', 'hit', undefined],
      ['COPY --from=deps /deps.txt /app/deps.txt', 'hit', undefined],
      ['COPY --from=tools2 /opt/tool.txt /app/tool.txt', 'hit', undefined],
      ['COPY app.txt /app/', 'hit', undefined],
    ]);
    expect(second.image.manifestDigest).toBe(first.image.manifestDigest);

    // Skipped steps are recorded as the run ones are: the COPY --from in the skipped stage names the content key
    // the steps after it stand on, so `cache explain` can link a later miss to it.
    const [historyFile] = (await fsp.readdir(path.join(root, 'history'))).filter(
      (n) => !n.endsWith('.prev.json'),
    );
    const history = JSON.parse(
      await fsp.readFile(path.join(root, 'history', historyFile), 'utf8'),
    ) as BuildHistory;
    const skippedCopyFrom = history.steps.filter(
      (s) => s.cache === 'skipped' && typeof s.inputs.op.fromKey === 'string',
    );
    expect(skippedCopyFrom).toHaveLength(1);
    expect(skippedCopyFrom[0].resultKey).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(skippedCopyFrom[0].resultKey).not.toBe(skippedCopyFrom[0].key);

    // The skipped stages are still in the build's history: a later miss there names its cause.
    await fsp.writeFile(path.join(ctx, 'tool.txt'), 'changed\n');
    const third = await runBuild(ctx, root);
    expect(third.steps.find((s) => s[0] === 'COPY tool.txt .')).toEqual([
      'COPY tool.txt .',
      'miss',
      '1 file changed: tool.txt (content)',
    ]);
    expect(third.steps.find((s) => s[0] === 'COPY deps.txt /deps.txt')?.[1]).toBe('hit');
  });

  test('a stage whose keys need its own files (--chown by name) runs as before', async () => {
    const ctx = await tempDir('ctx');
    const root = await tempDir('store');
    await writeFiles(ctx, {
      Dockerfile: KEYED.replace('COPY --chown=1000:1000 lib/', 'COPY --chown=app lib/').replace(
        'COPY deps.txt /deps.txt',
        'COPY passwd /etc/passwd\nCOPY deps.txt /deps.txt',
      ),
      passwd: 'app:x:1000:1000::/:/bin/sh\n',
      'deps.txt': 'd\n',
      'lib/x.js': 'x\n',
      'tool.txt': 't\n',
      'app.txt': 'a\n',
    });
    await runBuild(ctx, root);
    const again = await runBuild(ctx, root);
    expect(again.steps.every((s) => s[1] === 'hit')).toBe(true);
    expect(again.steps.map((s) => s[0])).toContain('COPY --chown=app lib/ /lib/');
  });
});

describe('errors', () => {
  test('a missing COPY source is a located BuildError', async () => {
    const ctx = await tempDir('ctx');
    await writeFiles(ctx, { Dockerfile: 'FROM scratch\nCOPY nothere.txt /\n' });
    const err = await runBuild(ctx, await tempDir('store')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect((err as BuildError).format()).toMatch(/^Dockerfile:2: COPY failed: "nothere.txt": not found/);
  });

  test('an unknown instruction is a UserError with a suggestion', async () => {
    const ctx = await tempDir('ctx');
    await writeFiles(ctx, { Dockerfile: 'FROM scratch\nCOPPY a b\n' });
    const err = await runBuild(ctx, await tempDir('store')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).format()).toMatch(/^Dockerfile:2: .*COPPY.*did you mean COPY/i);
  });

  test('a failing RUN is a located BuildError with the exit code, and its output is in the log', async () => {
    const { ctx, root } = await busyboxContext('FROM scratch\nCOPY rootfs/ /\nRUN echo oops && exit 3\n');
    const events: string[] = [];
    const err = await runBuild(ctx, root, {
      events: (e) => e.type === 'step-output' && events.push(e.text),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect((err as BuildError).format()).toMatch(/^Dockerfile:3: .*exit code: 3/);
    expect(events.join('')).toContain('oops');
    // The store is unharmed: the next build resumes from the last hit.
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\nRUN echo fixed\n');
    const run = await runBuild(ctx, root);
    expect(run.steps.map((s) => s[1])).toEqual(['hit', 'hit', 'miss']);
  });
});

/** A context whose `rootfs/` is a minimal busybox system, so RUN has a shell without any registry. */
describe('RUN', () => {
  test('runs in the stage rootfs; its changes, deletions included, are the layer; a rebuild does not run it', async () => {
    const { ctx, root } = await busyboxContext(
      [
        'FROM scratch',
        'COPY rootfs/ /',
        'RUN mkdir -p /data && echo one > /data/a && echo two > /data/b',
        'RUN rm /data/a && chmod 600 /data/b && echo ran',
        '',
      ].join('\n'),
    );
    const events: string[] = [];
    const first = await runBuild(ctx, root, {
      events: (e) => e.type === 'step-output' && events.push(e.text),
    });
    expect(first.steps.map((s) => s[1])).toEqual(['miss', 'miss', 'miss', 'miss']);
    expect(events.join('')).toContain('ran');
    const created = await layerEntries(root, first.image.layers[1].digest);
    expect(created.map((e) => e.path)).toEqual(expect.arrayContaining(['data/a', 'data/b']));
    const changed = await layerEntries(root, first.image.layers[2].digest);
    expect(changed.find((e) => e.path === 'data/.wh.a')).toBeDefined();
    expect(changed.find((e) => e.path === 'data/b')?.mode).toBe(0o600);
    const again: string[] = [];
    const second = await runBuild(ctx, root, {
      events: (e) => e.type === 'step-output' && again.push(e.text),
    });
    expect(second.steps.every((s) => s[1] === 'hit')).toBe(true);
    expect(again).toEqual([]);
  });

  test('runs on a root filesystem without /etc; the /etc made for its mounts is not in the layer', async () => {
    const { ctx, root } = await busyboxContext(
      ['FROM scratch', 'COPY rootfs/bin /bin', 'RUN echo made > /made.txt', ''].join('\n'),
    );
    const built = await runBuild(ctx, root);
    expect(built.steps.map((s) => s[1])).toEqual(['miss', 'miss', 'miss']);
    const layer = await layerEntries(root, built.image.layers[1].digest);
    expect(layer.map((e) => e.path)).toEqual(['made.txt']);
  });
});

describe('RUN --mount=type=bind', () => {
  /** A file's text in a stored layer. */
  const file = async (root: string, digest: string, p: string): Promise<string | undefined> => {
    const { readTar } = await import('../../src/layers/tar-reader');
    let found: string | undefined;
    for await (const { header, body } of readTar(await openLayer(root, digest))) {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c);
      if (header.path === p) found = Buffer.concat(chunks).toString('utf8');
    }
    return found;
  };

  test('the context as the build sees it: .dockerignore applies, files are 0:0, and what it shows is in the key', async () => {
    const { ctx, root } = await busyboxContext(
      [
        'FROM scratch',
        'COPY rootfs/ /',
        'RUN --mount=type=bind,source=app,target=/src cat /src/main.txt > /seen && ls -an /src > /listing && ls /src > /names',
        '',
      ].join('\n'),
    );
    await writeFiles(ctx, {
      '.dockerignore': 'app/secret.txt\n',
      'app/main.txt': 'one\n',
      'app/secret.txt': 'ignored\n',
      'elsewhere.txt': 'not mounted\n',
    });
    await fsp.chown(path.join(ctx, 'app/main.txt'), 1234, 1234);
    const first = await runBuild(ctx, root);
    const layer = first.image.layers[1].digest;
    expect(await file(root, layer, 'seen')).toBe('one\n');
    expect(await file(root, layer, 'names')).toBe('main.txt\n');
    expect(await file(root, layer, 'listing')).toMatch(/ 0 +0 .* main\.txt\n/);

    // Outside the mounted path, or excluded: no miss.
    await fsp.writeFile(path.join(ctx, 'elsewhere.txt'), 'changed\n');
    await fsp.writeFile(path.join(ctx, 'app/secret.txt'), 'changed\n');
    expect((await runBuild(ctx, root)).steps.map((s) => s[1])).toEqual(['hit', 'hit', 'hit']);

    // A mounted file changed: the RUN misses, says which file, and sees the new content.
    await fsp.writeFile(path.join(ctx, 'app/main.txt'), 'two\n');
    const edited = await runBuild(ctx, root);
    expect(edited.steps[2]).toEqual([
      expect.stringMatching(/^RUN --mount/),
      'miss',
      '1 file changed: app/main.txt (content)',
    ]);
    expect(await file(root, edited.image.layers[1].digest, 'seen')).toBe('two\n');
    // Nothing the run did reached the context.
    expect((await fsp.readdir(path.join(ctx, 'app'))).sort()).toEqual(['main.txt', 'secret.txt']);
  });

  test('a mount of an excluded path is a located error', async () => {
    const { ctx, root } = await busyboxContext(
      'FROM scratch\nCOPY rootfs/ /\nRUN --mount=type=bind,source=junk,target=/j ls /j\n',
    );
    await writeFiles(ctx, { '.dockerignore': 'junk\n', 'junk/a': 'a\n' });
    const err = (await runBuild(ctx, root).catch((e: unknown) => e)) as BuildError;
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toContain('mount source /junk does not exist in the build context');
    expect(err.location?.line).toBe(3);
  });

  test('a stage with RUN and bind mounts is keyed ahead exactly as it is built', async () => {
    const { ctx, root } = await busyboxContext(
      [
        'FROM scratch AS base',
        'COPY rootfs/ /',
        'FROM base AS builder',
        'ENV MODE=release',
        'RUN --mount=type=bind,source=app,target=/src cat /src/main.txt > /built',
        'FROM scratch AS data',
        'COPY app/main.txt /data.txt',
        'FROM base',
        'RUN --mount=type=bind,from=data,target=/d cat /d/data.txt > /seen',
        'COPY --from=builder /built /app/built',
        '',
      ].join('\n'),
    );
    await writeFiles(ctx, { 'app/main.txt': 'one\n' });
    await runBuild(ctx, root);
    const again = await runBuild(ctx, root);
    expect(again.steps.every((s) => s[1] === 'hit')).toBe(true);
    // Only the final image's stages (base, then the final one) were looked at.
    expect(again.steps.map((s) => s[0])).not.toContain('ENV MODE=release');
    expect(again.steps.map((s) => s[0])).toContain('COPY --from=builder /built /app/built');
  });

  test('a from= mount is keyed by its source stage: a change there reruns the step', async () => {
    const { ctx, root } = await busyboxContext(
      [
        'FROM scratch AS data',
        'COPY data.txt /data.txt',
        'FROM scratch',
        'COPY rootfs/ /',
        'RUN --mount=type=bind,from=data,target=/d cat /d/data.txt > /seen',
        '',
      ].join('\n'),
    );
    await writeFiles(ctx, { 'data.txt': 'v1\n' });
    await runBuild(ctx, root);
    await fsp.writeFile(path.join(ctx, 'data.txt'), 'v2\n');
    const run = await runBuild(ctx, root);
    const runStep = run.steps.find((s) => s[0].startsWith('RUN'));
    expect(runStep?.[1]).toBe('miss');
    expect(runStep?.[2]).toMatch(/^the source of a bind mount changed: \/d sha256:/);
    expect(await file(root, run.image.layers[1].digest, 'seen')).toBe('v2\n');
  });
});

describe('COPY of links and devices', () => {
  /** Every member of a stored layer: path, tar type, link target, device numbers. */
  const members = async (
    root: string,
    digest: string,
  ): Promise<{ path: string; type: string; linkname: string; devmajor?: number; devminor?: number }[]> => {
    const { readTar } = await import('../../src/layers/tar-reader');
    const out = [];
    for await (const { header, body } of readTar(await openLayer(root, digest))) {
      for await (const _ of body) void _;
      out.push({
        path: header.path,
        type: header.type,
        linkname: header.linkname,
        devmajor: header.devmajor,
        devminor: header.devminor,
      });
    }
    return out;
  };

  test('two context paths of one inode stay a file and a hard link to it, and linking them is a change', async () => {
    const ctx = await tempDir('ctx');
    const root = await tempDir('store');
    await writeFiles(ctx, { Dockerfile: 'FROM scratch\nCOPY data/ /data/\n', 'data/b.txt': 'same\n' });
    await fsp.link(path.join(ctx, 'data/b.txt'), path.join(ctx, 'data/a.txt'));
    const first = await runBuild(ctx, root);
    const layer = await members(root, first.image.layers[0].digest);
    expect(layer.find((m) => m.path === 'data/a.txt')?.type).toBe('file');
    expect(layer.find((m) => m.path === 'data/b.txt')).toMatchObject({
      type: 'hardlink',
      linkname: 'data/a.txt',
    });

    // Same content, no longer linked: a different layer, so a different key.
    await fsp.rm(path.join(ctx, 'data/b.txt'));
    await fsp.writeFile(path.join(ctx, 'data/b.txt'), 'same\n');
    const unlinked = await runBuild(ctx, root);
    expect(unlinked.steps[1][1]).toBe('miss');
    const plain = await members(root, unlinked.image.layers[0].digest);
    expect(plain.find((m) => m.path === 'data/b.txt')?.type).toBe('file');
  });

  test('a device node keeps its major and minor numbers', async () => {
    const ctx = await tempDir('ctx');
    const root = await tempDir('store');
    await writeFiles(ctx, { Dockerfile: 'FROM scratch\nCOPY dev/ /dev/\n' });
    await fsp.mkdir(path.join(ctx, 'dev'));
    const { execFileSync } = await import('node:child_process');
    execFileSync('mknod', [path.join(ctx, 'dev/null'), 'c', '1', '3']);
    execFileSync('mknod', [path.join(ctx, 'dev/big'), 'c', '300', '70000']);
    const run = await runBuild(ctx, root);
    const layer = await members(root, run.image.layers[0].digest);
    expect(layer.find((m) => m.path === 'dev/null')).toMatchObject({
      type: 'char',
      devmajor: 1,
      devminor: 3,
    });
    expect(layer.find((m) => m.path === 'dev/big')).toMatchObject({ devmajor: 300, devminor: 70000 });
  });
});

describe('ADD', () => {
  test('a local tar archive is unpacked at the destination; a plain file is copied', async () => {
    const ctx = await tempDir('ctx');
    const root = await tempDir('store');
    const payload = await tempDir('payload');
    await writeFiles(payload, { 'top.txt': 'top\n', 'dir/inner.txt': 'inner\n' });
    const { execFileSync } = await import('node:child_process');
    execFileSync('tar', ['czf', path.join(ctx, 'bundle.tar.gz'), '-C', payload, '.']);
    await writeFiles(ctx, {
      Dockerfile: 'FROM scratch\nADD bundle.tar.gz /opt/\nADD plain.txt /opt/\n',
      'plain.txt': 'p\n',
    });
    const run = await runBuild(ctx, root);
    const listing = await layerPaths(root, run.image.layers[0].digest);
    expect(listing).toEqual(expect.arrayContaining(['opt/top.txt', 'opt/dir/inner.txt']));
    expect(listing).not.toContain('opt/bundle.tar.gz');
    expect(await layerPaths(root, run.image.layers[1].digest)).toContain('opt/plain.txt');
  });

  test('a URL with --checksum is downloaded with mode 0600', async () => {
    const http = await import('node:http');
    const body = 'remote content\n';
    const server = http.createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const ctx = await tempDir('ctx');
      const root = await tempDir('store');
      const { createHash } = await import('node:crypto');
      const sum = createHash('sha256').update(body).digest('hex');
      await writeFiles(ctx, {
        Dockerfile: `FROM scratch\nADD --checksum=sha256:${sum} http://127.0.0.1:${port}/files/r.txt /dl/\n`,
      });
      const run = await runBuild(ctx, root);
      const entries = await layerEntries(root, run.image.layers[0].digest);
      expect(entries.find((e) => e.path === 'dl/r.txt')?.mode).toBe(0o600);
      await writeFiles(ctx, {
        Dockerfile: `FROM scratch\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:${port}/r.txt /dl/\n`,
      });
      await expect(runBuild(ctx, root)).rejects.toThrow(/checksum mismatch/);
    } finally {
      server.close();
    }
  });
});

async function layerEntries(root: string, digest: string): Promise<{ path: string; mode: number }[]> {
  const { readTar } = await import('../../src/layers/tar-reader');
  const out: { path: string; mode: number }[] = [];
  for await (const { header } of readTar(await openLayer(root, digest))) {
    out.push({ path: header.path, mode: header.mode & 0o7777 });
  }
  return out;
}

async function layerPaths(root: string, digest: string): Promise<string[]> {
  return (await layerEntries(root, digest)).map((e) => e.path);
}

describe('WORKDIR', () => {
  test('an existing directory still gets an (empty) layer, as BuildKit commits one; / gets none', async () => {
    const ctx = await tempDir('ctx');
    await writeFiles(ctx, { Dockerfile: 'FROM scratch\nWORKDIR /app\nWORKDIR /app\nWORKDIR /\n' });
    const run = await runBuild(ctx, await tempDir('store'));
    expect(run.image.layers).toHaveLength(2);
    expect((run.image.config.history ?? []).map((h) => h.empty_layer ?? false)).toEqual([false, false, true]);
  });
});

describe('keys follow the filesystem: metadata never makes a later filesystem step miss', () => {
  const dockerfile = (version: string, mode: string): string => `FROM scratch AS builder
LABEL version=${version}
COPY a.txt /out/a.txt
ENV MODE=${mode}
WORKDIR /app
COPY b.txt ./

FROM scratch
LABEL stage=final-${version}
COPY --from=builder /out/a.txt /a.txt
`;

  test('a changed LABEL or ENV misses only itself; the image config has the new values, the layers are reused', async () => {
    const ctx = await tempDir('ctx');
    const root = await tempDir('store');
    await writeFiles(ctx, { Dockerfile: dockerfile('1.2', 'a'), 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const first = await runBuild(ctx, root);
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), dockerfile('1.3', 'b'));
    const second = await runBuild(ctx, root);
    const byInstruction = new Map(second.steps.map((s) => [s[0], s]));
    expect(byInstruction.get('LABEL version=1.3')?.slice(1)).toEqual(['miss', 'LABEL version 1.2 → 1.3']);
    expect(byInstruction.get('ENV MODE=b')?.slice(1)).toEqual(['miss', 'ENV MODE a → b']);
    for (const fsStep of [
      'COPY a.txt /out/a.txt',
      'WORKDIR /app',
      'COPY b.txt ./',
      'COPY --from=builder /out/a.txt /a.txt',
    ])
      expect(byInstruction.get(fsStep)?.[1]).toBe('hit');
    expect(second.image.layers.map((l) => l.digest)).toEqual(first.image.layers.map((l) => l.digest));
    expect(second.image.config.config.Labels).toEqual({ stage: 'final-1.3' });
    expect(second.image.configDigest).not.toBe(first.image.configDigest);
  });
});
