/**
 * What a RUN changed, as the entries of a new layer (for `tar-writer.ts`). Two ways in, one result:
 *
 * - `diffUpperDir`: an overlayfs upper dir *is* the change. A 0/0 character device is a deleted path
 *   (→ `whiteout`), a directory with `trusted.overlay.opaque=y` hides everything below it (→ the directory, an
 *   `opaque` marker and its contents); everything else is taken as it is.
 * - `diffAgainstBaseline`: where overlayfs could not be mounted, the command ran in a copied tree; comparing it
 *   with the stat record taken before the run (and content hashes where stat cannot tell) gives the same entries
 *   overlayfs would have: changed paths, whiteouts for deleted ones, a re-created or type-changed directory as
 *   opaque.
 *
 * Both keep mode (with setuid/setgid/sticky), owner, mtime and xattrs (not overlay's own `trusted.overlay.*`,
 * not host SELinux labels); files linked to each other inside the layer become one file plus `hardlink` entries;
 * sockets are left out (a tar cannot hold them). Directories that changed nothing themselves and hold no change
 * are left out, so a directory merely copied up (to hold a mount point, say) does not make noise. The result is
 * sorted, so the same change gives the same list.
 *
 * File entries name their file on disk: the tar writer reads them later, so the tree must stay until the layer
 * has been written.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  lstatSync,
  promises as fsp,
  readdirSync,
  readlinkSync,
  type BigIntStats,
} from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../store/atomic';
import { BuildError } from '../errors';
import { compareComponents } from './paths';
import type { EntryMeta, LayerEntry } from './tar-writer';
import {
  isLayerXattr,
  OPAQUE_XATTR,
  OVERLAY_XATTR_PREFIX,
  readTreeXattrs,
  readXattrs,
  type XattrMap,
} from './xattrs';

export interface UpperDiffOptions {
  /**
   * The lower dirs under the upper dir, base first (overlay snapshot format). When given, a directory that only
   * was copied up (same metadata as the one below, nothing changed inside) is left out.
   */
  lowers?: readonly string[];
}

/** One path of a tree as walked: lstat (bigint, for exact times and inodes) and its layer-worthy xattrs. */
interface Node {
  rel: string;
  parts: string[];
  full: string;
  st: BigIntStats;
  xattrs: XattrMap;
}

/** The layer entries for an overlayfs upper dir. */
export async function diffUpperDir(upper: string, options: UpperDiffOptions = {}): Promise<LayerEntry[]> {
  const nodes = await walkTree(upper);
  const allXattrs = await readTreeXattrs(upper);
  const entries: LayerEntry[] = [];
  const linkable: Array<{ node: Node; entry: LayerEntry }> = [];
  for (const node of nodes) {
    const raw = allXattrs.get(node.rel) ?? new Map<string, Buffer>();
    for (const name of raw.keys()) {
      if (name === `${OVERLAY_XATTR_PREFIX}metacopy` || name === `${OVERLAY_XATTR_PREFIX}redirect`) {
        throw new BuildError(
          `overlayfs wrote ${name} on ${node.rel}: the upper dir no longer holds the whole change (mount with metacopy=off,redirect_dir=off)`,
        );
      }
    }
    node.xattrs = layerXattrs(raw);
    if (isWhiteout(node.st)) {
      entries.push({ type: 'whiteout', path: node.rel });
      continue;
    }
    const entry = entryFor(node);
    if (entry === undefined) continue;
    entries.push(entry);
    if (node.st.isDirectory() && raw.get(OPAQUE_XATTR)?.toString() === 'y') {
      entries.push({ type: 'opaque', path: node.rel });
    } else if (!node.st.isDirectory()) {
      linkable.push({ node, entry });
    }
  }
  const linked = linkHardlinks(entries, linkable);
  const pruned =
    options.lowers === undefined
      ? linked
      : await pruneCopiedUpDirs(linked, nodes, [...options.lowers].reverse());
  return sortEntries(pruned);
}

/** What a tree looked like before a command ran in it, for `diffAgainstBaseline`. */
export interface TreeBaseline {
  paths: Map<string, BaselineEntry>;
}

export interface BaselineEntry {
  st: BigIntStats;
  xattrs: XattrMap;
  linkTarget?: string;
  /** A file with the same content as this one had, to compare against when stat cannot tell. */
  contentSource?: string;
}

