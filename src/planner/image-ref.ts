/**
 * Image references as Docker's `distribution/reference` reads them: validated, then normalised the way BuildKit
 * pulls them (`alpine` → `docker.io/library/alpine:latest`). A stage's base that is not another stage and not
 * `scratch` must pass this, whether or not the stage is built.
 */
import { PlanFault } from './fault';

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[(?:[a-fA-F0-9:]+)\\])`;
const DOMAIN_AND_PORT = `${HOST}(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN_AND_PORT}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const HEX64 = /^[a-f0-9]{64}$/;
const NAME_MAX = 255;

export interface ParsedImageRef {
  /** `docker.io/library/alpine` */
  name: string;
  tag?: string;
  digest?: string;
  /** The reference BuildKit resolves: name, then `:tag` (`latest` when neither tag nor digest), then `@digest`. */
  normalized: string;
}

/** Parses and normalises `ref`; throws PlanFault with distribution/reference's message. */
export function parseImageRef(ref: string): ParsedImageRef {
  if (HEX64.test(ref)) {
    throw new PlanFault(`invalid repository name (${ref}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(ref);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep >= 0 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new PlanFault(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  const full = `${domain}/${remainder}`;
  const m = REFERENCE.exec(full);
  if (!m) {
    if (full === '') throw new PlanFault('repository name must have at least one component');
    if (REFERENCE.test(full.toLowerCase())) throw new PlanFault('repository name must be lowercase');
    throw new PlanFault('invalid reference format');
  }
  const name = m[1];
  if (name.length > NAME_MAX) {
    throw new PlanFault(`repository name must not be more than ${NAME_MAX} characters`);
  }
  const tag = m[2] ?? (m[3] === undefined ? 'latest' : undefined);
  const digest = m[3];
  let normalized = name;
  if (tag !== undefined) normalized += `:${tag}`;
  if (digest !== undefined) normalized += `@${digest}`;
  return { name, tag, digest, normalized };
}

/** Docker Hub is the default registry, and its one-component names live under `library/`. */
function splitDockerDomain(ref: string): [string, string] {
  const i = ref.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i < 0 ? '' : ref.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = 'docker.io';
    remainder = ref;
  } else {
    domain = first;
    remainder = ref.slice(i + 1);
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !remainder.includes('/')) remainder = `library/${remainder}`;
  return [domain, remainder];
}
