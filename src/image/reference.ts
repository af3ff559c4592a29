/**
 * Docker image references, parsed and normalised as distribution/reference does (the grammar of
 * `regexp.go`, the rules of `ParseNormalizedNamed`): `myapp` is `docker.io/library/myapp`, `user/app` is
 * `docker.io/user/app`, a first component with a `.` or `:` (or `localhost`, or an upper-case letter) is a
 * registry. Error messages follow distribution's, since users will search for them.
 */
import { InvalidReferenceError } from './errors';

export interface Reference {
  /** Registry host[:port]; empty only for a reference parsed without normalisation. */
  domain: string;
  /** Repository path, e.g. `library/ubuntu`. */
  path: string;
  tag?: string;
  /** `algorithm:hex`. */
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

const optional = (...res: string[]) => `(?:${res.join('')})?`;
const anyTimes = (...res: string[]) => `(?:${res.join('')})*`;
const capture = (...res: string[]) => `(${res.join('')})`;
const anchored = (...res: string[]) => `^${res.join('')}$`;

const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const identifier = '([a-f0-9]{64})';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;
const pathComponent = alphanumeric + anyTimes(separator + alphanumeric);
const remoteName = pathComponent + anyTimes('/' + pathComponent);
const namePat = optional(domainAndPort + '/') + remoteName;

const referenceRegexp = new RegExp(
  anchored(capture(namePat), optional(':', capture(tagPat)), optional('@', capture(digestPat))),
);
const anchoredNameRegexp = new RegExp(anchored(optional(capture(domainAndPort), '/'), capture(remoteName)));
const anchoredIdentifierRegexp = new RegExp(anchored(identifier));
const anchoredTagRegexp = new RegExp(anchored(tagPat));

/** Digest lengths go-digest accepts, in hex characters. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** distribution's `reference.Parse`: the grammar only, no defaults. */
export function parseReference(s: string, original = s): Reference {
  const m = referenceRegexp.exec(s);
  if (m === null) {
    if (s === '')
      throw new InvalidReferenceError(original, 'repository name must have at least one component');
    if (referenceRegexp.exec(s.toLowerCase()) !== null) {
      throw new InvalidReferenceError(original, 'repository name must be lowercase');
    }
    throw new InvalidReferenceError(original, 'invalid reference format');
  }
  const name = m[1] as string;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(
      s,
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  const nm = anchoredNameRegexp.exec(name);
  if (nm === null) throw new InvalidReferenceError(original, 'invalid reference format');
  const ref: Reference = { domain: nm[1] ?? '', path: nm[2] as string };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) ref.digest = validateDigest(original, m[3]);
  return ref;
}

function validateDigest(s: string, digest: string): string {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const want = DIGEST_HEX_LENGTH[algorithm];
  if (want === undefined) throw new InvalidReferenceError(s, `unsupported digest algorithm ${algorithm}`);
  if (hex.length !== want) throw new InvalidReferenceError(s, 'invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw new InvalidReferenceError(s, 'invalid checksum digest format');
  return digest;
}

/** distribution's `ParseNormalizedNamed`: familiar names made fully qualified. No default tag is added. */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw new InvalidReferenceError(s, 'cannot specify 64-byte hexadecimal strings as a repository name');
  }
  const [domain, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw new InvalidReferenceError(s, `repository name (${remote}) must be lowercase`);
  }
  return parseReference(`${domain}/${remainder}`, s);
}

/**
 * The reference as the image store keys it: normalised, with the default tag when it has neither tag nor
 * digest (distribution's `TagNameOnly`).
 */
export function parseDockerReference(s: string): Reference {
  const ref = parseNormalizedNamed(s);
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = DEFAULT_TAG;
  return ref;
}

/** `myapp` → `docker.io/library/myapp:latest`. */
export function normalizeReference(s: string): string {
  return formatReference(parseDockerReference(s));
}

export function repositoryName(ref: Reference): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

export function formatReference(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The short form Docker shows: `docker.io/library/ubuntu:22.04` → `ubuntu:22.04`. */
export function familiarName(ref: Reference): string {
  return formatReference({ ...ref, domain: '', path: familiarRepository(ref) });
}

/** The repository part of the familiar form: `docker.io/library/ubuntu` → `ubuntu`. */
export function familiarRepository(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

export function isValidTag(tag: string): boolean {
  return anchoredTagRegexp.test(tag);
}

function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];
  const maybeDomain = name.slice(0, slash);
  const maybeRemote = name.slice(slash + 1);
  let domain: string;
  let remote: string;
  if (maybeDomain === 'localhost') [domain, remote] = [maybeDomain, maybeRemote];
  else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) [domain, remote] = [DEFAULT_DOMAIN, maybeRemote];
  else if (/[.:]/.test(maybeDomain)) [domain, remote] = [maybeDomain, maybeRemote];
  else if (maybeDomain.toLowerCase() !== maybeDomain) [domain, remote] = [maybeDomain, maybeRemote];
  else [domain, remote] = [DEFAULT_DOMAIN, name];
  if (domain === DEFAULT_DOMAIN && !remote.includes('/')) remote = OFFICIAL_REPO_PREFIX + remote;
  return [domain, remote];
}