/**
 * Record `dir` (after it was populated, before the command runs). `contentSource(rel)` names a file holding the
 * same bytes as `dir/rel` (its origin), read only if stat cannot decide whether the content changed.
 */
export async function recordBaseline(
  dir: string,
  contentSource: (rel: string) => string | undefined = () => undefined,
): Promise<TreeBaseline> {
  const nodes = await walkTree(dir);
  const allXattrs = await readTreeXattrs(dir);
  const paths = new Map<string, BaselineEntry>();
  for (const node of nodes) {
    const e: BaselineEntry = { st: node.st, xattrs: layerXattrs(allXattrs.get(node.rel) ?? new Map()) };
    if (node.st.isSymbolicLink()) e.linkTarget = await fsp.readlink(node.full);
    if (node.st.isFile()) e.contentSource = contentSource(node.rel) ?? node.full;
    paths.set(node.rel, e);
  }
  return { paths };
}

/** The layer entries for what changed in `dir` since `baseline` was recorded. */
export async function diffAgainstBaseline(dir: string, baseline: TreeBaseline): Promise<LayerEntry[]> {
  const nodes = await walkTree(dir);
  const allXattrs = await readTreeXattrs(dir);
  const after = new Map<string, Node>();
  for (const node of nodes) {
    node.xattrs = layerXattrs(allXattrs.get(node.rel) ?? new Map());
    after.set(node.rel, node);
  }

  const changed = new Set<string>();
  /** Directories shown opaque: re-created, or made where something else was. */
  const opaque = new Set<string>();
  /** Opaque directories and everything below them: all new, and nothing below is opaque itself. */
  const fresh = new Set<string>();
  for (const node of nodes) {
    const parentRel = node.parts.slice(0, -1).join('/');
    if (fresh.has(parentRel)) {
      changed.add(node.rel);
      if (node.st.isDirectory()) fresh.add(node.rel);
      continue;
    }
    const before = baseline.paths.get(node.rel);
    if (before === undefined) {
      changed.add(node.rel);
      continue;
    }
    if (
      node.st.isDirectory() &&
      (fileType(before.st) !== fileType(node.st) || recreated(before.st, node.st))
    ) {
      // overlayfs makes a directory created over a deleted path opaque: it hides what was there.
      changed.add(node.rel);
      opaque.add(node.rel);
      fresh.add(node.rel);
    } else if (fileType(before.st) !== fileType(node.st) || !sameMeta(before, node)) {
      changed.add(node.rel);
    } else if (node.st.isDirectory()) {
      continue;
    } else if (before.st.nlink !== node.st.nlink) {
      changed.add(node.rel); // a new link to it: overlayfs would have copied it up
    } else if (node.st.isSymbolicLink() && before.linkTarget !== (await fsp.readlink(node.full))) {
      changed.add(node.rel);
    } else if ((node.st.isCharacterDevice() || node.st.isBlockDevice()) && before.st.rdev !== node.st.rdev) {
      changed.add(node.rel);
    } else if (node.st.isFile() && !(await sameContent(before, node))) {
      changed.add(node.rel);
    }
  }

  const entries: LayerEntry[] = [];
  const linkable: Array<{ node: Node; entry: LayerEntry }> = [];
  const emitted = new Set<string>();
  const emit = (node: Node): void => {
    if (emitted.has(node.rel)) return;
    emitted.add(node.rel);
    const entry = entryFor(node);
    if (entry === undefined) return;
    entries.push(entry);
    if (opaque.has(node.rel)) entries.push({ type: 'opaque', path: node.rel });
    if (!node.st.isDirectory()) linkable.push({ node, entry });
  };
  const emitParents = (parts: string[]): void => {
    for (let i = 1; i < parts.length; i++) {
      const parent = after.get(parts.slice(0, i).join('/'));
      if (parent !== undefined) emit(parent);
    }
  };
  for (const rel of changed) {
    const node = after.get(rel) as Node;
    emitParents(node.parts);
    emit(node);
  }
  for (const rel of baseline.paths.keys()) {
    if (after.has(rel)) continue;
    const parts = rel.split('/');
    const parentRel = parts.slice(0, -1).join('/');
    const parent = parentRel === '' ? undefined : after.get(parentRel);
    // Only the topmost deleted path needs a whiteout, and none below a directory that is opaque or replaced.
    if (parentRel !== '' && (parent === undefined || !parent.st.isDirectory() || fresh.has(parentRel)))
      continue;
    emitParents(parts);
    entries.push({ type: 'whiteout', path: rel });
  }
  return sortEntries(linkHardlinks(entries, linkable));
}

