/**
 * `chroot` isolation, with what every Linux has (util-linux, coreutils, bash): new mount, PID, IPC and UTS
 * namespaces (and network, for `none`) from `unshare`; inside them a generated bash script sets up the mounts —
 * the rootfs bound onto itself `nodev` (device nodes a command makes cannot be opened), a fresh /proc with
 * Docker's masked and read-only paths, a minimal /dev, read-only /sys, the planned mounts — then drops to Docker's
 * capability set with no new privileges (`setpriv`) and enters the rootfs (`unshare --root --wd`, switching
 * user last). Every step `exec`s the next, so the command is PID 1 of its namespace and nothing of the host runs
 * beside it. No cgroups are involved.
 *
 * The command's environment passes through bash untouched: bash runs in privileged mode (`-p`: no BASH_ENV, no
 * imported functions, SHELLOPTS ignored), and the variables bash sets or changes for itself are removed again, or
 * put back to the caller's values, by the final `env`. Secrets in the environment thus never appear in a command
 * line. Bash's own messages (a locale warning, a failed mount) go to a separate pipe, so the command's output is
 * only the command's.
 *
 * One exception: variables that steer the dynamic loader (LD_PRELOAD, LD_LIBRARY_PATH, GCONV_PATH …) must never
 * reach the host's own tools, which run as root — a Dockerfile could otherwise load a library of its choosing into
 * them. They are kept out of the chain and handed to the command by the image's own `env`, after the chroot.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../../errors';
import type { PlannedMount, SystemTargets } from './mount-plan';
import { DEFAULT_CAPABILITIES, DEVICES, MASKED_PATHS, READONLY_PATHS } from './policy';
import type { SandboxRuntime } from './runtime';
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { resolveInRoot } from './rootfs-path';
import type { ExecUser } from './user';

/** Variables bash (5.x) sets, changes or drops for itself; the final `env` restores the caller's values. */
const BASH_VARIABLES = [
  '_',
  'BASH',
  'BASHOPTS',
  'BASHPID',
  'BASH_ALIASES',
  'BASH_ARGC',
  'BASH_ARGV',
  'BASH_ARGV0',
  'BASH_CMDS',
  'BASH_COMMAND',
  'BASH_COMPAT',
  'BASH_EXECUTION_STRING',
  'BASH_LINENO',
  'BASH_MONOSECONDS',
  'BASH_REMATCH',
  'BASH_SOURCE',
  'BASH_SUBSHELL',
  'BASH_TRAPSIG',
  'BASH_VERSINFO',
  'BASH_VERSION',
  'BASH_XTRACEFD',
  'COLUMNS',
  'COMP_CWORD',
  'COMP_KEY',
  'COMP_LINE',
  'COMP_POINT',
  'COMP_TYPE',
  'COMP_WORDBREAKS',
  'COMP_WORDS',
  'COMPREPLY',
  'COPROC',
  'DIRSTACK',
  'EPOCHREALTIME',
  'EPOCHSECONDS',
  'EUID',
  'FUNCNAME',
  'GROUPS',
  'HISTCMD',
  'HOSTNAME',
  'HOSTTYPE',
  'IFS',
  'LINENO',
  'LINES',
  'MACHTYPE',
  'MAPFILE',
  'OLDPWD',
  'OPTARG',
  'OPTERR',
  'OPTIND',
  'OSTYPE',
  'PIPESTATUS',
  'PPID',
  'PS1',
  'PS2',
  'PS3',
  'PS4',
  'PWD',
  'RANDOM',
  'READLINE_ARGUMENT',
  'READLINE_LINE',
  'READLINE_MARK',
  'READLINE_POINT',
  'REPLY',
  'SECONDS',
  'SHELLOPTS',
  'SHLVL',
  'SRANDOM',
  'UID',
];

/** Whether a variable changes how the host's dynamically linked tools load (glibc's unsecure variables and more). */
export function isLoaderVariable(name: string): boolean {
  return (
    name.startsWith('LD_') ||
    [
      'GCONV_PATH',
      'GETCONF_DIR',
      'GLIBC_TUNABLES',
      'HOSTALIASES',
      'LOCALDOMAIN',
      'LOCPATH',
      'MALLOC_TRACE',
      'NIS_PATH',
      'NLSPATH',
      'RESOLV_HOST_CONF',
      'RES_OPTIONS',
      'TZDIR',
    ].includes(name)
  );
}

/** Where images keep `env`, to hand loader variables to the command after the chroot. */
const IMAGE_ENV_PATHS = ['/usr/bin/env', '/bin/env'];

/** Printed on the setup channel right before the command starts: a failure before it is the sandbox's. */
const READY = 'tsbuild-sandbox-ready';

