/**
 * Deterministic layer tars. Given a list of entries (not a directory walk: the caller decides what is in
 * the layer), produce the tar stream BuildKit/containerd would: entries in walk order (parents before
 * children, siblings by bytes), numeric owners with empty user/group names, permission bits only, one
 * fixed mtime per entry (clamped to SOURCE_DATE_EPOCH), no atime/ctime, xattrs as `SCHILY.xattr.` records.
 * The same entries give the same bytes on any machine. File contents stream; nothing is held whole.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import { Readable } from 'node:stream';
import { BuildError } from '../errors';
import { LayerEntryError } from './errors';
import { cleanComponents, compareComponents, OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './paths';
import { encodeHeader, endOfArchive, padding, TYPEFLAG, type HeaderFields } from './tar-header';

/** Where a regular file's bytes come from. */
export type ContentSource =
  | Buffer
  /** A path on disk, read at write time; it must be a regular file (symlinks are not followed). */
  | string
  | { size: number; open: () => AsyncIterable<Uint8Array> };

export interface EntryMeta {
  /** Permission bits incl. setuid/setgid/sticky; type bits are stripped. Defaults: dir 0755, file 0644. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (fractions dropped) or a Date. Default 0. */
  mtime?: number | Date;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records. */
  xattrs?: Readonly<Record<string, string | Buffer>>;
}

export type LayerEntry = EntryMeta &
  (
    | { type: 'file'; path: string; content: ContentSource }
    | { type: 'dir'; path: string }
    | { type: 'symlink'; path: string; target: string }
    /** `target` is a path in the layer (or a lower layer), not relative to `path`. */
    | { type: 'hardlink'; path: string; target: string }
    | { type: 'char' | 'block'; path: string; major: number; minor: number }
    | { type: 'fifo'; path: string }
    /** Deletes `path` from lower layers: written as `<dir>/.wh.<name>`. */
    | { type: 'whiteout'; path: string }
    /** Hides everything lower layers have under directory `path`: written as `<path>/.wh..wh..opq`. */
    | { type: 'opaque'; path: string }
  );

export interface TarWriterOptions {
  /** SOURCE_DATE_EPOCH in seconds: every mtime later than this is clamped to it. */
  sourceDateEpoch?: number;
}

/** One tar member, ready to write: header fields plus where its data comes from. */
export interface PlannedEntry {
  header: HeaderFields;
  content?: ContentSource;
}

/** The tar stream for `entries`. Errors (unreadable source, file changed while read) surface as stream errors. */
export function createLayerTar(entries: readonly LayerEntry[], options: TarWriterOptions = {}): Readable {
  return Readable.from(layerTarChunks(entries, options), { objectMode: false, highWaterMark: 1 << 20 });
}

export async function* layerTarChunks(
  entries: readonly LayerEntry[],
  options: TarWriterOptions = {},
): AsyncGenerator<Buffer> {
  const planned = planLayer(entries, options);
  // Coalesce headers and small files into larger chunks; a tar of many tiny files is mostly headers.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const FLUSH_AT = 256 * 1024;
  for (const { header, content } of planned) {
    let size = 0;
    let data: OpenedContent['data'] | undefined;
    let close: (() => Promise<void>) | undefined;
    if (content !== undefined) {
      const opened = await openContent(content);
      ({ size, data, close } = opened);
    }
    try {
      pending.push(encodeHeader({ ...header, size }));
      pendingBytes += 512;
      if (data?.kind === 'buffer') {
        pending.push(data.buffer, Buffer.alloc(padding(size)));
        pendingBytes += size;
      } else if (data?.kind === 'stream') {
        yield Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        let written = 0;
        for await (const chunk of data.chunks) {
          written += chunk.length;
          if (written > size) throw fileChanged(header.name, 'grew');
          yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
        if (written !== size) throw fileChanged(header.name, 'shrank');
        pending.push(Buffer.alloc(padding(size)));
      }
    } finally {
      await close?.();
    }
    if (pendingBytes >= FLUSH_AT) {
      yield Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
    }
  }
  pending.push(endOfArchive());
  yield Buffer.concat(pending);
}

function fileChanged(name: string, how: string): BuildError {
  return new BuildError(
    `${name} ${how} while it was being written to a layer; nothing may modify its source`,
  );
}

interface OpenedContent {
  size: number;
  data: { kind: 'buffer'; buffer: Buffer } | { kind: 'stream'; chunks: AsyncIterable<Uint8Array> };
  close?: () => Promise<void>;
}

async function openContent(content: ContentSource): Promise<OpenedContent> {
  if (Buffer.isBuffer(content)) return { size: content.length, data: { kind: 'buffer', buffer: content } };
  if (typeof content !== 'string')
    return { size: content.size, data: { kind: 'stream', chunks: content.open() } };
  // O_NOFOLLOW: the file is declared a regular file; a symlink here (say, planted in a build's rootfs to
  // point at a host file) must not be read through.
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(content, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (err) {
    throw new BuildError(`cannot read ${content} for a layer: ${(err as Error).message}`);
  }
  const st = await handle.stat();
  if (!st.isFile()) {
    await handle.close();
    throw new LayerEntryError(`${content} is not a regular file`);
  }
  return {
    size: st.size,
    data: { kind: 'stream', chunks: readExactly(handle, st.size, content) },
    close: () => handle.close(),
  };
}

/** Read the first `size` bytes of an open file, then check it has no more: a snapshot or an error. */
async function* readExactly(handle: fsp.FileHandle, size: number, name: string): AsyncGenerator<Buffer> {
  const CHUNK = 1 << 20;
  let position = 0;
  while (position < size) {
    const want = Math.min(CHUNK, size - position);
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buf, 0, want, position);
    if (bytesRead === 0) throw fileChanged(name, 'shrank');
    position += bytesRead;
    yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
  }
  const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, position);
  if (bytesRead !== 0) throw fileChanged(name, 'grew');
}

