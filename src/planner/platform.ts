/**
 * Platforms as containerd's `platforms` package reads and writes them (`linux/arm64`, `linux/arm/v7`, `amd64`),
 * with its architecture aliases normalised, because FROM --platform and the TARGET* args use that form. The type,
 * its normalisation and its printed form are the ground floor's (src/platform.ts).
 */
import { UserError } from '../errors';
import { PlanFault } from './fault';
import { hostPlatform, normalizePlatform, type Platform } from '../platform';

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
