/**
 * `RUN --mount=…` and `RUN --device=…` values (BuildKit's commands_runmount.go / commands_rundevice.go): CSV
 * `key=value` fields, checked field by field in the order written, then the whole mount validated. At parse time
 * only `from=` is read (the dependency graph needs it, and it may not use variables); everything else is read
 * when the step is planned, with each value expanded against the stage's environment.
 */
import { csvFields } from './csv';
import { PlanFault } from './fault';
import { goParseBool, goParseUint, goQuote } from './go';
import { withSuggestion } from './suggest';
import type { RunDevice } from './types';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING_MODES = ['shared', 'private', 'locked'] as const;
type Sharing = (typeof SHARING_MODES)[number];
const ALL_KEYS = [
  'type',
  'from',
  'source',
  'target',
  'readonly',
  'id',
  'sharing',
  'required',
  'size',
  'mode',
  'uid',
  'gid',
  'src',
  'dst',
  'destination',
  'ro',
  'rw',
  'readwrite',
  'env',
];

/** A mount after parsing and validation, before targets and defaults are resolved against the stage. */
export interface ParsedMount {
  type: MountType;
  from: string;
  source: string;
  target: string;
  readOnly: boolean;
  sizeLimit?: number;
  cacheId: string;
  sharing?: Sharing;
  required: boolean;
  env?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** The `from=` of a mount, read at parse time; a variable in it is an error (BuildKit cannot order stages then). */
export function mountFromAtParse(spec: string): string {
  let from = '';
  for (const field of csvFields(spec, 'mounts')) {
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    if (field.slice(0, eq).toLowerCase() !== 'from') continue;
    const value = field.slice(eq + 1);
    const dollar = value.indexOf('$');
    if (dollar !== -1 && dollar !== value.length - 1) {
      throw new PlanFault("'from' doesn't support variable expansion, define alias stage instead");
    }
    from = value;
  }
  return from;
}

/** Parses and validates one `--mount` value, expanding each value with `expand`. */
export function parseMount(spec: string, expand: (word: string) => string): ParsedMount {
  const m: ParsedMount = {
    type: 'bind',
    from: '',
    source: '',
    target: '',
    readOnly: false,
    cacheId: '',
    required: false,
  };
  let roAuto = true;
  const bool = (key: string, value: string): boolean => {
    const b = goParseBool(value);
    if (b === undefined) throw new PlanFault(`invalid value for ${key}: ${value}`);
    return b;
  };
  const secretOrSsh = (): boolean => m.type === 'secret' || m.type === 'ssh';
  const unexpected = (key: string): PlanFault =>
    new PlanFault(`unexpected key '${key}' for mount type '${m.type}'`);

  for (const field of csvFields(spec, 'mounts')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      switch (key) {
        case 'readonly':
        case 'ro':
          m.readOnly = true;
          roAuto = false;
          continue;
        case 'readwrite':
        case 'rw':
          m.readOnly = false;
          roAuto = false;
          continue;
        case 'required':
          if (!secretOrSsh()) throw unexpected(key);
          m.required = true;
          continue;
        default:
          throw new PlanFault(`invalid field '${field}' must be a key=value pair`);
      }
    }
    const value = expand(field.slice(eq + 1));
    switch (key) {
      case 'type': {
        const type = value.toLowerCase();
        if (!(MOUNT_TYPES as readonly string[]).includes(type)) {
          throw new PlanFault(
            withSuggestion(`unsupported mount type ${goQuote(value)}`, value, MOUNT_TYPES, true),
          );
        }
        m.type = type as MountType;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = bool(key, value);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !bool(key, value);
        roAuto = false;
        break;
      case 'required':
        if (!secretOrSsh()) throw unexpected(key);
        m.required = bool(key, value);
        break;
      case 'size': {
        if (m.type !== 'tmpfs') throw unexpected(key);
        const size = ramInBytes(value);
        if (size === undefined) throw new PlanFault(`invalid value for ${key}: ${value}`);
        m.sizeLimit = size;
        break;
      }
      case 'id':
        m.cacheId = value;
        break;
      case 'sharing': {
        const sharing = value.toLowerCase();
        if (!(SHARING_MODES as readonly string[]).includes(sharing)) {
          throw new PlanFault(
            withSuggestion(`unsupported sharing value ${goQuote(value)}`, value, SHARING_MODES, true),
          );
        }
        m.sharing = sharing as Sharing;
        break;
      }
      case 'mode': {
        const mode = goParseUint(value, 8, 32);
        if (mode === undefined) throw new PlanFault(`invalid value ${value} for mode`);
        m.mode = mode;
        break;
      }
      case 'uid':
      case 'gid': {
        const id = goParseUint(value, 10, 32);
        if (id === undefined) throw new PlanFault(`invalid value ${value} for ${key}`);
        m[key] = id;
        break;
      }
      case 'env':
        m.env = value;
        break;
      default:
        throw new PlanFault(withSuggestion(`unexpected key '${key}' in '${field}'`, key, ALL_KEYS, true));
    }
  }
  validateMount(m, roAuto);
  return m;
}

function validateMount(m: ParsedMount, roAuto: boolean): void {
  if (!(m.type === 'secret' || m.type === 'ssh' || m.type === 'cache')) {
    for (const what of ['mode', 'uid', 'gid'] as const) {
      if (m[what] !== undefined)
        throw new PlanFault(`${what} not allowed for ${goQuote(m.type)} type mounts`);
    }
  }
  // Unless ro/rw was written, caches and tmpfs are writable and everything else is read-only.
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from !== '') throw new PlanFault('secret mount should not have a from');
    if (m.sharing !== undefined) throw new PlanFault('secret mount should not define sharing');
    if (m.source === '' && m.target === '' && m.cacheId === '') {
      throw new PlanFault('invalid secret mount. one of source, target required');
    }
    if (m.source !== '' && m.cacheId !== '') throw new PlanFault("both source and id can't be set");
  }
  if (m.sharing !== undefined && m.type !== 'cache') {
    throw new PlanFault(`invalid cache sharing set for ${m.type} mount`);
  }
}

/** docker/go-units `RAMInBytes`: `64m`, `1.5g`, `512kb`, `100` — binary multiples. */
export function ramInBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  if (!m) return undefined;
  const n = Number.parseFloat(m[1]);
  if (!Number.isFinite(n)) return undefined;
  const power = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.trunc(n * 1024 ** power);
}

/** One `--device` value: a CDI device name, optionally `required`. */
export function parseDevice(spec: string): RunDevice {
  const device: RunDevice = { name: '', required: false };
  for (const field of csvFields(spec, 'devices')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'required') {
        device.required = true;
      } else if (device.name === '') {
        device.name = field;
      } else {
        throw new PlanFault(`invalid field '${field}' must be a key=value pair`);
      }
      continue;
    }
    if (key === 'name') {
      if (device.name !== '') throw new PlanFault(`device name already set to ${device.name}`);
      device.name = value;
    } else if (key === 'required') {
      const b = goParseBool(value);
      if (b === undefined) throw new PlanFault(`invalid value for ${key}: ${value}`);
      device.required = b;
    } else if (device.name === '') {
      device.name = field;
    } else {
      throw new PlanFault(
        withSuggestion(`unexpected key '${key}' in '${field}'`, key, ['name', 'required'], true),
      );
    }
  }
  return device;
}
