/**
 * Registry credentials as Docker finds them, from `$DOCKER_CONFIG/config.json` (default
 * `~/.docker/config.json`), in Docker's order: a per-registry `credHelpers` entry, else the `credsStore`
 * helper, else the file's own `auths` (`auth` = base64 `user:password`, or `username`/`password`,
 * `identitytoken`). Helpers are the `docker-credential-<name>` programs: `get` with the server on stdin,
 * JSON `{Username, Secret}` on stdout. Docker Hub's key is `https://index.docker.io/v1/`, as Docker writes it.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isErrno } from '../../store/atomic';
import { CredentialConfigError } from './errors';
import { DOCKER_HUB } from './hosts';

export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`docker login` to some registries stores one instead of a password). */
  identityToken?: string;
  /** A bearer token to send as is, skipping the token server. */
  registryToken?: string;
}

export interface CredentialStore {
  /** Credentials for a registry as references name it (`docker.io`, `127.0.0.1:5000`); undefined if none. */
  get(registry: string): Promise<Credential | undefined>;
}

/** No credentials at all: every request is anonymous. */
export const ANONYMOUS: CredentialStore = { get: async () => undefined };

export interface DockerConfigOptions {
  /** The directory holding config.json (default `$DOCKER_CONFIG`, else `~/.docker`). */
  configDir?: string;
  /** Environment for credential helpers (PATH finds them); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const HELPER_TIMEOUT_MS = 30_000;

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface DockerConfig {
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore?: string;
}

export class DockerConfigCredentials implements CredentialStore {
  private config?: Promise<DockerConfig>;
  private readonly cache = new Map<string, Promise<Credential | undefined>>();
  readonly configPath: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: DockerConfigOptions = {}) {
    const env = options.env ?? process.env;
    const dir = options.configDir ?? (env.DOCKER_CONFIG || path.join(os.homedir(), '.docker'));
    this.configPath = path.join(dir, 'config.json');
    this.env = env;
  }

  get(registry: string): Promise<Credential | undefined> {
    let hit = this.cache.get(registry);
    if (hit === undefined) {
      hit = this.lookup(registry);
      this.cache.set(registry, hit);
    }
    return hit;
  }

  private async lookup(registry: string): Promise<Credential | undefined> {
    this.config ??= readDockerConfig(this.configPath);
    const config = await this.config;
    const helper = findByHost(config.credHelpers, registry);
    if (helper !== undefined) return runHelper(helper, serverFor(registry), this.env, this.configPath);
    if (config.credsStore !== undefined && config.credsStore !== '') {
      const fromStore = await runHelper(config.credsStore, serverFor(registry), this.env, this.configPath);
      if (fromStore !== undefined) return fromStore;
    }
    const entry = findByHost(config.auths, registry);
    return entry === undefined ? undefined : fromAuthEntry(entry, registry, this.configPath);
  }
}

/** What Docker passes a helper: Hub's legacy v1 URL, else host[:port]. */
function serverFor(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_SERVER : registry;
}

/** Config keys may be URLs (`https://host:5000/v1/`) or bare hosts; Docker compares their host[:port]. */
function findByHost<T>(map: Record<string, T>, registry: string): T | undefined {
  const wanted = registry.toLowerCase();
  for (const [key, value] of Object.entries(map)) {
    const host = key
      .toLowerCase()
      .replace(/^[a-z]+:\/\//, '')
      .replace(/\/.*$/, '');
    if (host === wanted) return value;
    if (wanted === DOCKER_HUB && HUB_ALIASES.has(host)) return value;
  }
  return undefined;
}

function fromAuthEntry(entry: AuthEntry, registry: string, configPath: string): Credential | undefined {
  const cred: Credential = {};
  if (entry.auth !== undefined && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new CredentialConfigError(
        `${configPath}: the auth entry for ${registry} is not base64 of "user:password"`,
      );
    }
    cred.username = decoded.slice(0, colon);
    cred.password = decoded.slice(colon + 1);
  } else if (entry.username !== undefined) {
    cred.username = entry.username;
    cred.password = entry.password ?? '';
  }
  if (entry.identitytoken) cred.identityToken = entry.identitytoken;
  if (entry.registrytoken) cred.registryToken = entry.registrytoken;
  return Object.keys(cred).length > 0 ? cred : undefined;
}

async function readDockerConfig(configPath: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await fsp.readFile(configPath, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return { auths: {}, credHelpers: {} };
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CredentialConfigError(`cannot parse ${configPath}: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CredentialConfigError(`cannot parse ${configPath}: not a JSON object`);
  }
  const o = raw as Record<string, unknown>;
  const auths: Record<string, AuthEntry> = {};
  if (isRecord(o.auths)) {
    for (const [key, value] of Object.entries(o.auths)) {
      if (!isRecord(value)) continue;
      auths[key] = {
        auth: str(value.auth),
        username: str(value.username),
        password: str(value.password),
        identitytoken: str(value.identitytoken),
        registrytoken: str(value.registrytoken),
      };
    }
  }
  const credHelpers: Record<string, string> = {};
  if (isRecord(o.credHelpers)) {
    for (const [key, value] of Object.entries(o.credHelpers))
      if (typeof value === 'string') credHelpers[key] = value;
  }
  return { auths, credHelpers, credsStore: str(o.credsStore) };
}

/** `docker-credential-<name> get`; "credentials not found" is no credential, any other failure is an error. */
function runHelper(
  name: string,
  server: string,
  env: NodeJS.ProcessEnv,
  configPath: string,
): Promise<Credential | undefined> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      program,
      ['get'],
      { env, timeout: HELPER_TIMEOUT_MS, maxBuffer: 1 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err !== null) {
          const said = `${stdout}${stderr}`.trim();
          if (/credentials not found/i.test(said)) return resolve(undefined);
          if (isErrno(err, 'ENOENT')) {
            return reject(
              new CredentialConfigError(
                `${program} (named in ${configPath}) is not installed or not in PATH`,
              ),
            );
          }
          return reject(
            new CredentialConfigError(`${program} get failed for ${server}: ${said || err.message}`),
          );
        }
        try {
          resolve(parseHelperOutput(stdout));
        } catch (e) {
          reject(new CredentialConfigError(`${program} get for ${server}: ${(e as Error).message}`));
        }
      },
    );
    child.stdin?.on('error', () => undefined); // a helper that exits without reading stdin
    child.stdin?.end(server);
  });
}

function parseHelperOutput(stdout: string): Credential | undefined {
  const v: unknown = JSON.parse(stdout);
  if (!isRecord(v)) throw new Error('its output is not a JSON object');
  const username = str(v.Username) ?? '';
  const secret = str(v.Secret) ?? '';
  if (username === '' && secret === '') return undefined;
  // Docker's convention: a helper returns an identity token with the user name "<token>".
  if (username === '<token>') return { identityToken: secret };
  return { username, password: secret };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
