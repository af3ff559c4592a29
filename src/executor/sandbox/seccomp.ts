/**
 * The seccomp filter a RUN gets: Docker's default profile (`docker-seccomp-default.json`: moby v20.10.24's
 * `profiles/seccomp/default.json` as Debian ships it, Apache-2.0, Copyright Docker, Inc.; containers-common's
 * profile is looser: it allows mount, unshare and keyctl outright), turned into the OCI spec's form for this
 * machine the way moby does it: only the host's architecture (and its sub-architectures), and only the rules
 * whose capability, architecture and kernel conditions hold. What the profile does not allow fails with EPERM:
 * keyctl, add_key, unshare and setns, mount, kexec, module loading, as under `docker run`.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import dockerDefault from './docker-seccomp-default.json';
import { SandboxUnavailableError } from './runtime';

interface ProfileArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

interface ProfileRule {
  names?: string[];
  name?: string;
  action: string;
  args?: ProfileArg[] | null;
  errnoRet?: number;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
}

interface Profile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: Array<{ architecture: string; subArchitectures?: string[] | null }>;
  syscalls?: ProfileRule[];
}

/** The `linux.seccomp` section of an OCI runtime spec. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: Array<{ names: string[]; action: string; args?: ProfileArg[]; errnoRet?: number }>;
}

/** Node's `process.arch` to the profile's Go architecture names and libseccomp's. */
const ARCHES: Record<string, { go: string; scmp: string }> = {
  x64: { go: 'amd64', scmp: 'SCMP_ARCH_X86_64' },
  arm64: { go: 'arm64', scmp: 'SCMP_ARCH_AARCH64' },
  ppc64: { go: 'ppc64le', scmp: 'SCMP_ARCH_PPC64LE' },
  s390x: { go: 's390x', scmp: 'SCMP_ARCH_S390X' },
  riscv64: { go: 'riscv64', scmp: 'SCMP_ARCH_RISCV64' },
};

/**
 * `profilePath` replaces Docker's profile with another in the same format (tests); `arch` and `kernel` stand for
 * this machine's.
 */
export function defaultSeccomp(
  capabilities: readonly string[],
  profilePath?: string,
  arch: string = process.arch,
  kernel: string = release(),
): OciSeccomp {
  const profile =
    profilePath === undefined
      ? parseProfile(dockerDefault, 'the built-in profile')
      : loadProfile(profilePath);
  const host = ARCHES[arch];
  if (host === undefined) throw new SandboxUnavailableError(`no seccomp architecture known for ${arch}`);
  const entry = profile.archMap?.find((a) => a.architecture === host.scmp);
  const architectures = [host.scmp, ...(entry?.subArchitectures ?? [])];
  const caps = new Set(capabilities);
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(host.go)) continue;
    if (exc.arches?.includes(host.go)) continue;
    if (inc.caps && inc.caps.length > 0 && !inc.caps.every((c) => caps.has(c))) continue;
    if (exc.caps?.some((c) => caps.has(c))) continue;
    if (inc.minKernel !== undefined && compareKernel(kernel, inc.minKernel) < 0) continue;
    const names = rule.names ?? (rule.name !== undefined ? [rule.name] : []);
    if (names.length === 0) continue;
    syscalls.push({
      names,
      action: rule.action,
      ...(rule.args && rule.args.length > 0 ? { args: rule.args } : {}),
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
    });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures,
    syscalls,
  };
}

function loadProfile(profilePath: string): Profile {
  let text: string;
  try {
    text = readFileSync(profilePath, 'utf8');
  } catch {
    throw new SandboxUnavailableError(`the seccomp profile ${profilePath} cannot be read`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return parseProfile(parsed, profilePath);
}

function parseProfile(v: unknown, what: string): Profile {
  if (!isProfile(v)) throw new SandboxUnavailableError(`${what} is not a seccomp profile`);
  return v;
}

/** `5.10.0-28-amd64` against `4.8`: numeric major, then minor. */
function compareKernel(running: string, wanted: string): number {
  const parse = (v: string): number[] =>
    v
      .split(/[.-]/)
      .slice(0, 2)
      .map((p) => Number.parseInt(p, 10) || 0);
  const [a0 = 0, a1 = 0] = parse(running);
  const [b0 = 0, b1 = 0] = parse(wanted);
  return a0 - b0 || a1 - b1;
}

function isProfile(v: unknown): v is Profile {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as { defaultAction?: unknown; syscalls?: unknown };
  return typeof p.defaultAction === 'string' && (p.syscalls === undefined || Array.isArray(p.syscalls));
}
