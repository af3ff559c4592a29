/**
 * Where a build's context and Dockerfile come from, with the meanings `docker build` (BuildKit's buildx) gives its
 * `PATH | URL | -` argument and `-f`:
 *
 * - `DIR`: the directory; `-f FILE` a Dockerfile anywhere (default `DIR/Dockerfile`); `-f -` the Dockerfile on
 *   stdin, named `Dockerfile` in messages (buildx writes it as `Dockerfile` into a directory of its own, so no
 *   `Dockerfile.dockerignore` applies to it, only the context's `.dockerignore`).
 * - `-`: stdin, sniffed as docker sniffs it. A tar (plain, or compressed with gzip, bzip2, xz or zstd) is the
 *   context, unpacked into a scratch directory under the store's `runs/`, its Dockerfile inside it (`-f` names a
 *   path in the archive; an absolute `-f` a file of this machine). Anything else is the Dockerfile itself, and the
 *   context is empty; `-f` as well is buildx's "ambiguous Dockerfile source".
 * - `http://…`, `https://…`: fetched and sniffed the same way: a tarball is the context, a text file the Dockerfile
 *   (with an empty context). `-f -` reads the Dockerfile from stdin as with a directory.
 * - A git URL (`git://`, `git@`, `github.com/…`, `….git`) is not supported, and says so.
 *
 * A context that came as an archive gets no `.dockerignore`: BuildKit applies one only to a local directory.
 * Stdin is read only when `-` is given (as the context or as `-f`), and the two together are docker's "invalid
 * argument". The scratch directory is removed by `cleanup`, and on any failure before this returns; one left by a
 * killed build is removed by the next build (`runs/<pid>-…` of a dead process, `layers/runs-dir.ts`).
 */
import { goHttpRequest } from '../go/http-request';
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BuildError, UserError } from '../errors';
import { resolveInRoot } from '../executor/sandbox/rootfs-path';
import { openRunsDir } from '../layers/runs-dir';
import { ARCHIVE_SNIFF_BYTES, sniffArchive, unpackArchive } from '../layers/unpack-archive';
import { removeTree } from '../store/atomic';

/** A Dockerfile read whole (from stdin or a URL) larger than this is refused: it is not a Dockerfile. */
export const MAX_DOCKERFILE_BYTES = 32 * 1024 * 1024;

export interface BuildInputRequest {
  /** The context argument as given (`.` when left out). */
  context: string;
  /** `-f` as given. */
  file?: string;
  /** The store: a scratch context goes under its `runs/`. */
  root: string;
  /** Stdin; asked for only when `-` says to read it. */
  stdin: () => AsyncIterable<Uint8Array>;
  /** A line for the user (an archive entry left out). */
  warn: (line: string) => void;
  /** Free bytes an unpacked context must leave on the store's file system (default: the unpacker's). */
  reserveBytes?: number;
}

/** What the build gets: the fields of `BuildOptions` that say where its files are. */
export interface BuildInputOptions {
  contextDir: string;
  dockerfilePath: string;
  dockerfileName: string;
  dockerfileText?: Buffer;
  scratchContext?: boolean;
}

export interface BuildInput {
  options: BuildInputOptions;
  /** Removes the scratch context, if one was made; never throws (a failure is a warning). */
  cleanup(): Promise<void>;
}

const STDIN_BOTH = "invalid argument: can't use stdin for both build context and dockerfile";
const AMBIGUOUS = 'ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles';

export async function resolveBuildInput(req: BuildInputRequest): Promise<BuildInput> {
  const { context, file } = req;
  if (context === '-') {
    if (file === '-') throw new UserError(STDIN_BOTH);
    // Remembered by one name per working directory, which `cache explain -f -` finds.
    return fromStream(req, req.stdin(), { where: 'on stdin', identity: path.resolve('-') });
  }
  const stat = await fsp.stat(context).catch(() => undefined);
  if (stat !== undefined) {
    const contextDir = path.resolve(context);
    if (!stat.isDirectory()) {
      throw new UserError(`unable to prepare context: context must be a directory: ${contextDir}`);
    }
    return {
      options: await localDockerfile(req, contextDir, path.join(contextDir, 'Dockerfile')),
      cleanup: async () => undefined,
    };
  }
  if (isGitUrl(context)) {
    throw new UserError(
      `unable to prepare context: git contexts are not supported (${context}): ` +
        'give a directory, a tarball URL, or - for a tar or a Dockerfile on stdin',
    );
  }
  if (/^https?:\/\//.test(context)) {
    const { body, shown } = await fetchContext(context);
    return fromStream(req, body, { where: shown, identity: shown, url: true });
  }
  throw new UserError(`unable to prepare context: path ${JSON.stringify(context)} not found`);
}