export interface ChrootRunOptions {
  runtime: Extract<SandboxRuntime, { kind: 'chroot' }>;
  rootfs: string;
  argv: string[];
  /** The command's environment, exactly. */
  env: Map<string, string>;
  cwd: string;
  user: ExecUser;
  hostname: string;
  network: 'host' | 'none';
  system: SystemTargets;
  mounts: readonly PlannedMount[];
  stateDir: string;
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
}

export async function runChroot(o: ChrootRunOptions): Promise<number> {
  const loaderVars = [...o.env].filter(([k]) => isLoaderVariable(k));
  const hostEnv = new Map([...o.env].filter(([k]) => !isLoaderVariable(k)));
  let imageEnv: string | undefined;
  if (loaderVars.length > 0) {
    const names = loaderVars.map(([k]) => k).join(', ');
    imageEnv = await findImageEnv(o.rootfs);
    if (imageEnv === undefined) {
      throw new BuildError(
        `the chroot isolation can only pass ${names} to a command through the image's own env (/usr/bin/env), which this image lacks; use --isolation=oci`,
      );
    }
    const first = o.argv[0] ?? '';
    if (first.includes('=') || first.startsWith('-')) {
      throw new BuildError(
        `the chroot isolation cannot pass ${names} to a command named ${JSON.stringify(first)}`,
      );
    }
  }
  const script = path.join(o.stateDir, 'setup.sh');
  await fsp.writeFile(script, setupScript({ ...o, env: hostEnv }, imageEnv, loaderVars), { mode: 0o600 });
  const t = o.runtime.tools;
  const nsFlags = [
    '--mount',
    '--propagation',
    'private',
    '--pid',
    '--fork',
    '--kill-child',
    '--ipc',
    '--uts',
  ];
  if (o.network === 'none') nsFlags.push('--net');
  const env: NodeJS.ProcessEnv = Object.fromEntries(hostEnv);
  const { code, setupLog } = await spawnWithSetupChannel(
    t.unshare,
    [...nsFlags, '--', t.bash, '-p', script],
    env,
    o,
  );
  // Killed before the command started (an abort during setup): that is the abort, not a broken sandbox.
  if (!setupLog.includes(READY) && !o.signal?.aborted) {
    const log = setupLog.trim();
    throw new BuildError(
      `the chroot sandbox could not be set up${log ? `: ${log}` : ` (exit code ${code})`}`,
    );
  }
  return code;
}

/** fd 1: the command's stdout; fd 2: setup messages; fd 3: the command's stderr (made fd 2 before it runs). */
function spawnWithSetupChannel(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  o: ChrootRunOptions,
): Promise<{ code: number; setupLog: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let setupLog = '';
    child.stdout?.on('data', (d: Buffer) => o.onOutput?.(d, 'stdout'));
    child.stderr?.on('data', (d: Buffer) => (setupLog += d.toString()));
    const errPipe = child.stdio[3] as NodeJS.ReadableStream;
    errPipe.on('data', (d: Buffer) => o.onOutput?.(d, 'stderr'));
    // --kill-child: when unshare dies, the namespace's init (the command) and so everything in it dies too.
    const onAbort = (): void => void child.kill('SIGKILL');
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => reject(new BuildError(`cannot run ${file}: ${err.message}`)));
    child.on('close', (code, sig) => {
      o.signal?.removeEventListener('abort', onAbort);
      resolve({ code: code ?? 128 + ((sig && constants.signals[sig]) || 0), setupLog });
    });
  });
}

async function findImageEnv(rootfs: string): Promise<string | undefined> {
  for (const p of IMAGE_ENV_PATHS) {
    const r = await resolveInRoot(rootfs, p).catch(() => undefined);
    if (r?.stat?.isFile() && (r.stat.mode & 0o111) !== 0) return p;
  }
  return undefined;
}

/**
 * The bash script run inside the new namespaces. Every path in it is quoted literally. `loaderVars` (kept out of
 * `o.env`) are set by the image's `imageEnv` right before the command.
 */
