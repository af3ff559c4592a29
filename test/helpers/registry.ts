/**
 * Real registries for tests: Debian's `docker-registry` (distribution v2) as a child process on a free
 * loopback port, with its own storage under a temp dir; optionally behind htpasswd basic auth or behind
 * bearer-token auth served by a small token server below (ES256 JWTs signed with a throwaway key whose
 * certificate the registry trusts). Plus the offline busybox base image, and skopeo/podman wrappers.
 *
 * A missing tool is a failure, never a skip: scripts/setup-test-tools.sh installs them all.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const PROJECT = path.resolve(__dirname, '..', '..');
const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:PORT`: the registry part of references. */
  host: string;
  port: number;
  dir: string;
  /** The registry's own log (access log lines included). */
  log(): Promise<string>;
  /** Request lines from the access log, e.g. `GET /v2/busybox/manifests/latest`. */
  requests(): Promise<string[]>;
  /** SIGKILL: the registry vanishes mid-whatever, as a crashed or unplugged one does. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'basic'; user: string; password: string }
  | { kind: 'token'; user: string; password: string };

export function requireTool(name: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${name} is not installed; run scripts/setup-test-tools.sh (registry tests need it)`);
  }
}

/** Run a tool; a failure carries its stderr so the test output says what went wrong. */
export async function run(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, {
      ...options,
      maxBuffer: 64 << 20,
      encoding: 'utf8',
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `tsbuild-${prefix}-`));
}

