/**
 * `docker build` flag values → build options: build args (`K=V`, or `K` taken from the environment as Docker
 * does), labels, outputs, the store root and SOURCE_DATE_EPOCH.
 */
import type { Engine } from '../image/engine/load-image';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../errors';

export function parseKeyValues(
  values: readonly string[] | undefined,
  flag: string,
  fromEnv: boolean,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq === 0) throw new UserError(`invalid ${flag} "${v}": the name is empty`);
    if (eq < 0) {
      if (!fromEnv) throw new UserError(`invalid ${flag} "${v}": expected NAME=VALUE`);
      const env = process.env[v];
      // Docker passes `--build-arg NAME` through only when NAME is set in the environment.
      if (env !== undefined) out.set(v, env);
      continue;
    }
    out.set(v.slice(0, eq), v.slice(eq + 1));
  }
  return out;
}

export type OutputSpec =
  | { type: 'registry'; name: string }
  | { type: 'oci'; dest: string; tar: boolean }
  | { type: 'docker'; dest: string }
  /** `--load`, or `type=docker` without `dest` (as buildx): into a local engine. */
  | { type: 'engine'; engine: Engine }
  | { type: 'local'; dest: string };

/** `--output type=oci,dest=out.tar` (and Docker's `-o DIR` shorthand for `type=local,dest=DIR`). */
export function parseOutput(spec: string): OutputSpec {
  if (!spec.includes('=')) return { type: 'local', dest: spec };
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UserError(`invalid --output "${spec}": expected key=value pairs`);
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const type = fields.get('type');
  const dest = fields.get('dest');
  if (!type)
    throw new UserError(`invalid --output "${spec}": type= is required (oci, docker, local or registry)`);
  if (type === 'registry' || type === 'image') {
    const name = fields.get('name');
    if (!name) throw new UserError(`invalid --output "${spec}": name= is required`);
    if (type === 'image' && fields.get('push') !== 'true') {
      throw new UserError(
        `invalid --output "${spec}": type=image needs push=true (the local store is always written)`,
      );
    }
    return { type: 'registry', name };
  }
  if (type === 'docker' && !dest) return { type: 'engine', engine: 'docker' };
  if (!dest) throw new UserError(`invalid --output "${spec}": dest= is required`);
  switch (type) {
    case 'oci':
      return { type: 'oci', dest, tar: fields.get('tar') === 'true' || dest.endsWith('.tar') };
    case 'docker':
      return { type: 'docker', dest };
    case 'local':
      return { type: 'local', dest };
    default:
      throw new UserError(
        `invalid --output "${spec}": unknown type "${type}" (supported: oci, docker, local)`,
      );
  }
}

/** `--root`, else `TSBUILD_ROOT`, else `~/.local/share/tsbuild` (XDG_DATA_HOME honoured). */
export function storeRoot(flag: string | undefined): string {
  if (flag) return path.resolve(flag);
  if (process.env.TSBUILD_ROOT) return path.resolve(process.env.TSBUILD_ROOT);
  const data = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'tsbuild');
}

/** SOURCE_DATE_EPOCH from a build arg (as BuildKit takes it) or the environment; seconds. */
export function sourceDateEpoch(buildArgs: ReadonlyMap<string, string>): number | undefined {
  const raw = buildArgs.get('SOURCE_DATE_EPOCH') ?? process.env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw))
    throw new UserError(`invalid SOURCE_DATE_EPOCH "${raw}": expected whole seconds since 1970`);
  return Number(raw);
}

/**
 * `--secret id=NAME[,src=FILE|,env=VAR]` (as `docker build`): without src or env, the environment variable NAME is
 * used if set, else a file named NAME. The values stay in memory; they are never in a layer, a key or the log.
 */
export async function readSecrets(specs: readonly string[] | undefined): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const spec of specs ?? []) {
    const fields = new Map<string, string>();
    for (const part of spec.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new UserError(`invalid --secret "${spec}": expected id=NAME[,src=FILE|,env=VAR]`);
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const id = fields.get('id');
    if (!id) throw new UserError(`invalid --secret "${spec}": id= is required`);
    const src = fields.get('src') ?? fields.get('source');
    const env = fields.get('env');
    if (env !== undefined || (src === undefined && process.env[id] !== undefined)) {
      const value = process.env[env ?? id];
      if (value === undefined)
        throw new UserError(`--secret ${id}: environment variable ${env ?? id} is not set`);
      out.set(id, Buffer.from(value));
      continue;
    }
    const file = src ?? id;
    try {
      out.set(id, await fsp.readFile(file));
    } catch {
      throw new UserError(`--secret ${id}: cannot read ${file}`);
    }
  }
  return out;
}

/**
 * `--load` and `--load=docker|podman` (buildx's `--load`, plus podman): oclif has no flag with an optional value, so
 * the bare form is given its default here, before parsing.
 */
export function withLoadDefault(argv: readonly string[]): string[] {
  return argv.map((a) => (a === '--load' ? '--load=docker' : a));
}

export function parseLoad(value: string | undefined): OutputSpec | undefined {
  if (value === undefined) return undefined;
  if (value === 'docker' || value === 'podman') return { type: 'engine', engine: value };
  throw new UserError(`invalid --load=${value}: docker (the default) or podman`);
}