/**
 * Every path under `root` (not root itself), parents before children. Never follows a symlink. Synchronous calls:
 * thousands of promise round trips cost more than the stats themselves, and nothing else needs the loop meanwhile.
 */
async function walkTree(root: string): Promise<Node[]> {
  const out: Node[] = [];
  const walk = (dirFull: string, parts: string[]): void => {
    let names: string[];
    try {
      names = readdirSync(dirFull);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    names.sort();
    for (const name of names) {
      const full = path.join(dirFull, name);
      const childParts = [...parts, name];
      const st = lstatSync(full, { bigint: true });
      out.push({ rel: childParts.join('/'), parts: childParts, full, st, xattrs: new Map() });
      if (st.isDirectory()) walk(full, childParts);
    }
  };
  walk(root, []);
  return out;
}

function layerXattrs(raw: XattrMap): XattrMap {
  const out: XattrMap = new Map();
  for (const [k, v] of raw) if (isLayerXattr(k)) out.set(k, v);
  return out;
}

function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

function metaOf(node: Node): EntryMeta {
  const meta: EntryMeta = {
    mode: Number(node.st.mode & 0o7777n),
    uid: Number(node.st.uid),
    gid: Number(node.st.gid),
    mtime: Number(node.st.mtimeNs / 1_000_000n) / 1000,
  };
  if (node.xattrs.size > 0) {
    const names = [...node.xattrs.keys()].sort();
    meta.xattrs = Object.fromEntries(names.map((n) => [n, node.xattrs.get(n) as Buffer]));
  }
  return meta;
}

/** The entry for a walked path, or undefined for what a layer cannot hold (sockets). */
function entryFor(node: Node): LayerEntry | undefined {
  const meta = metaOf(node);
  const st = node.st;
  if (st.isDirectory()) return { ...meta, type: 'dir', path: node.rel };
  if (st.isFile()) return { ...meta, type: 'file', path: node.rel, content: node.full };
  // The tree is not changing under a finished command, so reading the target now is as good as later.
  if (st.isSymbolicLink())
    return { ...meta, type: 'symlink', path: node.rel, target: readlinkSync(node.full) };
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    const { major, minor } = splitDev(st.rdev);
    return { ...meta, type: st.isCharacterDevice() ? 'char' : 'block', path: node.rel, major, minor };
  }
  if (st.isFIFO()) return { ...meta, type: 'fifo', path: node.rel };
  return undefined;
}

/** Linux's dev_t encoding (glibc's gnu_dev_major/minor). */
export function splitDev(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n));
  return { major, minor };
}

/**
 * Paths of the layer that share an inode: the first in walk order keeps its entry, the others become hardlinks
 * to it. Links to files outside the layer cannot be expressed and stay plain copies.
 */
function linkHardlinks(
  entries: LayerEntry[],
  linkable: Array<{ node: Node; entry: LayerEntry }>,
): LayerEntry[] {
  const groups = new Map<string, Array<{ node: Node; entry: LayerEntry }>>();
  for (const item of linkable) {
    if (item.node.st.nlink < 2n) continue;
    const key = `${item.node.st.dev}:${item.node.st.ino}`;
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  const replace = new Map<LayerEntry, LayerEntry>();
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    group.sort((a, b) => compareComponents(a.node.parts, b.node.parts));
    const first = group[0] as { node: Node; entry: LayerEntry };
    for (const { node, entry } of group.slice(1)) {
      replace.set(entry, { ...metaOf(node), type: 'hardlink', path: node.rel, target: first.node.rel });
    }
  }
  return replace.size === 0 ? entries : entries.map((e) => replace.get(e) ?? e);
}

function sortEntries(entries: LayerEntry[]): LayerEntry[] {
  const key = (e: LayerEntry): string[] => {
    const parts = e.path.split('/');
    return e.type === 'opaque' ? [...parts, ''] : parts;
  };
  return entries
    .map((e) => ({ e, k: key(e) }))
    .sort((a, b) => compareComponents(a.k, b.k))
    .map(({ e }) => e);
}

function fileType(st: BigIntStats): bigint {
  return st.mode & 0o170000n;
}

function sameXattrs(a: XattrMap, b: XattrMap): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !w.equals(v)) return false;
  }
  return true;
}

