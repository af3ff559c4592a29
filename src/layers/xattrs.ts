/**
 * Extended attributes through the `attr` package's tools (Node has no xattr calls). Reading a whole tree is one
 * `getfattr -R` run whose dump is parsed here, so a diff of thousands of files costs one process, not thousands.
 * Symlinks are never followed: attributes are read from and written to the link itself.
 */
import { execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BuildError } from '../errors';
import { inUserNamespace } from './user-namespace';

const execFileAsync = promisify(execFile);

/** Attribute name → raw value. */
export type XattrMap = Map<string, Buffer>;

/**
 * The attributes overlayfs keeps for itself (opaque, origin, impure, redirect, metacopy, uuid …): `trusted.overlay.`
 * as root; in a user namespace (a rootless build, mounted with `userxattr`) `user.overlay.`, the only ones a user
 * namespace may write. The snapshots of one store are made and mounted under the same one.
 */
export const OVERLAY_XATTR_PREFIX = inUserNamespace() ? 'user.overlay.' : 'trusted.overlay.';
export const OPAQUE_XATTR = `${OVERLAY_XATTR_PREFIX}opaque`;

/** Overlay's bookkeeping under either name: never part of a layer, so rootless and rootful layers are the same. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

/** Whether an attribute belongs in a layer: overlay's bookkeeping and host SELinux labels do not. */
export function isLayerXattr(name: string): boolean {
  return !isOverlayXattr(name) && name !== 'security.selinux';
}

/**
 * Every attribute under `root` (root included), keyed by `/`-separated path relative to `root` (`''` for the
 * root itself). Paths without attributes are absent.
 */
export async function readTreeXattrs(root: string): Promise<Map<string, XattrMap>> {
  const abs = path.resolve(root);
  const dump = await getfattr(['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', abs]);
  const out = new Map<string, XattrMap>();
  for (const [file, attrs] of parseDump(dump)) {
    if (file === abs) out.set('', attrs);
    else if (file.startsWith(`${abs}/`)) out.set(file.slice(abs.length + 1), attrs);
  }
  return out;
}

/** The attributes of specific paths (not recursive), keyed by the path as given. */
export async function readXattrs(paths: readonly string[]): Promise<Map<string, XattrMap>> {
  const out = new Map<string, XattrMap>();
  if (paths.length === 0) return out;
  const abs = paths.map((p) => path.resolve(p));
  const dump = await getfattr(['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', ...abs]);
  const byAbs = parseDump(dump);
  paths.forEach((p, i) => {
    const attrs = byAbs.get(abs[i] as string);
    if (attrs) out.set(p, attrs);
  });
  return out;
}

export async function setXattr(file: string, name: string, value: Buffer): Promise<void> {
  await runTool('setfattr', ['-h', '-n', name, '-v', `0x${value.toString('hex')}`, '--', file]);
}

export async function removeXattr(file: string, name: string): Promise<void> {
  await runTool('setfattr', ['-h', '-x', name, '--', file]);
}

/**
 * Set many attributes in one `setfattr --restore` run (the same dump format getfattr writes). Paths must be
 * absolute.
 */
export async function restoreXattrs(
  entries: ReadonlyArray<{ file: string; xattrs: XattrMap }>,
): Promise<void> {
  const chunks: Buffer[] = [];
  for (const { file, xattrs } of entries) {
    if (xattrs.size === 0) continue;
    if (!path.isAbsolute(file)) throw new Error(`restoreXattrs needs absolute paths, got ${file}`);
    chunks.push(Buffer.from('# file: '), quote(Buffer.from(file)), Buffer.from('\n'));
    for (const [name, value] of xattrs) {
      chunks.push(quote(Buffer.from(name)), Buffer.from(`=0x${value.toString('hex')}\n`));
    }
    chunks.push(Buffer.from('\n'));
  }
  if (chunks.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('setfattr', ['-h', '--restore=-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(toolError('setfattr', err)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new BuildError(`setfattr --restore failed: ${stderr.trim() || `exit code ${code}`}`));
    });
    child.stdin.end(Buffer.concat(chunks));
  });
}

async function getfattr(args: string[]): Promise<Buffer> {
  try {
    const { stdout } = await execFileAsync('getfattr', args, {
      encoding: 'buffer',
      maxBuffer: 1 << 30,
    });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: Buffer; stderr?: Buffer };
    if (e.code === 'ENOENT') throw toolError('getfattr', e);
    // getfattr exits 1 when a named path lacks an attribute it was asked for by name; with -d it only fails
    // for real errors, which it reports on stderr.
    const stderr = e.stderr?.toString().trim() ?? '';
    if (stderr === '' && e.stdout !== undefined) return e.stdout;
    throw new BuildError(`getfattr failed: ${stderr || e.message}`);
  }
}

async function runTool(tool: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(tool, args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw toolError(tool, e);
    throw new BuildError(`${tool} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

function toolError(tool: string, err: Error): BuildError {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    return new BuildError(`${tool} is not installed; it comes with the attr package (apt-get install attr)`);
  }
  return new BuildError(`${tool} failed: ${err.message}`);
}

/** Parse `getfattr -d -e hex --absolute-names` output: `# file: PATH` blocks of `name=0xHEX` lines. */
export function parseDump(dump: Buffer): Map<string, XattrMap> {
  const out = new Map<string, XattrMap>();
  let current: XattrMap | undefined;
  let start = 0;
  while (start < dump.length) {
    let end = dump.indexOf(0x0a, start);
    if (end < 0) end = dump.length;
    const line = dump.subarray(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    const fileHeader = Buffer.from('# file: ');
    if (line.subarray(0, fileHeader.length).equals(fileHeader)) {
      const file = unquote(line.subarray(fileHeader.length)).toString('utf8');
      current = new Map();
      out.set(file, current);
      continue;
    }
    if (current === undefined || line[0] === 0x23) continue; // other comments
    const eq = line.indexOf(0x3d);
    const name = unquote(eq < 0 ? line : line.subarray(0, eq)).toString('utf8');
    const raw = eq < 0 ? '' : line.subarray(eq + 1).toString('latin1');
    current.set(name, decodeValue(raw));
  }
  return out;
}

function decodeValue(raw: string): Buffer {
  if (raw === '') return Buffer.alloc(0);
  if (raw.startsWith('0x')) return Buffer.from(raw.slice(2), 'hex');
  if (raw.startsWith('0s')) return Buffer.from(raw.slice(2), 'base64');
  if (raw.startsWith('"') && raw.endsWith('"')) return unquote(Buffer.from(raw.slice(1, -1), 'latin1'));
  return Buffer.from(raw, 'latin1');
}

/** getfattr writes `\ooo` for control characters, `=` and backslash; undo that byte-exactly. */
function unquote(b: Buffer): Buffer {
  if (!b.includes(0x5c)) return b;
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === 0x5c && i + 3 < b.length && /^[0-7]{3}$/.test(b.subarray(i + 1, i + 4).toString('latin1'))) {
      out.push(parseInt(b.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

/** The inverse of `unquote`, for `setfattr --restore` input. */
function quote(b: Buffer): Buffer {
  const out: number[] = [];
  for (const c of b) {
    if (c < 0x20 || c === 0x7f || c === 0x5c || c === 0x3d) {
      for (const d of `\\${c.toString(8).padStart(3, '0')}`) out.push(d.charCodeAt(0));
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}
