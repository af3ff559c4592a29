/**
 * Platforms as containerd's `platforms` package reads and writes them (`linux/arm64`, `linux/arm/v7`, `amd64`),
 * with its architecture aliases normalised, because FROM --platform and the TARGET* args use that form.
 */
import { UserError } from '../errors';
import { PlanFault } from './fault';
import type { Platform } from './types';

const KNOWN_OS = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'nacl',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'windows',
  'zos',
]);
const KNOWN_ARCH = new Set([
  '386',
  'amd64',
  'amd64p32',
  'arm',
  'armbe',
  'arm64',
  'arm64be',
  'ppc64',
  'ppc64le',
  'loong64',
  'mips',
  'mipsle',
  'mips64',
  'mips64le',
  'mips64p32',
  'mips64p32le',
  'ppc',
  'riscv',
  'riscv64',
  's390',
  's390x',
  'sparc',
  'sparc64',
  'wasm',
]);
const SPECIFIER = /^[A-Za-z0-9_-]+$/;

/** This machine's platform, in Go's names (Node's `x64` is `amd64`). */
export function hostPlatform(): Platform {
  const arch: Record<string, Platform> = {
    x64: { os: 'linux', architecture: 'amd64' },
    arm64: { os: 'linux', architecture: 'arm64' },
    arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
    ia32: { os: 'linux', architecture: '386' },
    ppc64: { os: 'linux', architecture: 'ppc64le' },
    s390x: { os: 'linux', architecture: 's390x' },
    riscv64: { os: 'linux', architecture: 'riscv64' },
    loong64: { os: 'linux', architecture: 'loong64' },
  };
  return { ...(arch[process.arch] ?? { os: 'linux', architecture: process.arch }) };
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** containerd's normalisation of an architecture and variant. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8') variant = '';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '') variant = 'v7';
      else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
      break;
  }
  return variant === '' ? { os, architecture: arch } : { os, architecture: arch, variant };
}

/** Parses a platform specifier; throws PlanFault with containerd's wording. */
export function parsePlatform(spec: string, defaults: Platform): Platform {
  const bad = (): PlanFault =>
    new PlanFault(`"${spec}": unknown operating system or architecture: invalid argument`);
  const parts = spec.split('/');
  if (parts.some((part) => !SPECIFIER.test(part))) throw bad();
  switch (parts.length) {
    case 1: {
      const word = parts[0].toLowerCase();
      if (KNOWN_OS.has(word) || word === 'macos') {
        return normalizePlatform({
          os: word,
          architecture: defaults.architecture,
          variant: defaults.variant,
        });
      }
      const arch = normalizePlatform({ os: defaults.os, architecture: word });
      if (KNOWN_ARCH.has(arch.architecture)) return arch;
      throw bad();
    }
    case 2:
      return normalizePlatform({ os: parts[0], architecture: parts[1] });
    case 3:
      return normalizePlatform({ os: parts[0], architecture: parts[1], variant: parts[2] });
    default:
      throw bad();
  }
}

/** A `--platform` option value (the CLI's), normalised; a bad one is a UserError. */
export function parsePlatformOption(spec: string, defaults: Platform = hostPlatform()): Platform {
  try {
    return parsePlatform(spec, defaults);
  } catch (err) {
    if (err instanceof PlanFault) throw new UserError(`invalid platform ${spec}: ${err.message}`);
    throw err;
  }
}
