// The benchmark's surroundings: Debian packages, the local registry with the base image, dockerd, and the
// description of the machine. Every process started here is remembered by pid and stopped by pid.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, promises as fsp, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as http from 'node:http';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Runs a command to completion; never throws for a non-zero exit. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return {
    code: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? (r.error ? String(r.error) : ''),
  };
}

export function which(cmd) {
  if (cmd.startsWith('/')) return existsSync(cmd) ? cmd : null;
  const r = run('sh', ['-c', `command -v ${cmd}`]);
  return r.code === 0 ? r.stdout.trim() : null;
}

export function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Which Debian package provides each command the harness uses. */
const PACKAGES = {
  '/usr/bin/time': 'time',
  pigz: 'pigz',
  zstd: 'zstd',
  sha256sum: 'coreutils',
  umoci: 'umoci',
  skopeo: 'skopeo',
  file: 'file',
  '/bin/busybox': 'busybox-static',
  'docker-registry': 'docker-registry',
  runc: 'runc',
  buildah: 'buildah',
  podman: 'podman',
  '/usr/bin/docker': 'docker.io',
  dockerd: 'docker.io',
};

/**
 * Installs the Debian packages for the missing commands (apt-get, as root). Returns what is still missing
 * afterwards, with the reason, so the caller can report peers as missing instead of dropping them.
 */
