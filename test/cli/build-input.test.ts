/**
 * Where a build's context and Dockerfile come from (`resolveBuildInput`), with docker build's meanings of `PATH`,
 * `URL`, `-` and `-f -`: real directories, real tars (GNU tar), stdin as a real file stream, URLs served by a real
 * HTTP server on loopback. Stdin is read only when `-` says so; a scratch context lives under the store's runs/
 * and is gone after cleanup, and after a failure.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, promises as fsp } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isGitUrl, resolveBuildInput, type BuildInputRequest } from '../../src/cli/build-input';
import { BuildError, UserError } from '../../src/errors';
import { rawTar } from '../layers/support/tar-helpers';

let tmp: string;
let root: string;
let server: http.Server;
let base: string;
/** What the test server answers, by path. */
const served = new Map<string, { status?: number; body: Buffer }>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const entry = served.get(req.url ?? '');
    if (entry === undefined) {
      res.writeHead(404, 'Not Found').end();
      return;
    }
    res.writeHead(entry.status ?? 200, { 'content-length': entry.body.length }).end(entry.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-build-input-'));
  root = path.join(tmp, 'store');
  served.clear();
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fsp.writeFile(path.join(dir, rel), content);
  }
}

/** A tar of `files` by GNU tar, optionally compressed by `tool`. */
async function tarOf(files: Record<string, string>, tool?: string): Promise<Buffer> {
  const src = await fsp.mkdtemp(path.join(tmp, 'src-'));
  await writeTree(src, files);
  const tar = execFileSync('tar', ['-C', src, '-cf', '-', '.']);
  return tool === undefined ? tar : execFileSync(tool, ['-c'], { input: tar });
}

/** Stdin as the real thing gives it: a file read as a stream. Counts how often it is asked for. */
async function stdinOf(
  content: Buffer | string,
): Promise<{ stdin: () => AsyncIterable<Uint8Array>; asked: () => number }> {
  const file = path.join(tmp, `stdin-${Math.random().toString(16).slice(2)}`);
  await fsp.writeFile(file, content);
  let asked = 0;
  return {
    stdin: () => {
      asked++;
      return createReadStream(file);
    },
    asked: () => asked,
  };
}

function request(
  over: Partial<BuildInputRequest> & { stdin: BuildInputRequest['stdin'] },
): BuildInputRequest {
  return { context: '.', root, warn: () => undefined, ...over };
}

async function runsLeft(): Promise<string[]> {
  return fsp.readdir(path.join(root, 'runs')).catch(() => []);
}

const NO_STDIN = (): AsyncIterable<Uint8Array> => {
  throw new Error('stdin was read');
};