export function setupScript(
  o: ChrootRunOptions,
  imageEnv?: string,
  loaderVars: ReadonlyArray<[string, string]> = [],
): string {
  const t = o.runtime.tools;
  const q = shellQuote;
  const R = o.rootfs;
  const at = (containerPath: string): string => q(containerPath === '/' ? R : `${R}${containerPath}`);
  // No shell variables: the command's environment is bash's, and assigning a name it has would change it.
  const M = q(t.mount);
  const lines: string[] = ['set -eu'];
  lines.push(
    '# the rootfs as a mount of its own, nodev: device nodes a command creates cannot be opened',
    `${M} --bind -- ${q(R)} ${q(R)}`,
    `${M} -o remount,bind,nodev -- ${q(R)}`,
  );
  const { proc, dev, sys } = o.system;
  lines.push(`${M} -t proc -o nosuid,nodev,noexec proc ${at(proc)}`);
  lines.push(...maskLines(M, o.system, at));
  lines.push(
    `${M} -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs ${at(dev)}`,
    ...DEVICES.map(
      ([name, major, minor]) => `${q(t.mknod)} -m 666 ${at(`${dev}/${name}`)} c ${major} ${minor}`,
    ),
    `${q(t.mkdir)} -m 755 ${at(`${dev}/pts`)} ${at(`${dev}/shm`)} ${at(`${dev}/mqueue`)}`,
    `${M} -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts ${at(`${dev}/pts`)}`,
    `${M} -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=65536k shm ${at(`${dev}/shm`)}`,
    `${M} -t mqueue -o nosuid,nodev,noexec mqueue ${at(`${dev}/mqueue`)}`,
    `${q(t.ln)} -s pts/ptmx ${at(`${dev}/ptmx`)}`,
    `${q(t.ln)} -s /proc/self/fd ${at(`${dev}/fd`)}`,
    `${q(t.ln)} -s /proc/self/fd/0 ${at(`${dev}/stdin`)}`,
    `${q(t.ln)} -s /proc/self/fd/1 ${at(`${dev}/stdout`)}`,
    `${q(t.ln)} -s /proc/self/fd/2 ${at(`${dev}/stderr`)}`,
    `${M} -t sysfs -o ro,nosuid,nodev,noexec sysfs ${at(sys)}`,
  );
  for (const p of MASKED_PATHS.filter((m) => m.startsWith('/sys/')))
    lines.push(maskLine(M, at(`${sys}${p.slice(4)}`)));
  for (const m of o.mounts) {
    const target = at(m.target);
    if (m.createAtMount) {
      lines.push(`${q(t.mkdir)} -p -- ${q(path.posix.dirname(`${R}${m.target}`))}`);
      lines.push(m.file ? `: > ${target}` : `${q(t.mkdir)} -p -- ${target}`);
    }
    if (m.type === 'tmpfs') {
      const opts = ['nosuid', 'nodev', 'mode=1777', ...(m.size !== undefined ? [`size=${m.size}`] : [])];
      lines.push(`${M} -t tmpfs -o ${opts.join(',')} tmpfs ${target}`);
    } else {
      lines.push(`${M} --bind ${m.readOnly ? '-o ro ' : ''}-- ${q(m.source as string)} ${target}`);
    }
  }
  if (o.network === 'none' && o.runtime.ip !== undefined) lines.push(`${q(o.runtime.ip)} link set lo up`);
  lines.push(`printf %s ${q(o.hostname)} > /proc/sys/kernel/hostname`);

  const restore: string[] = [];
  for (const name of BASH_VARIABLES) {
    restore.push('-u', name);
  }
  for (const name of BASH_VARIABLES) {
    const v = o.env.get(name);
    if (v !== undefined) restore.push(`${name}=${v}`);
  }
  const caps = ['-all', ...DEFAULT_CAPABILITIES.map((c) => `+${c.slice(4).toLowerCase()}`)].join(',');
  const groups =
    o.user.additionalGids.length > 0 ? ['--groups', o.user.additionalGids.join(',')] : ['--clear-groups'];
  const finalCmd = [
    t.env,
    ...restore,
    t.setpriv,
    '--regid',
    String(o.user.gid),
    ...groups,
    '--no-new-privs',
    '--inh-caps=-all',
    `--bounding-set=${caps}`,
    '--',
    t.unshare,
    `--root=${R}`,
    `--wd=${o.cwd}`,
    ...(o.user.uid !== 0 ? [`--setuid=${o.user.uid}`] : []),
    '--',
    ...(imageEnv !== undefined ? [imageEnv, ...loaderVars.map(([k, v]) => `${k}=${v}`)] : []),
    ...o.argv,
  ];
  lines.push(`printf '%s\\n' ${READY} >&2`, 'exec 2>&3 3>&-', `exec ${finalCmd.map(q).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

function maskLines(M: string, system: SystemTargets, at: (p: string) => string): string[] {
  const out: string[] = [];
  for (const p of MASKED_PATHS.filter((m) => m.startsWith('/proc/')))
    out.push(maskLine(M, at(`${system.proc}${p.slice(5)}`)));
  for (const p of READONLY_PATHS) {
    const target = at(`${system.proc}${p.slice(5)}`);
    out.push(
      `if [ -e ${target} ]; then ${M} --bind -- ${target} ${target}; ${M} -o remount,bind,ro -- ${target}; fi`,
    );
  }
  return out;
}

/** Hide a path: an empty read-only tmpfs over a directory, /dev/null over a file. */
function maskLine(M: string, target: string): string {
  return (
    `if [ -d ${target} ]; then ${M} -t tmpfs -o ro,nosuid,nodev,noexec,size=0 tmpfs ${target}; ` +
    `elif [ -e ${target} ]; then ${M} --bind -- /dev/null ${target}; fi`
  );
}

/** Single-quote for bash: safe for any bytes but NUL. */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new BuildError('a NUL byte cannot be passed to a command');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
