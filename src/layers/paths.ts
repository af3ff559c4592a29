/**
 * Path rules shared by the tar writer and the layer applier: archive paths are relative, `/`-separated and
 * clean. Whiteout names follow the OCI layer spec (`.wh.<name>`, `.wh..wh..opq`).
 */

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

/**
 * Split an archive path into clean components, resolving `.` and `..` lexically and treating a leading
 * `/` as the layer root (tar's own convention). Returns undefined when `..` would climb above the root.
 */
export function cleanComponents(p: string): string[] | undefined {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

/** Go's sort order for paths in a walk: component by component, each compared as bytes. */
export function compareComponents(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return Buffer.compare(Buffer.from(a[i] as string), Buffer.from(b[i] as string));
  }
  return a.length - b.length;
}
