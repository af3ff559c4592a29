/**
 * Choosing the manifest for a platform from an image index, as containerd's default matcher does: same OS,
 * same architecture after normalising aliases (`x86_64` is `amd64`, `aarch64` is `arm64`), and the same
 * variant when one is asked for (`arm` without a variant means `v7`, `arm64` means `v8`). Attestation
 * manifests (`unknown/unknown`) never match.
 */
import type { Descriptor, ImageIndex } from '../oci-types';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

export function normalizePlatformSpec(p: PlatformSpec): PlatformSpec {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  if (architecture === 'x86_64' || architecture === 'x86-64') architecture = 'amd64';
  else if (architecture === 'aarch64') architecture = 'arm64';
  else if (architecture === 'i386') architecture = '386';
  else if (architecture === 'armhf') [architecture, variant] = ['arm', 'v7'];
  else if (architecture === 'armel') [architecture, variant] = ['arm', 'v6'];
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = '';
  if (architecture === 'amd64' && variant === 'v1') variant = '';
  if (architecture === 'arm' && variant === '') variant = 'v7';
  if (architecture === 'arm' && /^[5-8]$/.test(variant)) variant = `v${variant}`;
  return variant === '' ? { os, architecture } : { os, architecture, variant };
}

export function platformMatches(candidate: PlatformSpec | undefined, wanted: PlatformSpec): boolean {
  if (candidate === undefined) return false;
  const c = normalizePlatformSpec(candidate);
  const w = normalizePlatformSpec(wanted);
  if (c.os !== w.os || c.architecture !== w.architecture) return false;
  return w.variant === undefined || c.variant === w.variant;
}

/** The index entry for `wanted`: an exact variant match first, then any that matches. */
export function selectManifest(index: ImageIndex, wanted: PlatformSpec): Descriptor | undefined {
  const candidates = index.manifests.filter((m) => platformMatches(m.platform, wanted));
  const w = normalizePlatformSpec(wanted);
  return (
    candidates.find((m) => normalizePlatformSpec(m.platform as PlatformSpec).variant === w.variant) ??
    candidates[0]
  );
}

export function formatPlatformSpec(p: PlatformSpec): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** The platforms an index offers, for "no manifest for …; available: …" messages. */
export function availablePlatforms(index: ImageIndex): string[] {
  return index.manifests
    .map((m) => m.platform)
    .filter((p): p is NonNullable<typeof p> => p !== undefined && p.os !== 'unknown')
    .map(formatPlatformSpec);
}