function sameMeta(before: BaselineEntry, node: Node): boolean {
  const a = before.st;
  const b = node.st;
  return (
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    // A layer keeps whole seconds: a difference below that is no difference in the image.
    a.mtimeNs / 1_000_000_000n === b.mtimeNs / 1_000_000_000n &&
    (a.isDirectory() || a.size === b.size) &&
    sameXattrs(before.xattrs, node.xattrs)
  );
}

/** A directory removed and made again: a new inode, or (inode numbers get reused) a new birth time. */
function recreated(before: BigIntStats, after: BigIntStats): boolean {
  return before.ino !== after.ino || before.birthtimeNs !== after.birthtimeNs;
}

/** Whether a file (same size, mode, owner, mtime) kept its content; stat first, bytes when stat cannot tell. */
async function sameContent(before: BaselineEntry, node: Node): Promise<boolean> {
  if (before.st.ino === node.st.ino && before.st.ctimeNs === node.st.ctimeNs) return true;
  const source = before.contentSource;
  if (source === undefined) return false;
  const [a, b] = await Promise.all([hashFile(source), hashFile(node.full)]);
  return a === b;
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file, { flags: 'r' })
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Drop directories of the upper dir that overlayfs only copied up: not opaque, nothing kept below them, and the
 * same mode, owner, mtime and xattrs as the directory the lower dirs show at that path.
 */
async function pruneCopiedUpDirs(
  entries: LayerEntry[],
  nodes: Node[],
  lowersTopFirst: string[],
): Promise<LayerEntry[]> {
  const byPath = new Map(nodes.map((n) => [n.rel, n]));
  const opaque = new Set(entries.filter((e) => e.type === 'opaque').map((e) => e.path));
  const hasKeptBelow = new Set<string>();
  const dirs = entries.filter((e) => e.type === 'dir' && !opaque.has(e.path));
  const nonDirs = entries.filter((e) => e.type !== 'dir');
  for (const e of nonDirs) markAncestors(e.path, hasKeptBelow);
  const lower = new LowerView(lowersTopFirst);
  const drop = new Set<string>();
  // Deepest first, so a parent learns whether any child directory was kept.
  const sorted = [...dirs].sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const e of sorted) {
    if (hasKeptBelow.has(e.path) || opaque.has(e.path)) {
      markAncestors(e.path, hasKeptBelow);
      continue;
    }
    const node = byPath.get(e.path) as Node;
    const below = await lower.lookup(e.path);
    if (below !== undefined && below.st.isDirectory() && sameMeta(below, node)) {
      drop.add(e.path);
    } else {
      markAncestors(e.path, hasKeptBelow);
    }
  }
  return entries.filter((e) => !(e.type === 'dir' && drop.has(e.path)));
}

function markAncestors(rel: string, set: Set<string>): void {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) set.add(parts.slice(0, i).join('/'));
}

/** Path lookups through a stack of overlay lower dirs (top first), honouring whiteouts and opaque dirs. */
class LowerView {
  private readonly opaqueCache = new Map<string, boolean>();

  constructor(private readonly lowersTopFirst: string[]) {}

  async lookup(rel: string): Promise<BaselineEntry | undefined> {
    const parts = rel.split('/');
    for (const lower of this.lowersTopFirst) {
      let cur = lower;
      let hides = false;
      for (let i = 0; i < parts.length; i++) {
        cur = path.join(cur, parts[i] as string);
        let st: BigIntStats;
        try {
          st = await fsp.lstat(cur, { bigint: true });
        } catch (err) {
          if (isErrno(err, 'ENOENT', 'ENOTDIR')) break;
          throw err;
        }
        if (i === parts.length - 1) {
          if (isWhiteout(st)) return undefined;
          const xattrs = layerXattrs((await readXattrs([cur])).get(cur) ?? new Map());
          return { st, xattrs };
        }
        if (!st.isDirectory()) {
          hides = true; // a file or whiteout on the way hides the path in every lower dir below
          break;
        }
        if (await this.isOpaque(cur)) hides = true;
      }
      if (hides) return undefined;
    }
    return undefined;
  }

  private async isOpaque(dir: string): Promise<boolean> {
    let v = this.opaqueCache.get(dir);
    if (v === undefined) {
      v = (await readXattrs([dir])).get(dir)?.get(OPAQUE_XATTR)?.toString() === 'y';
      this.opaqueCache.set(dir, v);
    }
    return v;
  }
}