interface Normalised {
  entry: LayerEntry;
  /** Clean path components of the entry (for whiteouts: of the removed path). */
  parts: string[];
  /** Sort key: walk order of the path the entry affects. Opaque markers sort first in their directory. */
  key: string[];
}

/**
 * Validate and order the entries and turn them into tar members. Exposed for tests and for callers that
 * want to inspect a layer plan without writing it.
 */
export function planLayer(entries: readonly LayerEntry[], options: TarWriterOptions = {}): PlannedEntry[] {
  const byKey = new Map<string, Normalised>();
  for (const entry of entries) {
    const parts = cleanComponents(entry.path);
    if (parts === undefined || parts.length === 0) {
      throw new LayerEntryError(`layer entry path ${JSON.stringify(entry.path)} is not inside the layer`);
    }
    const base = parts[parts.length - 1] as string;
    if (base.startsWith(WHITEOUT_PREFIX)) {
      throw new LayerEntryError(
        `layer entry ${JSON.stringify(entry.path)}: names starting with .wh. are reserved`,
      );
    }
    if (parts.some((p) => p.includes('\0'))) throw new LayerEntryError(`layer entry path contains NUL`);
    const key = entry.type === 'opaque' ? [...parts, ''] : parts;
    const id = key.join('/');
    if (byKey.has(id))
      throw new LayerEntryError(`duplicate layer entry for ${JSON.stringify(parts.join('/'))}`);
    byKey.set(id, { entry, parts, key });
  }
  const sorted = [...byKey.values()].sort((a, b) => compareComponents(a.key, b.key));

  // Hardlinks: every member of a link group shares one inode; in the tar the first member (in stream order)
  // must carry the content and the rest link to it, or an extractor would meet a link to a missing file.
  const byPath = new Map<string, Normalised>();
  for (const n of sorted)
    if (n.entry.type !== 'whiteout' && n.entry.type !== 'opaque') byPath.set(n.parts.join('/'), n);
  const primaryOf = new Map<Normalised, Normalised>(); // group root (the linked-to entry) -> first member
  const rootOf = (n: Normalised): Normalised | undefined => {
    const seen = new Set<Normalised>();
    let cur = n;
    while (cur.entry.type === 'hardlink') {
      if (seen.has(cur)) throw new LayerEntryError(`hardlink cycle at ${cur.parts.join('/')}`);
      seen.add(cur);
      const targetParts = cleanComponents(cur.entry.target);
      if (targetParts === undefined || targetParts.length === 0) {
        throw new LayerEntryError(`hardlink ${cur.parts.join('/')} points outside the layer`);
      }
      const next = byPath.get(targetParts.join('/'));
      if (next === undefined) return undefined; // target lives in a lower layer
      cur = next;
    }
    if (cur.entry.type === 'dir') throw new LayerEntryError(`hardlink to directory ${cur.parts.join('/')}`);
    return cur;
  };
  const rootCache = new Map<Normalised, Normalised | undefined>();
  for (const n of sorted) {
    if (n.entry.type !== 'hardlink') continue;
    const root = rootOf(n);
    rootCache.set(n, root);
    if (root === undefined) continue;
    const first = primaryOf.get(root);
    if (first === undefined || compareComponents(n.key, first.key) < 0) primaryOf.set(root, n);
  }
  for (const [root, first] of primaryOf)
    if (compareComponents(root.key, first.key) < 0) primaryOf.set(root, root);

  const epoch = options.sourceDateEpoch;
  const planned: PlannedEntry[] = [];
  for (const n of sorted) {
    const { entry } = n;
    const name = n.parts.join('/');
    if (entry.type === 'whiteout' || entry.type === 'opaque') {
      const dir = entry.type === 'opaque' ? n.parts : n.parts.slice(0, -1);
      const base =
        entry.type === 'opaque' ? OPAQUE_WHITEOUT : `${WHITEOUT_PREFIX}${n.parts[n.parts.length - 1]}`;
      planned.push({
        header: baseHeader(
          [...dir, base].join('/'),
          TYPEFLAG.file,
          { ...entry, mode: entry.mode ?? 0 },
          epoch,
        ),
      });
      continue;
    }
    let root: Normalised | undefined = n;
    if (entry.type === 'hardlink') root = rootCache.get(n);
    else if (!primaryOf.has(n)) root = undefined; // not the target of any link in this layer
    if (root === undefined) {
      planned.push(plainMember(name, entry, epoch));
      continue;
    }
    const primary = primaryOf.get(root) as Normalised;
    if (primary === n) {
      // Carries the group's content and metadata under its own name.
      planned.push(plainMember(name, root.entry, epoch));
    } else {
      const linkHeader = plainMember(name, root.entry, epoch).header;
      planned.push({
        header: {
          ...linkHeader,
          typeflag: TYPEFLAG.hardlink,
          linkname: primary.parts.join('/'),
          devmajor: 0,
          devminor: 0,
        },
      });
    }
  }
  return planned;
}