describe('a directory context', () => {
  test('the Dockerfile is CONTEXT/Dockerfile or -f, and stdin is left alone', async () => {
    const ctx = path.join(tmp, 'ctx');
    await writeTree(ctx, { Dockerfile: 'FROM scratch\n', 'other.Dockerfile': 'FROM scratch\n' });
    const plain = await resolveBuildInput(request({ context: ctx, stdin: NO_STDIN }));
    expect(plain.options).toEqual({
      contextDir: ctx,
      dockerfilePath: path.join(ctx, 'Dockerfile'),
      dockerfileName: 'Dockerfile',
    });
    const file = path.join(ctx, 'other.Dockerfile');
    const withFile = await resolveBuildInput(request({ context: ctx, file, stdin: NO_STDIN }));
    expect(withFile.options).toEqual({ contextDir: ctx, dockerfilePath: file, dockerfileName: file });
    await plain.cleanup();
    expect(await fsp.readdir(ctx)).toEqual(['Dockerfile', 'other.Dockerfile']);
  });

  test('-f - reads the Dockerfile from stdin, named Dockerfile, with the directory as context', async () => {
    const ctx = path.join(tmp, 'ctx');
    await writeTree(ctx, { 'a.txt': 'a' });
    const { stdin, asked } = await stdinOf('FROM scratch\nCOPY a.txt /\n');
    const input = await resolveBuildInput(request({ context: ctx, file: '-', stdin }));
    expect(input.options).toEqual({
      contextDir: ctx,
      dockerfilePath: path.join(ctx, 'Dockerfile'),
      dockerfileName: 'Dockerfile',
      dockerfileText: Buffer.from('FROM scratch\nCOPY a.txt /\n'),
    });
    expect(asked()).toBe(1);
    // Nothing was written into the user's tree.
    expect(await fsp.readdir(ctx)).toEqual(['a.txt']);
  });

  test('a missing path, a file, and a git URL are one line each', async () => {
    await expect(
      resolveBuildInput(request({ context: path.join(tmp, 'nope'), stdin: NO_STDIN })),
    ).rejects.toThrow(
      new UserError(`unable to prepare context: path ${JSON.stringify(path.join(tmp, 'nope'))} not found`),
    );
    const file = path.join(tmp, 'ctx.tar');
    await fsp.writeFile(file, await tarOf({ Dockerfile: 'FROM scratch\n' }));
    await expect(resolveBuildInput(request({ context: file, stdin: NO_STDIN }))).rejects.toThrow(
      new UserError(`unable to prepare context: context must be a directory: ${file}`),
    );
    await expect(
      resolveBuildInput(request({ context: 'https://github.com/moby/buildkit.git#master', stdin: NO_STDIN })),
    ).rejects.toThrow(/git contexts are not supported \(https:\/\/github.com\/moby\/buildkit.git#master\)/);
  });
});

describe('- (stdin)', () => {
  test('a Dockerfile on stdin: an empty scratch context under runs/, removed by cleanup', async () => {
    const { stdin } = await stdinOf('FROM scratch\nCOPY a.txt /\n');
    const input = await resolveBuildInput(request({ context: '-', stdin }));
    const { contextDir } = input.options;
    expect(input.options).toEqual({
      contextDir: expect.stringMatching(
        new RegExp(`^${path.join(root, 'runs')}/${process.pid}-ctx[0-9a-f]+/context$`),
      ),
      dockerfilePath: path.resolve('-'),
      dockerfileName: 'Dockerfile',
      dockerfileText: Buffer.from('FROM scratch\nCOPY a.txt /\n'),
      scratchContext: true,
    });
    expect(await fsp.readdir(contextDir)).toEqual([]);
    // Other users cannot look into it.
    expect((await fsp.stat(path.dirname(contextDir))).mode & 0o777).toBe(0o700);
    await input.cleanup();
    expect(await runsLeft()).toEqual([]);
  });

  test.each([undefined, 'gzip', 'bzip2', 'xz', 'zstd'])(
    'a tar on stdin (%s) is the context, its Dockerfile inside',
    async (tool) => {
      const archive = await tarOf({ Dockerfile: 'FROM scratch\nCOPY . /\n', 'src/app.js': 'js' }, tool);
      const { stdin } = await stdinOf(archive);
      const input = await resolveBuildInput(request({ context: '-', stdin }));
      expect(input.options).toMatchObject({
        dockerfilePath: `${path.resolve('-')}/Dockerfile`,
        dockerfileName: 'Dockerfile',
        dockerfileText: Buffer.from('FROM scratch\nCOPY . /\n'),
        scratchContext: true,
      });
      expect(await fsp.readFile(path.join(input.options.contextDir, 'src/app.js'), 'utf8')).toBe('js');
      await input.cleanup();
      expect(await runsLeft()).toEqual([]);
    },
  );

  test('-f names a path in the archive; an absolute -f a file of this machine', async () => {
    const archive = await tarOf({ 'build/app.Dockerfile': 'FROM scratch\n# in the archive\n' });
    const inArchive = await resolveBuildInput(
      request({ context: '-', file: 'build/app.Dockerfile', stdin: (await stdinOf(archive)).stdin }),
    );
    expect(inArchive.options).toMatchObject({
      dockerfileName: 'build/app.Dockerfile',
      dockerfileText: Buffer.from('FROM scratch\n# in the archive\n'),
    });
    await inArchive.cleanup();

    const local = path.join(tmp, 'local.Dockerfile');
    await fsp.writeFile(local, 'FROM scratch\n# local\n');
    const absolute = await resolveBuildInput(
      request({ context: '-', file: local, stdin: (await stdinOf(archive)).stdin }),
    );
    expect(absolute.options).toMatchObject({
      dockerfilePath: local,
      dockerfileName: local,
      scratchContext: true,
    });
    expect(absolute.options.dockerfileText).toBeUndefined();
    await absolute.cleanup();
    expect(await runsLeft()).toEqual([]);
  });

  test('a Dockerfile that is a symlink in the archive is followed inside the archive only', async () => {
    const archive = rawTar([
      { header: { name: 'real/Dockerfile' }, data: Buffer.from('FROM scratch\n') },
      { header: { name: 'Dockerfile', typeflag: '2', linkname: 'real/Dockerfile' } },
      { header: { name: 'host', typeflag: '2', linkname: '/etc/passwd' } },
    ]);
    const input = await resolveBuildInput(request({ context: '-', stdin: (await stdinOf(archive)).stdin }));
    expect(input.options.dockerfileText).toEqual(Buffer.from('FROM scratch\n'));
    await input.cleanup();
    // /etc/passwd means the archive's own, which it does not have: the host's file is never read.
    await expect(
      resolveBuildInput(request({ context: '-', file: 'host', stdin: (await stdinOf(archive)).stdin })),
    ).rejects.toThrow(
      new UserError('failed to read Dockerfile: host: no such file in the build context archive'),
    );
    expect(await runsLeft()).toEqual([]);
  });

  test('a failure after the scratch context was made removes it: no Dockerfile, an unsafe entry', async () => {
    const { stdin } = await stdinOf(await tarOf({ 'a.txt': 'a' }));
    await expect(resolveBuildInput(request({ context: '-', stdin }))).rejects.toThrow(
      new UserError('failed to read Dockerfile: Dockerfile: no such file in the build context archive'),
    );
    expect(await runsLeft()).toEqual([]);
    const escape = rawTar([
      { header: { name: 'Dockerfile' }, data: Buffer.from('FROM scratch\n') },
      { header: { name: '../../escape' }, data: Buffer.from('x') },
    ]);
    await expect(
      resolveBuildInput(request({ context: '-', stdin: (await stdinOf(escape)).stdin })),
    ).rejects.toThrow(
      /the build context on stdin: refusing entry "..\/..\/escape": its path climbs out of the archive/,
    );
    expect(await runsLeft()).toEqual([]);
    expect(await fsp.readdir(tmp)).not.toContain('escape');
  });

  test('stdin for both, and a Dockerfile on stdin with -f as well, are docker’s errors', async () => {
    await expect(resolveBuildInput(request({ context: '-', file: '-', stdin: NO_STDIN }))).rejects.toThrow(
      new UserError("invalid argument: can't use stdin for both build context and dockerfile"),
    );
    const { stdin } = await stdinOf('FROM scratch\n');
    await expect(resolveBuildInput(request({ context: '-', file: 'Dockerfile', stdin }))).rejects.toThrow(
      new UserError('ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles'),
    );
    expect(await runsLeft()).toEqual([]);
  });
});

describe('a URL', () => {
  test('a tarball URL is the context; a text URL the Dockerfile, with an empty context', async () => {
    served.set('/ctx.tar.gz', {
      body: await tarOf({ Dockerfile: 'FROM scratch\nCOPY . /\n', 'a.txt': 'a' }, 'gzip'),
    });
    served.set('/Dockerfile', { body: Buffer.from('FROM scratch\n# from a URL\n') });
    const tarball = await resolveBuildInput(request({ context: `${base}/ctx.tar.gz`, stdin: NO_STDIN }));
    expect(tarball.options).toMatchObject({
      dockerfilePath: `${base}/ctx.tar.gz/Dockerfile`,
      dockerfileName: 'Dockerfile',
      dockerfileText: Buffer.from('FROM scratch\nCOPY . /\n'),
      scratchContext: true,
    });
    expect(await fsp.readFile(path.join(tarball.options.contextDir, 'a.txt'), 'utf8')).toBe('a');
    await tarball.cleanup();

    const text = await resolveBuildInput(request({ context: `${base}/Dockerfile`, stdin: NO_STDIN }));
    expect(text.options).toMatchObject({
      dockerfilePath: `${base}/Dockerfile`,
      dockerfileText: Buffer.from('FROM scratch\n# from a URL\n'),
      scratchContext: true,
    });
    expect(await fsp.readdir(text.options.contextDir)).toEqual([]);
    await text.cleanup();
    expect(await runsLeft()).toEqual([]);
  });

  test('-f - with a tarball URL reads the Dockerfile from stdin', async () => {
    served.set('/ctx.tar', { body: await tarOf({ 'a.txt': 'a' }) });
    const { stdin } = await stdinOf('FROM scratch\nCOPY a.txt /\n');
    const input = await resolveBuildInput(request({ context: `${base}/ctx.tar`, file: '-', stdin }));
    expect(input.options).toMatchObject({
      dockerfileName: 'Dockerfile',
      dockerfileText: Buffer.from('FROM scratch\nCOPY a.txt /\n'),
    });
    await input.cleanup();
  });

  test('an HTTP error and a refused connection are one line, exit 1', async () => {
    await expect(
      resolveBuildInput(request({ context: `${base}/missing.tar`, stdin: NO_STDIN })),
    ).rejects.toThrow(
      new BuildError(
        `unable to prepare context: ${base}/missing.tar: server responded with HTTP 404 Not Found`,
      ),
    );
    // A port nothing listens on any more.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const url = `http://127.0.0.1:${port}/ctx.tar`;
    const err = await resolveBuildInput(request({ context: url, stdin: NO_STDIN })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect(String(err)).toContain(`unable to prepare context: cannot fetch ${url}: connect ECONNREFUSED`);
    expect(await runsLeft()).toEqual([]);
  });
});

test('git URLs as docker tells them', () => {
  for (const url of [
    'git://github.com/a/b',
    'git@github.com:a/b.git',
    'github.com/a/b',
    'https://example.com/a/b.git',
    'https://example.com/a/b.git#main:dir',
    'ssh://git@example.com/a/b',
  ]) {
    expect(isGitUrl(url)).toBe(true);
  }
  for (const url of ['https://example.com/ctx.tar', 'http://example.com/a.git/ctx.tar', 'ctx', '-']) {
    expect(isGitUrl(url)).toBe(false);
  }
});
