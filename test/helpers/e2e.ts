/**
 * End-to-end helpers: run the real compiled CLI (`node bin/run.js`, built by `npm test` before jest) as a
 * child process, and check what it made with real tools (skopeo, umoci, podman).
 *
 * A missing tool or a missing dist/ is a test failure with a clear message, never a skip:
 * scripts/setup-test-tools.sh installs the tools and `npm run build` compiles the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const PROJECT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(PROJECT, 'bin', 'run.js');
const COMPILED_BUILD = path.join(PROJECT, 'dist', 'cli', 'commands', 'build.js');

export interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Added to (not replacing) the environment. */
  env?: Record<string, string>;
}

/** Fails unless `dist/` holds the compiled CLI (tests never build it themselves). */
export function assertCliBuilt(): void {
  if (!existsSync(COMPILED_BUILD)) {
    throw new Error(`the compiled CLI is missing (${COMPILED_BUILD}): run \`npm run build\` before jest`);
  }
}

/** Where `name` is on PATH, or a failure that says how to get it. */
export function requireTool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      const st = statSync(candidate);
      if (st.isFile() && (st.mode & 0o111) !== 0) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `the e2e tests need \`${name}\` on PATH and it is not installed: run scripts/setup-test-tools.sh ` +
      `(this is a failure, not a skip)`,
  );
}

/** Checks the CLI is built and every tool is installed; call from beforeAll. */
export function requireE2e(...tools: string[]): void {
  assertCliBuilt();
  for (const t of tools) requireTool(t);
}

function collect(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** Starts `tsbuild ARGS` without waiting; `done` resolves when it exits. */
export function startTsbuild(
  args: string[],
  options: RunOptions = {},
): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? PROJECT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, done: collect(child) };
}

/** Runs `tsbuild ARGS` to the end, whatever its exit code. */
export function tsbuild(args: string[], options: RunOptions = {}): Promise<Run> {
  return startTsbuild(args, options).done;
}

/** Runs `tsbuild ARGS` and fails (with its stderr) unless it exits 0. */
export async function tsbuildOk(args: string[], options: RunOptions = {}): Promise<Run> {
  const r = await tsbuild(args, options);
  if (r.status !== 0) {
    throw new Error(`tsbuild ${args.join(' ')} exited ${r.status ?? r.signal}\n--- stderr ---\n${r.stderr}`);
  }
  return r;
}

/** Runs an outside tool (skopeo, umoci, podman …) and returns its stdout; fails with its stderr. */
export async function tool(name: string, args: string[], options: RunOptions = {}): Promise<string> {
  const bin = requireTool(name);
  const child = spawn(bin, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = await collect(child);
  if (r.status !== 0) {
    throw new Error(`${name} ${args.join(' ')} exited ${r.status ?? r.signal}\n--- stderr ---\n${r.stderr}`);
  }
  return r.stdout;
}

export async function toolJson<T = unknown>(name: string, args: string[]): Promise<T> {
  return JSON.parse(await tool(name, args)) as T;
}

/** Temp directories made by one test file, removed in afterAll. */
export class TempDirs {
  private readonly dirs: string[] = [];

  async make(prefix: string): Promise<string> {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `tsbuild-e2e-${prefix}-`));
    this.dirs.push(dir);
    return dir;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => fsp.rm(d, { recursive: true, force: true })));
  }
}

/** Writes files (relative path → content) under `dir`; a path ending in `/` is an empty directory. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    if (rel.endsWith('/')) {
      await fsp.mkdir(abs, { recursive: true });
      continue;
    }
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    await fsp.writeFile(abs, content);
  }
}

/** `umoci unpack --image LAYOUT:TAG` into a fresh bundle; returns the bundle's rootfs. */
export async function unpack(layout: string, tag: string, bundle: string): Promise<string> {
  const args = ['unpack'];
  // Unprivileged umoci cannot chown; as root it keeps the image's owners, which the tests check.
  if (process.getuid?.() !== 0) args.push('--rootless');
  await tool('umoci', [...args, '--image', `${layout}:${tag}`, bundle]);
  return path.join(bundle, 'rootfs');
}

/** Every path under `dir` (relative, sorted, directories included). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      out.push(child);
      if (e.isDirectory()) await walk(child);
    }
  };
  await walk('');
  return out.sort();
}

/** `0755 0:0` for a path: permission bits in octal, then uid:gid. */
export async function modeOwner(p: string): Promise<string> {
  const st = await fsp.lstat(p);
  return `${(st.mode & 0o7777).toString(8).padStart(4, '0')} ${st.uid}:${st.gid}`;
}

/** The `[i/n] INSTRUCTION ...` lines of a `--progress plain` log. */
export function stepLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\[[^\]]*\d+\/\d+\] /.test(l));
}

