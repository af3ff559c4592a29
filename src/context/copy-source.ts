/**
 * Expanding one COPY/ADD source against the context, as BuildKit's `ResolveWildcards` (fsutil/copy) does:
 * the path is split at its first segment with an unescaped wildcard; the part before it is resolved inside
 * the root (symlinks followed); then everything below that directory is walked and each path, relative to it,
 * is matched against the rest of the pattern with filepath.Match. A matching directory is taken whole (its
 * insides are not matched separately).
 */
import { goMatch, validateGoPattern, containsWildcards } from './glob';
import { goClean } from '../go/path';
import type { ContextTree } from './tree';

/** BuildKit's `splitWildcards`: the literal leading directories, and the pattern from the first wildcard on. */
export function splitWildcards(source: string): { base: string; pattern: string } {
  const cleaned = source === '' ? '' : goClean(source);
  const base: string[] = [];
  const rest: string[] = [];
  for (const part of cleaned.split('/')) {
    if (rest.length > 0 || containsWildcards(part)) rest.push(part);
    else base.push(part === '' ? '/' : part);
  }
  const join = (parts: string[]): string => {
    const s = parts.filter((x) => x !== '').join('/');
    return s === '' ? '' : goClean(s);
  };
  return { base: join(base), pattern: join(rest) };
}

/**
 * The context paths a COPY source names, relative to the root, in walk order; `.` stands for the root itself.
 * An empty list means nothing matched (the caller reports the error, as BuildKit does with "no matches found").
 * A source without wildcards comes back as its cleaned path if it exists (through symlinks). Returned paths are
 * not symlink-resolved: use `tree.resolve(path)` to find what to copy, since COPY follows a symlink source
 * (BuildKit's FollowLinks) while keeping the source's own name.
 * Throws `BadPatternError` for a malformed pattern (BuildKit would report it as "no matches").
 */
export function expandCopySource(source: string, tree: ContextTree): string[] {
  const { base, pattern } = splitWildcards(source);
  if (pattern === '') {
    const rel = goClean('/' + base).slice(1);
    const target = tree.resolve(rel, true);
    if (target !== '' && !tree.get(target)) return [];
    return [rel === '' ? '.' : rel];
  }
  validateGoPattern(pattern);
  const dir = tree.resolve(base, true);
  if (!tree.isDir(dir)) return [];
  const prefix = dir === '' ? '' : dir + '/';
  const out: string[] = [];
  let skipBelow: string | null = null;
  for (const node of tree.descendants(dir)) {
    if (skipBelow !== null && node.path.startsWith(skipBelow)) continue;
    skipBelow = null;
    if (!goMatch(pattern, node.path.slice(prefix.length))) continue;
    out.push(node.path);
    if (node.type === 'dir') skipBelow = node.path + '/';
  }
  return out;
}