/** Start a registry; stop it in afterAll. */
export async function startRegistry(auth: RegistryAuth = { kind: 'none' }): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(`${REGISTRY_BIN} is missing; run scripts/setup-test-tools.sh (package docker-registry)`);
  }
  const dir = await tempDir('registry');
  const logPath = path.join(dir, 'registry.log');
  let authYaml = '';
  let tokenServer: TokenServer | undefined;
  if (auth.kind === 'basic') {
    requireTool('htpasswd');
    const line = execFileSync('htpasswd', ['-Bbn', auth.user, auth.password], { encoding: 'utf8' });
    await fsp.writeFile(path.join(dir, 'htpasswd'), line);
    authYaml = `auth:\n  htpasswd:\n    realm: tsbuild-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  } else if (auth.kind === 'token') {
    tokenServer = await startTokenServer(dir, auth.user, auth.password);
    authYaml =
      `auth:\n  token:\n    realm: ${tokenServer.realm}\n    service: ${TOKEN_SERVICE}\n` +
      `    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${tokenServer.certPath}\n`;
  }
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = [
      'version: 0.1',
      'log: { level: info, accesslog: { disabled: false } }',
      'storage:',
      `  filesystem: { rootdirectory: ${path.join(dir, 'store')} }`,
      '  delete: { enabled: true }',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      authYaml,
    ].join('\n');
    await fsp.writeFile(path.join(dir, 'config.yml'), config);
    const log = await fsp.open(logPath, 'a');
    const child = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], {
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    if (await waitReady(port, child)) {
      return registryHandle(port, dir, logPath, child, tokenServer);
    }
    child.kill('SIGKILL');
    // The port may have been taken between freePort() and the registry's bind; try another.
    if (attempt >= 2)
      throw new Error(`docker-registry did not start:\n${await fsp.readFile(logPath, 'utf8')}`);
  }
}

function registryHandle(
  port: number,
  dir: string,
  logPath: string,
  child: ChildProcess,
  tokenServer: TokenServer | undefined,
): TestRegistry {
  const log = (): Promise<string> => fsp.readFile(logPath, 'utf8');
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    log,
    async requests() {
      const lines = (await log()).split('\n');
      return lines
        .map((l) => /"([A-Z]+ \/v2\/\S*) HTTP\/[\d.]+"/.exec(l)?.[1])
        .filter((l): l is string => l !== undefined);
    },
    async crash() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
        clearTimeout(timer);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await tokenServer?.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitReady(port: number, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) return false;
    const status = await new Promise<number>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/v2/' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
    });
    if (status === 200 || status === 401) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

// ---- bearer tokens ---------------------------------------------------------------------------------------

const TOKEN_SERVICE = 'tsbuild-test-registry';
const TOKEN_ISSUER = 'tsbuild-test-issuer';

interface TokenServer {
  realm: string;
  certPath: string;
  close(): Promise<void>;
}

/**
 * The token endpoint of the distribution token-auth spec: GET ?service=&scope=…, basic credentials in, a
 * JWT out that grants what was asked (to the right user) or nothing (to anyone else).
 */
async function startTokenServer(dir: string, user: string, password: string): Promise<TokenServer> {
  requireTool('openssl');
  const keyPath = path.join(dir, 'token.key');
  const certPath = path.join(dir, 'token.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=tsbuild-test-token',
    ],
    { stdio: 'ignore' },
  );
  const key = createPrivateKey(await fsp.readFile(keyPath));
  const cert = new X509Certificate(await fsp.readFile(certPath));
  const x5c = [cert.raw.toString('base64')];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const given = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
    const anonymous = req.headers.authorization === undefined;
    if (!anonymous && given !== `${user}:${password}`) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    const access = anonymous
      ? []
      : url.searchParams.getAll('scope').flatMap((s) => {
          const m = /^repository:(.+):([a-z,]+)$/.exec(s);
          return m ? [{ type: 'repository', name: m[1], actions: (m[2] as string).split(',') }] : [];
        });
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(
      { alg: 'ES256', typ: 'JWT', x5c },
      {
        iss: TOKEN_ISSUER,
        sub: anonymous ? '' : user,
        aud: url.searchParams.get('service') ?? '',
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      },
      key,
    );
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certPath,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function signJwt(header: object, claims: object, key: ReturnType<typeof createPrivateKey>): string {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

// ---- base images -----------------------------------------------------------------------------------------

/**
 * The offline busybox OCI layout (scripts/make-base-images.sh), built once per machine into a shared temp
 * folder; the script is safe when several test workers run it at once.
 */
export async function busyboxLayout(): Promise<string> {
  requireTool('umoci');
  const out = path.join(os.tmpdir(), 'tsbuild-test-base-images');
  const script = path.join(PROJECT, 'scripts', 'make-base-images.sh');
  const layout = (await run('bash', [script, out])).trim().split('\n').pop() as string;
  return layout;
}

/** skopeo copy into a test registry (plain HTTP). `extra` e.g. `['--format', 'v2s2']`. */
export async function skopeoCopy(source: string, dest: string, extra: string[] = []): Promise<void> {
  requireTool('skopeo');
  await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...extra, source, dest]);
}

/** A docker config dir with `auths` for one registry. */
export async function dockerConfig(registry: string, user: string, password: string): Promise<string> {
  const dir = await tempDir('docker-config');
  const auth = Buffer.from(`${user}:${password}`).toString('base64');
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths: { [registry]: { auth } } }));
  return dir;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

// ---- the compiled CLI ------------------------------------------------------------------------------------

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for commands that write archives there. */
  raw: Buffer;
}

/**
 * Compile before the CLI tests run `bin/run.js` (which loads `dist/`), unless `dist/` is already newer
 * than every source file: a full tsc run costs seconds per test file.
 */
export function buildCli(): void {
  const started = Date.now();
  const compiled = path.join(PROJECT, 'dist', 'cli', 'commands', 'pull.js');
  if (existsSync(compiled) && statSync(compiled).mtimeMs > newestSource(path.join(PROJECT, 'src'))) return;
  try {
    execFileSync('npm', ['run', 'build'], { cwd: PROJECT, stdio: 'pipe' });
  } catch (e) {
    // tsc still emits when someone else's work in progress elsewhere has type errors; what matters is
    // that our commands were freshly compiled.
    const fresh = existsSync(compiled) && statSync(compiled).mtimeMs >= started - 1000;
    if (!fresh) throw e;
  }
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** `tsbuild ARGS…` through bin/run.js, asynchronously (a registry in this process must keep serving). */
export function tsbuild(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  input?: Buffer,
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT, 'bin', 'run.js'), ...args], {
      cwd: PROJECT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('close', (status) =>
      resolve({
        status,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        raw: Buffer.concat(out),
      }),
    );
  });
}
