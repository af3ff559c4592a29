/**
 * COPY/ADD as BuildKit's file operation performs it (CopyDirContentsOnly, FollowSymlinks, AllowWildcard,
 * CreateDestPath): which files end up where, with which mode and owner. The result is the list of entries of the
 * new layer (copied files plus the parent directories a layer diff would carry) and the list of inputs that the
 * cache key hashes. Nothing is written here.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../../../errors';
import {
  containsWildcards,
  entryMtime,
  expandCopySource,
  PatternMatcher,
  ContextTree,
} from '../../../context';
import { applyChmod } from '../../../planner/chmod';
import type { Chmod, CopyStep } from '../../../planner/types';
import type { FileInput } from '../../../cache/step-key';
import type { FsType } from '../../../layers/listing';
import type { StageFs } from '../../stage-fs';
import { archiveKind, unpackArchive } from './archive';
import { fetchRemoteSource } from './remote';
import type { CopySourceFs } from './source-fs';

export interface CopyEntry {
  /** Path in the image, relative, `/`-separated. */
  path: string;
  type: FsType;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  size: number;
  linkTarget?: string;
  /** Device number, for character and block devices. */
  rdev?: number;
  /** For files: where to read the content on disk. */
  sourcePath?: string;
  /** For files made from a heredoc. */
  content?: Buffer;
}

export interface CopyPlan {
  entries: CopyEntry[];
  /** The source files the step read, for the cache key (context sources only). */
  inputs: FileInput[];
  /** Temp files and directories (downloads, unpacked archives) to remove once the layer is written. */
  temporary: string[];
}

export interface CopyPlanOptions {
  /** `--chown` resolved to numeric ids, if given. */
  owner?: { uid: number; gid: number };
  /** Time stamp for directories the copy creates or modifies (seconds). */
  dirTime: number;
  /** SOURCE_DATE_EPOCH: file times are clamped to it. */
  epoch?: number;
  /** Where downloads and unpacked archives go. */
  tmpDir: string;
  /** The Dockerfile location for errors. */
  location: { file: string; line: number; endLine: number; text: string };
}

const DIR_MODE = 0o755;

