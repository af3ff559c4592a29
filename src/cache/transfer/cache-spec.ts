/**
 * `--cache-to` / `--cache-from` values, in Docker's (BuildKit's) syntax: comma-separated `key=value` fields, a
 * field quoted with `"` when its value holds a comma (`"dest=/ci/a,b"`), as Go's encoding/csv reads them.
 * `--cache-from REF` (no `=`) is shorthand for `type=registry,ref=REF`, as in docker.
 */
import { CsvError, csvRecord } from '../../go/csv';
import { UserError } from '../../errors';
import { InvalidReferenceError } from '../../image/errors';
import { parseDockerReference } from '../../image/reference';
import type { CacheLocation, CacheToSpec } from './types';

type Flag = '--cache-to' | '--cache-from';

/** The keys each flag and type accepts (besides `type`); anything else is a typo the user should hear about. */
const KEYS: Record<Flag, Partial<Record<CacheLocation['type'], readonly string[]>>> = {
  '--cache-to': {
    local: ['dest', 'mode', 'cache-mounts', 'tag', 'ignore-error'],
    registry: ['ref', 'mode', 'cache-mounts', 'ignore-error'],
    inline: ['mode', 'cache-mounts'],
  },
  '--cache-from': {
    local: ['src', 'tag'],
    registry: ['ref'],
  },
};

/**
 * Keys that only tune BuildKit's own cache format (our artifact always is an image manifest with OCI media types, and
 * layers keep the compression they were built with): accepted and ignored, so CI snippets written for BuildKit work.
 */
const BUILDKIT_FORMAT_KEYS = [
  'image-manifest',
  'oci-mediatypes',
  'compression',
  'compression-level',
  'force-compression',
  'digest',
];

/** What the OCI layout's `ref.name` may be here: a docker tag, so `oci:DIR:TAG` in skopeo reads it too. */
const TAG_RE = /^[\w][\w.-]{0,127}$/;

export function parseCacheTo(spec: string): CacheToSpec {
  const flag = '--cache-to';
  const fields = parseFields(flag, spec);
  const location = parseLocation(flag, spec, fields);
  const mode = parseMode(flag, spec, fields.get('mode'));
  const cacheMounts = parseBool(flag, spec, 'cache-mounts', fields.get('cache-mounts'));
  if (location.type === 'inline') {
    // An inline cache lives in the image manifest: only the image's own steps, and no blobs of its own.
    if (mode === 'max') throw usage(flag, spec, 'type=inline supports only mode=min');
    if (cacheMounts)
      throw usage(flag, spec, 'type=inline cannot carry cache mounts (use type=local or registry)');
    return { location, mode: 'min', cacheMounts: false };
  }
  const ignoreError = parseBool(flag, spec, 'ignore-error', fields.get('ignore-error'));
  return { location, mode: mode ?? 'max', cacheMounts, ...(ignoreError ? { ignoreError } : {}) };
}

export function parseCacheFrom(spec: string): CacheLocation {
  const flag = '--cache-from';
  if (spec.trim() !== '' && !spec.includes('=')) {
    return { type: 'registry', ref: checkRef(flag, spec, spec.trim()) };
  }
  return parseLocation(flag, spec, parseFields(flag, spec));
}

function parseLocation(flag: Flag, spec: string, fields: Map<string, string>): CacheLocation {
  const type = fields.get('type');
  if (type === undefined) throw usage(flag, spec, 'type= is required (local or registry)');
  const allowed = Object.hasOwn(KEYS[flag], type) ? KEYS[flag][type as CacheLocation['type']] : undefined;
  if (allowed === undefined) {
    const types = Object.keys(KEYS[flag]).join(', ');
    throw usage(flag, spec, `unknown type ${JSON.stringify(type)} (expected ${types})`);
  }
  for (const key of fields.keys()) {
    if (key !== 'type' && !allowed.includes(key) && !BUILDKIT_FORMAT_KEYS.includes(key)) {
      throw usage(
        flag,
        spec,
        `unknown key ${JSON.stringify(key)} for type=${type} (accepted: ${allowed.join(', ')})`,
      );
    }
  }
  switch (type) {
    case 'local': {
      const dirKey = flag === '--cache-to' ? 'dest' : 'src';
      const dir = required(flag, spec, fields, dirKey, 'DIR');
      const tag = fields.get('tag') ?? 'latest';
      if (!TAG_RE.test(tag)) {
        throw usage(flag, spec, `tag ${JSON.stringify(tag)} is not a valid tag (letters, digits, _ . -)`);
      }
      return { type: 'local', dir, tag };
    }
    case 'registry':
      return { type: 'registry', ref: checkRef(flag, spec, required(flag, spec, fields, 'ref', 'REF')) };
    default:
      return { type: 'inline' };
  }
}

/** `type=local,dest=/x` → Map; a key given twice or a field without `=` is an error, not a silent override. */
function parseFields(flag: Flag, spec: string): Map<string, string> {
  if (spec.trim() === '') throw usage(flag, spec, 'the value is empty');
  const fields = new Map<string, string>();
  for (const field of splitCsv(flag, spec)) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw usage(flag, spec, `${JSON.stringify(field)} is not a key=value field`);
    const key = field.slice(0, eq).trim().toLowerCase();
    const value = field.slice(eq + 1);
    if (fields.has(key)) throw usage(flag, spec, `${key}= is given twice`);
    fields.set(key, value);
  }
  return fields;
}

/** Go encoding/csv on one record, as buildx reads the flag; its error in this flag's words. */
function splitCsv(flag: Flag, spec: string): string[] {
  try {
    return csvRecord(spec);
  } catch (err) {
    if (err instanceof CsvError) throw usage(flag, spec, `column ${err.column}: ${err.reason}`);
    throw err;
  }
}

function required(flag: Flag, spec: string, fields: Map<string, string>, key: string, what: string): string {
  const value = fields.get(key);
  if (value === undefined || value === '') throw usage(flag, spec, `${key}=${what} is required`);
  return value;
}

function parseMode(flag: Flag, spec: string, value: string | undefined): 'min' | 'max' | undefined {
  if (value === undefined || value === 'min' || value === 'max') return value;
  throw usage(flag, spec, `mode=${value} is not min or max`);
}

function parseBool(flag: Flag, spec: string, key: string, value: string | undefined): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw usage(flag, spec, `${key}=${value} is not true or false`);
}

/** The reference as given (the label names it as the user typed it), once we know it parses. */
function checkRef(flag: Flag, spec: string, ref: string): string {
  try {
    parseDockerReference(ref);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw usage(flag, spec, err.message);
    throw err;
  }
  return ref;
}

function usage(flag: Flag, spec: string, what: string): UserError {
  return new UserError(`invalid ${flag} ${JSON.stringify(spec)}: ${what}`);
}
