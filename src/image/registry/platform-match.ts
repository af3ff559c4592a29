/**
 * Choosing the manifest for a platform from an image index, as containerd's default matcher does: same OS,
 * same architecture after normalising aliases (`x86_64` is `amd64`, `aarch64` is `arm64`), and the same
 * variant when one is asked for (`arm` without a variant means `v7`, `arm64` means `v8`). Attestation
 * manifests (`unknown/unknown`) never match.
 */
import { formatPlatform, normalizePlatform, type Platform } from '../../platform';
import type { Descriptor, ImageIndex } from '../oci-types';

export function platformMatches(candidate: Platform | undefined, wanted: Platform): boolean {
  if (candidate === undefined) return false;
  const c = normalizePlatform(candidate);
  const w = normalizePlatform(wanted);
  if (c.os !== w.os || c.architecture !== w.architecture) return false;
  return w.variant === undefined || c.variant === w.variant;
}

/** The index entry for `wanted`: an exact variant match first, then any that matches. */
export function selectManifest(index: ImageIndex, wanted: Platform): Descriptor | undefined {
  const candidates = index.manifests.filter((m) => platformMatches(m.platform, wanted));
  const w = normalizePlatform(wanted);
  return (
    candidates.find((m) => m.platform !== undefined && normalizePlatform(m.platform).variant === w.variant) ??
    candidates[0]
  );
}

/** The platforms an index offers, for "no manifest for …; available: …" messages. */
export function availablePlatforms(index: ImageIndex): string[] {
  return index.manifests
    .map((m) => m.platform)
    .filter((p): p is NonNullable<typeof p> => p !== undefined && p.os !== 'unknown')
    .map(formatPlatform);
}