export async function planCopy(
  step: CopyStep,
  source: CopySourceFs | undefined,
  dest: StageFs,
  opts: CopyPlanOptions,
): Promise<CopyPlan> {
  const fail = (message: string): BuildError =>
    new BuildError(`${step.kind.toUpperCase()} failed: ${message}`, opts.location);
  const out = new Map<string, CopyEntry>();
  const inputs: FileInput[] = [];
  const destTree = new ContextTree(dest.nodes());
  const destRel = resolveInImage(destTree, step.destPath);
  const destHasSlash = step.destPath.endsWith('/') || step.destPath.endsWith('/.') || step.destPath === '/';
  const destIsExistingDir = destRel === '' || dest.get(destRel)?.type === 'dir';
  const pathSources = step.sources.filter((s) => s.kind === 'path');
  const urlSources = step.sources.filter((s) => s.kind === 'url');
  if (step.sources.some((s) => s.kind === 'git')) throw fail('git sources are not supported');
  const temporary: string[] = [];
  const many = step.sources.length + step.heredocs.length > 1;
  if (many && !destHasSlash && !destIsExistingDir) {
    throw fail(
      `when using ${step.kind.toUpperCase()} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
  const excludes = step.excludes.length > 0 ? PatternMatcher.create(step.excludes) : null;
  /** Copied files by inode (`linkId`), with the input row each one recorded: hard links are kept below. */
  const linked = new Map<string, LinkedCopy[]>();
  const clamp = (t: number): number => (opts.epoch !== undefined && t > opts.epoch ? opts.epoch : t);

  const put = async (target: string, srcRel: string, src: CopySourceFs, record = true): Promise<void> => {
    const e = src.entry(srcRel);
    if (!e) return;
    // One flat string (path.join builds it from a piece per component); tree paths are clean already.
    const abs = [src.root.endsWith('/') ? src.root.slice(0, -1) : src.root, srcRel].join('/');
    // The walk's stat gave the time; only an entry made some other way needs a look at the file.
    const mtime = entryMtime(e) ?? Math.floor((await fsp.lstat(abs)).mtimeMs / 1000);
    const owner = opts.owner ?? (src.isContext ? { uid: 0, gid: 0 } : { uid: e.uid, gid: e.gid });
    const type: FsType = e.type;
    const mode = step.chmod ? applyChmod(step.chmod, e.mode, type === 'dir') : e.mode;
    out.set(target, {
      path: target,
      type,
      mode,
      uid: owner.uid,
      gid: owner.gid,
      mtime: clamp(mtime),
      size: type === 'file' ? e.size : 0,
      linkTarget: e.linkTarget,
      ...(e.rdev !== undefined ? { rdev: e.rdev } : {}),
      sourcePath: type === 'file' ? abs : undefined,
    });
    let row: FileInput | undefined;
    if (src.isContext && record) {
      // Owners are the image's (root or --chown), never the host's: a context must hit the same on any machine.
      row = [srcRel, e.type, e.mode, owner.uid, owner.gid, e.size, e.linkTarget ?? '', e.sha256 ?? ''];
      inputs.push(row);
    }
    if (e.linkId !== undefined) {
      const group = linked.get(e.linkId) ?? [];
      group.push({ target, srcRel, sourcePath: abs, row });
      linked.set(e.linkId, group);
    }
  };

  for (const s of pathSources) {
    if (!source) throw fail('no source to copy from');
    const raw = s.path;
    const rel = raw.replace(/^\/+/, '');
    let matches: string[];
    try {
      matches = expandCopySource(rel === '' ? '.' : rel, source.tree);
    } catch {
      matches = [];
    }
    if (matches.length === 0) {
      throw fail(
        containsWildcards(rel)
          ? `no source files were specified: "${raw}" matched nothing in the ${source.label}`
          : `"${raw}": not found in the ${source.label}${source.isContext ? ' (or excluded by .dockerignore)' : ''}`,
      );
    }
    if (matches.length > 1 && !destHasSlash && !destIsExistingDir) {
      throw fail(
        `"${raw}" matched ${matches.length} files, so the destination must be a directory and end with a /`,
      );
    }
    for (const m of matches) {
      const match = m === '.' ? '' : m;
      const resolved = source.tree.resolve(match, true);
      const node = resolved === '' ? undefined : source.tree.get(resolved);
      if (resolved !== '' && !node) throw fail(`"${raw}": not found in the ${source.label}`);
      const isDir = resolved === '' || node?.type === 'dir';
      const baseTarget = step.parents ? joinRel(destRel, parentsPath(raw, match)) : destRel;
      if (isDir) {
        // A directory source copies its contents into the destination directory.
        for (const d of source.tree.descendants(resolved)) {
          const inner = resolved === '' ? d.path : d.path.slice(resolved.length + 1);
          if (excludes?.matches(inner)) continue;
          await put(joinRel(baseTarget, inner), d.path, source);
        }
        if (baseTarget !== '' && !out.has(baseTarget) && dest.get(baseTarget)?.type !== 'dir') {
          await putDir(baseTarget, resolved, source);
        }
      } else if (
        step.kind === 'add' &&
        source.isContext &&
        node?.type === 'file' &&
        (await isArchive(resolved))
      ) {
        // ADD unpacks a local tar archive at the destination, which is then always a directory.
        const kind = (await archiveKind(path.join(source.root, resolved))) as NonNullable<
          Awaited<ReturnType<typeof archiveKind>>
        >;
        const unpacked = await unpackArchive(path.join(source.root, resolved), kind, opts.tmpDir);
        temporary.push(unpacked.root);
        recordInput(resolved, source);
        for (const d of unpacked.tree.descendants('')) {
          await put(joinRel(destRel, d.path), d.path, unpacked, false);
        }
      } else {
        if (excludes?.matches(path.posix.basename(match))) continue;
        const target = step.parents
          ? baseTarget
          : destHasSlash || destIsExistingDir || many
            ? joinRel(destRel, path.posix.basename(match))
            : destRel;
        await put(target, resolved, source);
      }
    }
  }

  for (const u of urlSources) {
    if (u.kind !== 'url') continue;
    const remote = await fetchRemoteSource(u.url, { tmpDir: opts.tmpDir, checksum: step.checksum });
    temporary.push(remote.path);
    const target = destHasSlash || destIsExistingDir || many ? joinRel(destRel, remote.fileName) : destRel;
    const owner = opts.owner ?? { uid: 0, gid: 0 };
    // Docker gives files from URLs mode 0600 and, when the server says, the Last-Modified time.
    const mode = step.chmod ? applyChmod(step.chmod, 0o600, false) : 0o600;
    out.set(target, {
      path: target,
      type: 'file',
      mode,
      uid: owner.uid,
      gid: owner.gid,
      mtime: clamp(remote.mtime ?? opts.dirTime),
      size: remote.size,
      sourcePath: remote.path,
    });
    inputs.push([u.url, 'file', mode, owner.uid, owner.gid, remote.size, '', remote.sha256]);
  }

  for (const doc of step.heredocs) {
    const target = destHasSlash || destIsExistingDir || many ? joinRel(destRel, doc.name) : destRel;
    const content = Buffer.from(doc.content, 'utf8');
    const owner = opts.owner ?? { uid: 0, gid: 0 };
    out.set(target, {
      path: target,
      type: 'file',
      mode: step.chmod ? applyChmod(step.chmod, 0o644, false) : 0o644,
      uid: owner.uid,
      gid: owner.gid,
      mtime: opts.epoch ?? opts.dirTime,
      size: content.length,
      content,
    });
    inputs.push([`<<${doc.name}`, 'file', 0o644, 0, 0, content.length, '', sha256Hex(content)]);
  }

  keepHardLinks(out, linked);
  addParentDirs(out, dest, opts);
  return {
    entries: [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    inputs,
    temporary,
  };

  async function isArchive(rel: string): Promise<boolean> {
    return (await archiveKind(path.join((source as CopySourceFs).root, rel))) !== undefined;
  }

  function recordInput(rel: string, src: CopySourceFs): void {
    const e = src.entry(rel);
    if (!e) return;
    inputs.push([rel, e.type, e.mode, 0, 0, e.size, e.linkTarget ?? '', e.sha256 ?? '']);
  }

  async function putDir(target: string, srcRel: string, src: CopySourceFs): Promise<void> {
    const e = srcRel === '' ? undefined : src.entry(srcRel);
    const owner = opts.owner ?? { uid: 0, gid: 0 };
    out.set(target, {
      path: target,
      type: 'dir',
      mode: step.chmod ? applyChmod(step.chmod as Chmod, e?.mode ?? DIR_MODE, true) : DIR_MODE,
      uid: owner.uid,
      gid: owner.gid,
      mtime: opts.epoch ?? opts.dirTime,
      size: 0,
    });
  }
}

/** One copied file that shares its inode with other context paths. */
interface LinkedCopy {
  target: string;
  srcRel: string;
  sourcePath: string;
  /** Its key row (context sources only). */
  row: FileInput | undefined;
}

/**
 * Paths of one inode copied by the same COPY stay one file, as BuildKit's copy keeps them: the first in layer
 * order holds the content, the others become hard links to it (their key rows say so, so linking or unlinking two
 * context files is a change). A path a later source replaced is left alone.
 */
function keepHardLinks(out: Map<string, CopyEntry>, linked: Map<string, LinkedCopy[]>): void {
  for (const group of linked.values()) {
    const members = group.filter((m) => out.get(m.target)?.sourcePath === m.sourcePath);
    const targets = new Set(members.map((m) => m.target));
    if (targets.size < 2) continue;
    members.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
    const [first, ...rest] = members;
    for (const m of rest) {
      if (m.target === first.target) continue;
      const entry = out.get(m.target) as CopyEntry;
      out.set(m.target, {
        ...entry,
        type: 'hardlink',
        size: 0,
        linkTarget: first.target,
        sourcePath: undefined,
      });
      if (m.row) {
        m.row[1] = 'hardlink';
        m.row[6] = first.srcRel;
      }
    }
  }
}

/**
 * Every parent directory of a copied path is part of the layer, as a diff carries a directory whose contents
 * changed: existing ones with their metadata, missing ones created 0755 (owned by `--chown` when given).
 */
function addParentDirs(out: Map<string, CopyEntry>, dest: StageFs, opts: CopyPlanOptions): void {
  const time = opts.epoch ?? opts.dirTime;
  for (const p of [...out.keys()]) {
    let dir = path.posix.dirname(p);
    while (dir !== '.' && dir !== '' && !out.has(dir)) {
      const existing = dest.get(dir);
      const owner = opts.owner ?? { uid: 0, gid: 0 };
      out.set(dir, {
        path: dir,
        type: 'dir',
        mode: existing?.type === 'dir' ? existing.mode : DIR_MODE,
        uid: existing?.type === 'dir' ? existing.uid : owner.uid,
        gid: existing?.type === 'dir' ? existing.gid : owner.gid,
        mtime: time,
        size: 0,
      });
      dir = path.posix.dirname(dir);
    }
  }
}

/** The destination inside the image, relative, with existing symlinked directories resolved as a copy would. */
function resolveInImage(tree: ContextTree, absDest: string): string {
  const cleaned = path.posix.normalize(absDest).replace(/^\/+/, '').replace(/\/+$/, '');
  if (cleaned === '' || cleaned === '.') return '';
  return tree.resolve(cleaned, true);
}

/** `COPY --parents`: the part after a `/./` pivot is kept, else the whole relative path. */
function parentsPath(raw: string, match: string): string {
  const pivot = raw.indexOf('/./');
  if (pivot < 0) return match;
  const before = raw.slice(0, pivot).replace(/^\/+|^\.\//g, '');
  return before === '' ? match : match.slice(before.length + 1);
}

function joinRel(dir: string, name: string): string {
  if (dir === '') return name;
  if (name === '') return dir;
  return [dir, name].join('/'); // one flat string (a template literal keeps a chain of pieces per path)
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