/** The `--report` document, as the README describes it (version 1). */
export interface Report {
  version: 1;
  image: { name: string | null; manifestDigest: string; configDigest: string };
  steps: {
    stage: string;
    index: number;
    line: number;
    instruction: string;
    cache: 'hit' | 'miss';
    reason: string | null;
    imported?: true;
    key: string;
    output?: string[];
    outputTruncated?: true;
    durationMs: number;
    layer: { digest: string; diffId: string; size: number } | null;
  }[];
  summary: { steps: number; hits: number; misses: number; durationMs: number; importedHits?: number };
  /** Present when a step read the build context. */
  contextModes?: { policy: 'normalize' | 'preserve'; normalized: number };
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function sortedKeys(o: object): string[] {
  return Object.keys(o).sort();
}

/** Reads a `--report` file and fails unless it has exactly the documented shape. */
export async function readReport(file: string): Promise<Report> {
  const r = JSON.parse(await fsp.readFile(file, 'utf8')) as Report;
  expectShape(r);
  return r;
}

function expectShape(r: Report): void {
  const fail = (what: string): never => {
    throw new Error(`report does not have the documented shape: ${what}\n${JSON.stringify(r, null, 2)}`);
  };
  const topKeys = sortedKeys(r).filter((k) => k !== 'contextModes');
  if (JSON.stringify(topKeys) !== '["image","steps","summary","version"]') fail('top-level keys');
  if (r.contextModes !== undefined) {
    const { policy, normalized } = r.contextModes;
    if (JSON.stringify(sortedKeys(r.contextModes)) !== '["normalized","policy"]') fail('contextModes keys');
    if (policy !== 'normalize' && policy !== 'preserve') fail('contextModes.policy');
    if (!Number.isInteger(normalized) || normalized < 0) fail('contextModes.normalized');
  }
  if (r.version !== 1) fail('version');
  if (JSON.stringify(sortedKeys(r.image)) !== '["configDigest","manifestDigest","name"]') fail('image keys');
  if (r.image.name !== null && typeof r.image.name !== 'string') fail('image.name');
  if (!DIGEST.test(r.image.manifestDigest) || !DIGEST.test(r.image.configDigest)) fail('image digests');
  if (!Array.isArray(r.steps)) fail('steps');
  const stepKeys = '["cache","durationMs","index","instruction","key","layer","line","reason","stage"]';
  const optional = new Set(['imported', 'output', 'outputTruncated']);
  for (const s of r.steps) {
    const keys = sortedKeys(s).filter((k) => !optional.has(k));
    if (JSON.stringify(keys) !== stepKeys) fail(`step keys of ${JSON.stringify(s)}`);
    if (!DIGEST.test(s.key)) fail('step key');
    if (s.output !== undefined && !(Array.isArray(s.output) && s.output.every((l) => typeof l === 'string')))
      fail('step output');
    if (s.imported !== undefined && (s.imported !== true || s.cache !== 'hit')) fail('imported on a non-hit');
    if (typeof s.stage !== 'string' || typeof s.instruction !== 'string') fail('step strings');
    for (const n of [s.index, s.line, s.durationMs]) if (!Number.isInteger(n) || n < 0) fail('step numbers');
    if (s.cache !== 'hit' && s.cache !== 'miss') fail('step cache');
    if (s.cache === 'hit' && s.reason !== null) fail('a hit with a reason');
    if (s.cache === 'miss' && (typeof s.reason !== 'string' || s.reason === ''))
      fail('a miss with no reason');
    if (s.layer !== null) {
      if (JSON.stringify(sortedKeys(s.layer)) !== '["diffId","digest","size"]') fail('layer keys');
      if (!DIGEST.test(s.layer.digest) || !DIGEST.test(s.layer.diffId)) fail('layer digests');
      if (!Number.isInteger(s.layer.size) || s.layer.size <= 0) fail('layer size');
    }
  }
  if (
    JSON.stringify(sortedKeys(r.summary).filter((k) => k !== 'importedHits')) !==
    '["durationMs","hits","misses","steps"]'
  )
    fail('summary keys');
  const importedHits = r.steps.filter((s) => s.imported === true).length;
  if ((r.summary.importedHits ?? 0) !== importedHits || r.summary.importedHits === 0)
    fail('summary.importedHits');
  const hits = r.steps.filter((s) => s.cache === 'hit').length;
  if (
    r.summary.steps !== r.steps.length ||
    r.summary.hits !== hits ||
    r.summary.misses !== r.steps.length - hits
  )
    fail('summary counts');
  if (!Number.isInteger(r.summary.durationMs) || r.summary.durationMs < 0) fail('summary.durationMs');
}

/** Fails if stderr shows a JavaScript stack trace. */
export function expectNoStackTrace(run: Run): void {
  if (run.stderr.includes('    at ')) throw new Error(`stderr has a stack trace:\n${run.stderr}`);
}

/**
 * SIGKILLs `child` a random 0–`maxDelayMs` ms after its stderr first matches `trigger` (a progress line), so
 * the kill lands while it works rather than while node starts. Resolves to the delay used, or null when the
 * child ended before it was killed.
 */
export function killAfter(child: ChildProcess, trigger: RegExp, maxDelayMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    let seen = '';
    let timer: NodeJS.Timeout | undefined;
    const onData = (d: Buffer | string): void => {
      seen += d.toString();
      if (timer || !trigger.test(seen)) return;
      const delay = Math.floor(Math.random() * (maxDelayMs + 1));
      timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          resolve(delay);
        } else resolve(null);
      }, delay);
    };
    child.stderr?.on('data', onData);
    child.on('exit', () => {
      if (timer === undefined) resolve(null);
    });
  });
}