export function ensureCommands(commands, { install }) {
  const missing = commands.filter((c) => !which(c));
  const result = {};
  if (missing.length > 0 && install) {
    const pkgs = [...new Set(missing.map((c) => PACKAGES[c]).filter(Boolean))];
    log(`installing from Debian: ${pkgs.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const upd = run('apt-get', ['update', '-qq'], { env });
    if (upd.code !== 0) log(`apt-get update failed: ${upd.stderr.trim().split('\n').pop()}`);
    for (const pkg of pkgs) {
      const r = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env });
      if (r.code !== 0) result[pkg] = `apt-get install ${pkg} failed: ${lastLines(r.stderr || r.stdout, 2)}`;
    }
  }
  for (const c of commands) {
    if (which(c)) continue;
    const pkg = PACKAGES[c] ?? c;
    result[c] =
      result[pkg] ?? (install ? `${c} not found after installing ${pkg}` : `${c} not installed (${pkg})`);
  }
  return result;
}

export function lastLines(text, n) {
  const lines = String(text)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.slice(-n).join(' | ').slice(0, 600);
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check, seconds, what) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`${what} did not come up within ${seconds}s`);
}

/** A daemon started by the harness: detached in its own process group, output to a log file. */
function startDaemon(cmd, args, logFile) {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  return child.pid;
}

export async function stopPid(pid, what, seconds = 20) {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(200);
  }
  log(`${what} (pid ${pid}) did not stop on SIGTERM; sending SIGKILL`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
  });
}

/** Debian's docker-registry (distribution 2.8) on 127.0.0.1, storing under dir. */
export async function startRegistry(dir) {
  await fsp.mkdir(dir, { recursive: true });
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  await fsp.writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: warn, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${path.join(dir, 'store')} }, delete: { enabled: true } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      '',
    ].join('\n'),
  );
  const pid = startDaemon(which('docker-registry'), ['serve', config], path.join(dir, 'registry.log'));
  await waitFor(
    () => httpStatus(`http://127.0.0.1:${port}/v2/`).then((code) => code === 200),
    20,
    'docker-registry',
  );
  return { host: `127.0.0.1:${port}`, pid, stop: () => stopPid(pid, 'docker-registry') };
}

/**
 * Makes a base image with scripts/make-base-images.sh (the tests' script; `busybox`, or `debian`: debootstrap
 * minbase bookworm through apt's mirror, made once into WORK/debian-oci) and pushes it as HOST/KIND:latest.
 */
export function pushBaseImage(work, registryHost, kind = 'busybox') {
  const ref = `${registryHost}/${kind}:latest`;
  const made = run('bash', [path.join(HERE, '..', 'scripts', 'make-base-images.sh'), work, kind]);
  if (made.code !== 0) throw new Error(`base image ${kind}: ${lastLines(made.stderr || made.stdout, 4)}`);
  const layout = path.join(work, `${kind}-oci`);
  const pushed = run('skopeo', [
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    `oci:${layout}:latest`,
    `docker://${ref}`,
  ]);
  if (pushed.code !== 0) throw new Error(`base image push: ${lastLines(pushed.stderr || pushed.stdout, 4)}`);
  return ref;
}

/**
 * The stock dockerd, as a user has it: default data root (/var/lib/docker, overlay2), default bridge network,
 * default socket. An already running one is used as it is (and left running); otherwise `dockerd` is started with
 * no options at all and stopped afterwards. A daemon with a private data root and no bridge (what this harness used
 * before) is not what users measure. BuildKit builds go through the 20.10 client (/usr/bin/docker; a newer
 * client elsewhere in PATH refuses BuildKit without buildx). 127.0.0.0/8 registries are insecure by default.
 */
export async function startDockerd(dir) {
  await fsp.mkdir(dir, { recursive: true });
  const env = { ...process.env, DOCKER_BUILDKIT: '1' };
  delete env.DOCKER_HOST;
  const answers = () => run('/usr/bin/docker', ['version'], { env }).code === 0;
  if (answers()) return { pid: dockerdPid(), env, stop: async () => undefined };
  const pid = startDaemon(which('dockerd'), [], path.join(dir, 'dockerd.log'));
  try {
    await waitFor(answers, 60, 'dockerd');
  } catch (e) {
    await stopPid(pid, 'dockerd');
    const tail = existsSync(path.join(dir, 'dockerd.log'))
      ? lastLines(readFileSync(path.join(dir, 'dockerd.log'), 'utf8'), 3)
      : '';
    throw new Error(`${e.message}: ${tail}`);
  }
  return { pid, env, stop: () => stopPid(pid, 'dockerd', 60) };
}

/** The pid of the running dockerd (for its RSS), from its default pidfile. */
function dockerdPid() {
  try {
    return Number(readFileSync('/var/run/docker.pid', 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** Resident memory of a process: current and peak (VmHWM), in kB; resetPeak uses /proc/PID/clear_refs. */
export function procMemory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKB: get('VmRSS'), hwmKB: get('VmHWM') };
  } catch {
    return { rssKB: NaN, hwmKB: NaN };
  }
}

export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Share of CPU time stolen by the hypervisor, from /proc/stat (cumulative counters). */
export function cpuTimes() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  return { total: v.reduce((a, b) => a + b, 0), steal: v[7] ?? 0, idle: (v[3] ?? 0) + (v[4] ?? 0) };
}

export function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpu)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const mem = readFileSync('/proc/meminfo', 'utf8');
  const memKB = Number(/^MemTotal:\s+(\d+)/m.exec(mem)?.[1] ?? 0);
  const df = run('df', ['-hP', os.tmpdir()]).stdout.trim().split('\n').pop()?.split(/\s+/) ?? [];
  return {
    nproc: Number(run('nproc', []).stdout.trim()) || os.cpus().length,
    cpuModel: model,
    memoryMB: Math.round(memKB / 1024),
    kernel: os.release(),
    os: lastLines(run('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"']).stdout, 1),
    node: process.version,
    disk: df.length >= 4 ? `${df[1]} (${df[3]} free) at ${df[5] ?? os.tmpdir()}` : 'unknown',
  };
}

/** Unmounts everything mounted below dir (overlay and bind mounts left by the container tools), deepest first. */
export function unmountUnder(dir) {
  const prefix = `${path.resolve(dir)}/`;
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter(Boolean)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const p of points) if (run('umount', [p]).code !== 0) run('umount', ['-l', p]);
  return points.length;
}
