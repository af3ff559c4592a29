/**
 * Authentication against real registries: one behind htpasswd basic auth, one behind bearer-token auth
 * (the distribution token flow, with a token server that signs real JWTs the registry verifies). Credentials
 * come from a docker config file: `auths`, `credHelpers` and `credsStore` (a fake docker-credential-*
 * program on PATH). Without them, or with wrong ones, the error is one line naming the registry.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { RegistryClient } from '../../../src/image/registry/client';
import { DockerConfigCredentials } from '../../../src/image/registry/credentials';
import { RegistryAuthError } from '../../../src/image/registry/errors';
import { pullImage } from '../../../src/image/registry/pull';
import { pushImage } from '../../../src/image/registry/push';
import {
  busyboxLayout,
  dockerConfig,
  skopeoCopy,
  startRegistry,
  tempDir,
  type TestRegistry,
} from '../../helpers/registry';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const USER = 'tester';
const PASSWORD = 's3cret-pw';

let basic: TestRegistry;
let token: TestRegistry;
let root: string;
const temps: string[] = [];

async function temp(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  temps.push(dir);
  return dir;
}

function clientFor(configDir: string, env: NodeJS.ProcessEnv = process.env): RegistryClient {
  return new RegistryClient({
    credentials: new DockerConfigCredentials({ configDir, env }),
    retry: { baseDelayMs: 10 },
  });
}

/** A credential helper on PATH that knows one server. */
async function fakeHelper(name: string, server: string): Promise<NodeJS.ProcessEnv> {
  const bin = await temp('cred-helper');
  const script = [
    '#!/bin/sh',
    '[ "$1" = get ] || exit 1',
    'read -r server',
    `if [ "$server" = "${server}" ]; then`,
    `  printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$server"`,
    'else',
    '  echo "credentials not found in native keychain"; exit 1',
    'fi',
  ].join('\n');
  await fsp.writeFile(path.join(bin, `docker-credential-${name}`), `${script}\n`, { mode: 0o755 });
  return { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
}

beforeAll(async () => {
  [basic, token] = await Promise.all([
    startRegistry({ kind: 'basic', user: USER, password: PASSWORD }),
    startRegistry({ kind: 'token', user: USER, password: PASSWORD }),
  ]);
  const busybox = await busyboxLayout();
  for (const r of [basic, token]) {
    await skopeoCopy(`oci:${busybox}:latest`, `docker://${r.host}/private/busybox:latest`, [
      '--dest-creds',
      `${USER}:${PASSWORD}`,
    ]);
  }
});

afterAll(async () => {
  await Promise.all([basic?.stop(), token?.stop()]);
  for (const dir of temps) await fsp.rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await temp('auth-root');
});

describe.each([
  ['basic', () => basic],
  ['bearer token', () => token],
])('%s auth', (_kind, registry) => {
  const ref = (): string => `${registry().host}/private/busybox:latest`;

  it('pulls and pushes with credentials from the docker config file', async () => {
    const config = await dockerConfig(registry().host, USER, PASSWORD);
    const client = clientFor(config);
    const pulled = await pullImage(root, ref(), AMD64, { client });
    expect(pulled.downloaded).toBe(3);
    const pushed = await pushImage(root, ref(), `${registry().host}/private/copy:1`, { client });
    expect(pushed.digest).toBe(pulled.manifest.digest);
  });

  it('fails with one line without credentials', async () => {
    const empty = await temp('no-config');
    const err = await pullImage(root, ref(), AMD64, { client: clientFor(empty) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as Error).message).toBe(
      `authentication required for ${registry().host}: authentication required (no credentials for it in the docker config)`,
    );
  });

  it('fails with the server message for a wrong password', async () => {
    const config = await dockerConfig(registry().host, USER, 'wrong');
    const err = await pullImage(root, ref(), AMD64, { client: clientFor(config) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryAuthError);
    expect((err as Error).message).toBe(
      `authentication required for ${registry().host}: ${_kind === 'basic' ? 'authentication required' : 'incorrect username or password'}`,
    );
  });

  it('uses a credHelpers entry for the registry', async () => {
    const env = await fakeHelper('tsbuildtest', registry().host);
    const config = await temp('helper-config');
    await fsp.writeFile(
      path.join(config, 'config.json'),
      JSON.stringify({ credHelpers: { [registry().host]: 'tsbuildtest' } }),
    );
    const pulled = await pullImage(root, ref(), AMD64, { client: clientFor(config, env) });
    expect(pulled.name).toBe(ref());
  });

  it('uses the credsStore helper', async () => {
    const env = await fakeHelper('tsbuildstore', registry().host);
    const config = await temp('store-config');
    await fsp.writeFile(
      path.join(config, 'config.json'),
      JSON.stringify({ credsStore: 'tsbuildstore', auths: { [registry().host]: {} } }),
    );
    const pulled = await pullImage(root, ref(), AMD64, { client: clientFor(config, env) });
    expect(pulled.name).toBe(ref());
  });
});

describe('bearer tokens', () => {
  it('asks for pull on the source and push on the target when mounting across repositories', async () => {
    const client = clientFor(await dockerConfig(token.host, USER, PASSWORD));
    await pullImage(root, `${token.host}/private/busybox:latest`, AMD64, { client });
    const events: string[] = [];
    await pushImage(root, `${token.host}/private/busybox:latest`, `${token.host}/mounted/busybox:1`, {
      client,
      onEvent: (e) => {
        if (e.type === 'blob') events.push(`${e.status}${e.from ? ` ${e.from}` : ''}`);
      },
    });
    expect(events.sort()).toEqual(['mounted private/busybox', 'mounted private/busybox']);
  });
});