function plainMember(name: string, entry: LayerEntry, epoch: number | undefined): PlannedEntry {
  switch (entry.type) {
    case 'file':
      return { header: baseHeader(name, TYPEFLAG.file, entry, epoch), content: entry.content };
    case 'dir':
      return { header: baseHeader(`${name}/`, TYPEFLAG.dir, { ...entry, mode: entry.mode ?? 0o755 }, epoch) };
    case 'symlink':
      return {
        header: {
          ...baseHeader(name, TYPEFLAG.symlink, { ...entry, mode: entry.mode ?? 0o777 }, epoch),
          linkname: entry.target,
        },
      };
    case 'hardlink': {
      const target = cleanComponents(entry.target);
      if (target === undefined || target.length === 0)
        throw new LayerEntryError(`hardlink ${name} points outside the layer`);
      return { header: { ...baseHeader(name, TYPEFLAG.hardlink, entry, epoch), linkname: target.join('/') } };
    }
    case 'char':
    case 'block': {
      for (const n of [entry.major, entry.minor]) {
        if (!Number.isSafeInteger(n) || n < 0 || n > 0o7777777) {
          throw new LayerEntryError(`layer entry ${name}: device number ${n} is out of range`);
        }
      }
      const h = baseHeader(name, entry.type === 'char' ? TYPEFLAG.char : TYPEFLAG.block, entry, epoch);
      return { header: { ...h, devmajor: entry.major, devminor: entry.minor } };
    }
    case 'fifo':
      return { header: baseHeader(name, TYPEFLAG.fifo, entry, epoch) };
    default:
      throw new LayerEntryError(`unexpected layer entry type for ${name}`);
  }
}

function baseHeader(
  name: string,
  typeflag: string,
  meta: EntryMeta,
  epoch: number | undefined,
): HeaderFields {
  let mtime =
    meta.mtime instanceof Date ? Math.floor(meta.mtime.getTime() / 1000) : Math.floor(meta.mtime ?? 0);
  if (epoch !== undefined && mtime > epoch) mtime = Math.floor(epoch);
  if (mtime < 0) mtime = 0;
  for (const [field, value] of [
    ['uid', meta.uid],
    ['gid', meta.gid],
    ['mode', meta.mode],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new LayerEntryError(`layer entry ${name}: ${field} ${value} is not a non-negative integer`);
    }
  }
  const extraPax = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(meta.xattrs ?? {})) {
    if (k === '' || k.includes('=') || k.includes('\0'))
      throw new LayerEntryError(`invalid xattr name ${JSON.stringify(k)} on ${name}`);
    extraPax.set(`SCHILY.xattr.${k}`, typeof v === 'string' ? Buffer.from(v) : v);
  }
  return {
    name,
    typeflag,
    mode: (meta.mode ?? 0o644) & 0o7777,
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