/**
 * docker's `urlutil.IsGitURL`, which buildx also follows: a git transport or host prefix, or an http(s) URL of a
 * `.git` repository (with an optional `#ref:dir`).
 */
export function isGitUrl(s: string): boolean {
  if (/^https?:\/\//.test(s) && /\.git(?:#.+)?$/.test(s)) return true;
  return ['git://', 'git@', 'github.com/', 'ssh://'].some((p) => s.startsWith(p));
}

/** A local context directory: the Dockerfile from `-f` (a file, or `-` for stdin) or `fallback`. */
async function localDockerfile(
  req: BuildInputRequest,
  contextDir: string,
  fallback: string,
): Promise<BuildInputOptions> {
  if (req.file === '-') {
    return {
      contextDir,
      dockerfilePath: fallback,
      dockerfileName: 'Dockerfile',
      dockerfileText: await readDockerfile(req.stdin(), 'the Dockerfile on stdin'),
    };
  }
  return {
    contextDir,
    dockerfilePath: req.file !== undefined ? path.resolve(req.file) : fallback,
    dockerfileName: req.file ?? 'Dockerfile',
  };
}

interface StreamSource {
  /** Where it came from, for messages: "on stdin", or the URL. */
  where: string;
  /** The name the build is remembered by, before the Dockerfile's path in the archive. */
  identity: string;
  /** From a URL, where `-f -` may still read the Dockerfile from stdin. */
  url?: boolean;
}

/** Stdin or a download: a tar context, or a Dockerfile with an empty context. */
async function fromStream(
  req: BuildInputRequest,
  stream: AsyncIterable<Uint8Array>,
  source: StreamSource,
): Promise<BuildInput> {
  const label = `the build context ${source.where}`;
  const { head, all } = await peek(stream, ARCHIVE_SNIFF_BYTES);
  const kind = sniffArchive(head);
  if (kind === undefined && req.file !== undefined) {
    await closeStream(all);
    throw new UserError(
      source.url ? `${AMBIGUOUS} (${source.identity} is a Dockerfile, not an archive)` : AMBIGUOUS,
    );
  }
  const scratch = await makeScratch(req.root);
  try {
    if (kind === undefined) {
      const text = await readDockerfile(all, `the Dockerfile ${source.where}`);
      return {
        options: {
          contextDir: scratch.dir,
          dockerfilePath: source.identity,
          dockerfileName: 'Dockerfile',
          dockerfileText: text,
          scratchContext: true,
        },
        cleanup: () => scratch.remove(req.warn),
      };
    }
    await unpackArchive(all, kind, scratch.dir, {
      label,
      warn: req.warn,
      ...(req.reserveBytes === undefined ? {} : { reserveBytes: req.reserveBytes }),
    });
    const file = req.file ?? 'Dockerfile';
    let options: BuildInputOptions;
    if (file === '-' && source.url) {
      options = {
        contextDir: scratch.dir,
        dockerfilePath: source.identity,
        dockerfileName: 'Dockerfile',
        dockerfileText: await readDockerfile(req.stdin(), 'the Dockerfile on stdin'),
      };
    } else if (path.isAbsolute(file)) {
      // A Dockerfile of this machine, as buildx takes an absolute -f with a remote context.
      options = await localDockerfile(req, scratch.dir, file);
    } else {
      options = {
        contextDir: scratch.dir,
        dockerfilePath: `${source.identity}/${file}`,
        dockerfileName: file,
        dockerfileText: await readArchiveDockerfile(scratch.dir, file),
      };
    }
    return { options: { ...options, scratchContext: true }, cleanup: () => scratch.remove(req.warn) };
  } catch (err) {
    await closeStream(all);
    await scratch.remove(req.warn);
    throw err;
  }
}

/** The Dockerfile at `file` in the unpacked archive, its symlinks followed inside the archive only. */
async function readArchiveDockerfile(dir: string, file: string): Promise<Buffer> {
  const missing = new UserError(
    `failed to read Dockerfile: ${file}: no such file in the build context archive`,
  );
  const resolved = await resolveInRoot(dir, file).catch(() => undefined);
  if (resolved?.stat === undefined) throw missing;
  if (resolved.stat.isDirectory())
    throw new UserError(`failed to read Dockerfile: ${file}: it is a directory`);
  if (!resolved.stat.isFile()) throw missing;
  // Opened without following a last link and checked to be the file resolved; a FIFO is never opened.
  const handle = await fsp.open(resolved.hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.ino !== resolved.stat.ino || st.dev !== resolved.stat.dev) throw missing;
    if (st.size > MAX_DOCKERFILE_BYTES) {
      throw new UserError(`failed to read Dockerfile: ${file}: larger than ${MAX_DOCKERFILE_BYTES} bytes`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** A Dockerfile read whole from a stream; one too large is refused before it fills memory. */
async function readDockerfile(stream: AsyncIterable<Uint8Array>, label: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > MAX_DOCKERFILE_BYTES) {
      await closeStream(stream);
      throw new UserError(`${label} is larger than ${MAX_DOCKERFILE_BYTES} bytes: that is not a Dockerfile`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** The first `n` bytes of `stream` (fewer at its end), and the whole stream again, those bytes included. */
export async function peek(
  stream: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Buffer; all: AsyncIterable<Uint8Array> }> {
  const it = stream[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < n) {
    const r = await it.next();
    if (r.done === true) {
      ended = true;
      break;
    }
    const chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    chunks.push(chunk);
    size += chunk.length;
  }
  const first = Buffer.concat(chunks);
  const all = (async function* (): AsyncGenerator<Uint8Array> {
    try {
      if (first.length > 0) yield first;
      while (!ended) {
        const r = await it.next();
        if (r.done === true) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  })();
  return { head: first.subarray(0, n), all };
}

/** Stops reading a stream that will not be read to its end (a download, stdin). */
async function closeStream(stream: AsyncIterable<Uint8Array>): Promise<void> {
  await stream[Symbol.asyncIterator]()
    .return?.()
    ?.catch(() => undefined);
}

interface Scratch {
  /** The context: `runs/<pid>-ctx<random>/context`, whose parent (0700) keeps other users out. */
  dir: string;
  remove(warn: (line: string) => void): Promise<void>;
}

async function makeScratch(root: string): Promise<Scratch> {
  const runs = await openRunsDir(root);
  // `<pid>-<random>`: what a killed build leaves here is removed by the next one (recoverStaleRuns).
  const holder = path.join(runs, `${process.pid}-ctx${randomBytes(6).toString('hex')}`);
  await fsp.mkdir(holder, { mode: 0o700 });
  await fsp.chmod(holder, 0o700);
  const dir = path.join(holder, 'context');
  await fsp.mkdir(dir);
  await fsp.chmod(dir, 0o755);
  let removed = false;
  return {
    dir,
    remove: async (warn) => {
      if (removed) return;
      removed = true;
      try {
        await removeTree(root, holder);
      } catch (err) {
        warn(`warning: could not remove the scratch build context ${holder}: ${errorText(err)}`);
      }
    },
  };
}

/** GET `url` for a context, as BuildKit's http source does: redirects followed, any status below 400 taken. */
async function fetchContext(url: string): Promise<{ body: AsyncIterable<Uint8Array>; shown: string }> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`unable to prepare context: invalid URL ${JSON.stringify(url)}`);
  }
  const { request, shown, headers } = goHttpRequest(parsed);
  let response: Response;
  try {
    response = await fetch(request, { headers, redirect: 'follow' });
  } catch (err) {
    throw new BuildError(`unable to prepare context: cannot fetch ${shown}: ${fetchErrorText(err)}`);
  }
  if (response.status < 200 || response.status >= 400) {
    await response.body?.cancel().catch(() => undefined);
    const text = response.statusText ? ` ${response.statusText}` : '';
    throw new BuildError(
      `unable to prepare context: ${shown}: server responded with HTTP ${response.status}${text}`,
    );
  }
  const reader = response.body?.getReader();
  const body = (async function* (): AsyncGenerator<Uint8Array> {
    if (reader === undefined) return;
    try {
      for (;;) {
        const r = await reader.read().catch((err: unknown) => {
          throw new BuildError(`unable to prepare context: cannot download ${shown}: ${fetchErrorText(err)}`);
        });
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  })();
  return { body, shown };
}

/** fetch's own message is "fetch failed": the reason (ECONNREFUSED, a TLS error…) is in its cause. */
function fetchErrorText(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  if ('cause' in err && err.cause !== undefined && err.cause !== null) return fetchErrorText(err.cause);
  const message = 'message' in err && typeof err.message === 'string' ? err.message : '';
  const code = 'code' in err && typeof err.code === 'string' ? err.code : '';
  if (message !== '' && code !== '' && !message.includes(code)) return `${message} (${code})`;
  return message || code || String(err);
}

function errorText(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
    return err.message;
  }
  return String(err);
}
