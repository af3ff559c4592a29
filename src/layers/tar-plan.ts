/**
 * Planning a layer tar: the entries a caller gives, cleaned (no path may leave the layer), checked (owners, modes,
 * xattr names, hardlink targets), deduplicated by path, sorted into walk order (parents before children, siblings
 * by bytes, an opaque marker first in its directory), whiteouts named as `.wh.` entries, and hard links pointed at
 * the first member of their group — each as the header it will be written with. `tar-writer.ts` streams them.
 */
import { LayerEntryError } from './errors';
import { cleanComponents, OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './paths';
import { TYPEFLAG, type HeaderFields } from './tar-header';
import type { EntryMeta, LayerEntry, PlannedEntry, TarWriterOptions } from './tar-writer';

interface Normalised {
  entry: LayerEntry;
  /** The clean path of the entry (for whiteouts and opaque markers: of the directory or removed path). */
  name: string;
  /**
   * Sort key: the path the entry affects, `/`-separated, compared with `/` below every other character, which is
   * walk order (component by component, by bytes). Opaque markers get a trailing `/`, so they sort first in
   * their directory.
   */
  key: string;
}

/** A path that is already clean: no empty, `.` or `..` components, no leading or trailing `/`. */
const NEEDS_CLEANING = /(?:^|\/)\.{0,2}(?:\/|$)/;

function cleanName(p: string): string | undefined {
  if (!NEEDS_CLEANING.test(p)) return p;
  const parts = cleanComponents(p);
  return parts === undefined ? undefined : parts.join('/');
}

/** Walk order of two sort keys (see `Normalised.key`): code points, with `/` ending a component. */
function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    // Only when one side is a surrogate does code-unit order disagree with code-point (= UTF-8 byte) order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/**
 * Validate and order the entries and turn them into tar members. Exposed for tests and for callers that
 * want to inspect a layer plan without writing it.
 */
export function planLayer(entries: readonly LayerEntry[], options: TarWriterOptions = {}): PlannedEntry[] {
  return [...planMembers(entries, options)];
}

/** `planLayer` one member at a time: validation and ordering happen up front, headers as they are needed. */
export function planMembers(
  entries: readonly LayerEntry[],
  options: TarWriterOptions,
): Iterable<PlannedEntry> {
  const byKey = new Map<string, Normalised>();
  for (const entry of entries) {
    const name = cleanName(entry.path);
    if (name === undefined || name === '') {
      throw new LayerEntryError(`layer entry path ${JSON.stringify(entry.path)} is not inside the layer`);
    }
    if (baseName(name).startsWith(WHITEOUT_PREFIX)) {
      throw new LayerEntryError(
        `layer entry ${JSON.stringify(entry.path)}: names starting with .wh. are reserved`,
      );
    }
    if (name.includes('\0')) throw new LayerEntryError(`layer entry path contains NUL`);
    const key = entry.type === 'opaque' ? `${name}/` : name;
    if (byKey.has(key)) throw new LayerEntryError(`duplicate layer entry for ${JSON.stringify(name)}`);
    byKey.set(key, { entry, name, key });
  }
  const sorted = [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
  byKey.clear();

  // Hardlinks: every member of a link group shares one inode; in the tar the first member (in stream order)
  // must carry the content and the rest link to it, or an extractor would meet a link to a missing file.
  const primaryOf = new Map<Normalised, Normalised>(); // group root (the linked-to entry) -> first member
  const rootCache = new Map<Normalised, Normalised | undefined>();
  if (entries.some((e) => e.type === 'hardlink')) {
    const byPath = new Map<string, Normalised>();
    for (const n of sorted)
      if (n.entry.type !== 'whiteout' && n.entry.type !== 'opaque') byPath.set(n.name, n);
    const rootOf = (n: Normalised): Normalised | undefined => {
      const seen = new Set<Normalised>();
      let cur = n;
      while (cur.entry.type === 'hardlink') {
        if (seen.has(cur)) throw new LayerEntryError(`hardlink cycle at ${cur.name}`);
        seen.add(cur);
        const targetParts = cleanComponents(cur.entry.target);
        if (targetParts === undefined || targetParts.length === 0) {
          throw new LayerEntryError(`hardlink ${cur.name} points outside the layer`);
        }
        const next = byPath.get(targetParts.join('/'));
        if (next === undefined) return undefined; // target lives in a lower layer
        cur = next;
      }
      if (cur.entry.type === 'dir') throw new LayerEntryError(`hardlink to directory ${cur.name}`);
      return cur;
    };
    for (const n of sorted) {
      if (n.entry.type !== 'hardlink') continue;
      const root = rootOf(n);
      rootCache.set(n, root);
      if (root === undefined) continue;
      const first = primaryOf.get(root);
      if (first === undefined || compareKeys(n.key, first.key) < 0) primaryOf.set(root, n);
    }
    for (const [root, first] of primaryOf)
      if (compareKeys(root.key, first.key) < 0) primaryOf.set(root, root);
  }

  const epoch = options.sourceDateEpoch;
  const member = (n: Normalised): PlannedEntry => {
    const { entry, name } = n;
    if (entry.type === 'whiteout' || entry.type === 'opaque') {
      const slash = name.lastIndexOf('/');
      const marker =
        entry.type === 'opaque'
          ? `${name}/${OPAQUE_WHITEOUT}`
          : `${name.slice(0, slash + 1)}${WHITEOUT_PREFIX}${name.slice(slash + 1)}`;
      return { header: baseHeader(marker, TYPEFLAG.file, entry, entry.mode ?? 0, epoch) };
    }
    // A hard link's group is its root's; any other entry heads a group only when something in this layer links to it.
    const root = entry.type === 'hardlink' ? rootCache.get(n) : n;
    const primary = root === undefined ? undefined : primaryOf.get(root);
    if (root === undefined || primary === undefined) return plainMember(name, entry, epoch);
    // The primary carries the group's content and metadata under its own name.
    if (primary === n) return plainMember(name, root.entry, epoch);
    const linkHeader = plainMember(name, root.entry, epoch).header;
    return {
      header: {
        ...linkHeader,
        typeflag: TYPEFLAG.hardlink,
        linkname: primary.name,
        devmajor: 0,
        devminor: 0,
      },
    };
  };
  // Every header is checked before the first byte is written, so a bad entry fails the layer up front.
  for (const n of sorted) checkMeta(n.name, n.entry);
  return {
    *[Symbol.iterator]() {
      for (const n of sorted) yield member(n);
    },
  };
}

function plainMember(name: string, entry: LayerEntry, epoch: number | undefined): PlannedEntry {
  switch (entry.type) {
    case 'file':
      return { header: baseHeader(name, TYPEFLAG.file, entry, entry.mode, epoch), content: entry.content };
    case 'dir':
      return { header: baseHeader(`${name}/`, TYPEFLAG.dir, entry, entry.mode ?? 0o755, epoch) };
    case 'symlink': {
      const header = baseHeader(name, TYPEFLAG.symlink, entry, entry.mode ?? 0o777, epoch);
      header.linkname = entry.target;
      return { header };
    }
    case 'hardlink': {
      const target = cleanComponents(entry.target);
      if (target === undefined || target.length === 0)
        throw new LayerEntryError(`hardlink ${name} points outside the layer`);
      const header = baseHeader(name, TYPEFLAG.hardlink, entry, entry.mode, epoch);
      header.linkname = target.join('/');
      return { header };
    }
    case 'char':
    case 'block': {
      const header = baseHeader(
        name,
        entry.type === 'char' ? TYPEFLAG.char : TYPEFLAG.block,
        entry,
        entry.mode,
        epoch,
      );
      header.devmajor = entry.major;
      header.devminor = entry.minor;
      return { header };
    }
    case 'fifo':
      return { header: baseHeader(name, TYPEFLAG.fifo, entry, entry.mode, epoch) };
    default:
      throw new LayerEntryError(`unexpected layer entry type for ${name}`);
  }
}

/** The checks `baseHeader` and `plainMember` would make, without building anything. */
function checkMeta(name: string, entry: LayerEntry): void {
  for (const [field, value] of [
    ['uid', entry.uid],
    ['gid', entry.gid],
    ['mode', entry.mode],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new LayerEntryError(`layer entry ${name}: ${field} ${value} is not a non-negative integer`);
    }
  }
  if (entry.xattrs !== undefined) {
    for (const k of Object.keys(entry.xattrs)) {
      if (k === '' || k.includes('=') || k.includes('\0'))
        throw new LayerEntryError(`invalid xattr name ${JSON.stringify(k)} on ${name}`);
    }
  }
  if (entry.type === 'char' || entry.type === 'block') {
    for (const n of [entry.major, entry.minor]) {
      if (!Number.isSafeInteger(n) || n < 0 || n > 0o7777777) {
        throw new LayerEntryError(`layer entry ${name}: device number ${n} is out of range`);
      }
    }
  }
  if (entry.type === 'hardlink') {
    const target = cleanComponents(entry.target);
    if (target === undefined || target.length === 0)
      throw new LayerEntryError(`hardlink ${name} points outside the layer`);
  }
}

function baseHeader(
  name: string,
  typeflag: string,
  meta: EntryMeta,
  mode: number | undefined,
  epoch: number | undefined,
): HeaderFields {
  let mtime =
    meta.mtime instanceof Date ? Math.floor(meta.mtime.getTime() / 1000) : Math.floor(meta.mtime ?? 0);
  if (epoch !== undefined && mtime > epoch) mtime = Math.floor(epoch);
  if (mtime < 0) mtime = 0;
  for (const [field, value] of [
    ['uid', meta.uid],
    ['gid', meta.gid],
    ['mode', mode],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new LayerEntryError(`layer entry ${name}: ${field} ${value} is not a non-negative integer`);
    }
  }
  let extraPax: Map<string, Buffer> | undefined;
  if (meta.xattrs !== undefined) {
    for (const [k, v] of Object.entries(meta.xattrs)) {
      if (k === '' || k.includes('=') || k.includes('\0'))
        throw new LayerEntryError(`invalid xattr name ${JSON.stringify(k)} on ${name}`);
      (extraPax ??= new Map()).set(`SCHILY.xattr.${k}`, typeof v === 'string' ? Buffer.from(v) : v);
    }
  }
  return {
    name,
    typeflag,
    mode: (mode ?? 0o644) & 0o7777,
    uid: meta.uid ?? 0,
    gid: meta.gid ?? 0,
    size: 0,
    mtime,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    extraPax,
  };
}
