/** Finding credentials in a docker config file the way Docker does. */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DockerConfigCredentials } from '../../../src/image/registry/credentials';
import { CredentialConfigError } from '../../../src/image/registry/errors';

let dir: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-creds-'));
});

afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function config(content: unknown, env: NodeJS.ProcessEnv = {}): Promise<DockerConfigCredentials> {
  await fsp.writeFile(
    path.join(dir, 'config.json'),
    typeof content === 'string' ? content : JSON.stringify(content),
  );
  return new DockerConfigCredentials({ configDir: dir, env: { PATH: process.env.PATH, ...env } });
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('DockerConfigCredentials', () => {
  it('decodes auth (passwords may contain colons) and reads username/password', async () => {
    const creds = await config({
      auths: {
        'reg.example:5000': { auth: b64('alice:pa:ss') },
        'https://other.example/v1/': { username: 'bob', password: 'pw' },
      },
    });
    expect(await creds.get('reg.example:5000')).toEqual({ username: 'alice', password: 'pa:ss' });
    expect(await creds.get('other.example')).toEqual({ username: 'bob', password: 'pw' });
    expect(await creds.get('reg.example')).toBeUndefined(); // another port is another registry
  });

  it("finds Docker Hub under Docker's legacy key", async () => {
    const creds = await config({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } });
    expect(await creds.get('docker.io')).toEqual({ username: 'hub', password: 'pw' });
  });

  it('keeps identity tokens', async () => {
    const creds = await config({ auths: { 'reg.example': { identitytoken: 'refresh-me' } } });
    expect(await creds.get('reg.example')).toEqual({ identityToken: 'refresh-me' });
  });

  it('uses $DOCKER_CONFIG when no directory is given, and no file means no credentials', async () => {
    const creds = new DockerConfigCredentials({ env: { DOCKER_CONFIG: path.join(dir, 'absent') } });
    expect(creds.configPath).toBe(path.join(dir, 'absent', 'config.json'));
    expect(await creds.get('reg.example')).toBeUndefined();
  });

  it('reports a broken config file or auth entry as a user error', async () => {
    await expect((await config('{nope')).get('x')).rejects.toThrow(CredentialConfigError);
    await expect((await config({ auths: { x: { auth: b64('no-colon') } } })).get('x')).rejects.toThrow(
      'is not base64 of "user:password"',
    );
  });

  it('names a credential helper that is not installed', async () => {
    const creds = await config({ credHelpers: { 'reg.example': 'missing-helper-xyz' } });
    await expect(creds.get('reg.example')).rejects.toThrow(
      /docker-credential-missing-helper-xyz \(named in .*config\.json\) is not installed or not in PATH/,
    );
  });

  it("reads a helper's identity token (user name <token>)", async () => {
    const bin = path.join(dir, 'bin');
    await fsp.mkdir(bin);
    await fsp.writeFile(
      path.join(bin, 'docker-credential-tok'),
      '#!/bin/sh\ncat >/dev/null\necho \'{"Username":"<token>","Secret":"refresh"}\'\n',
      { mode: 0o755 },
    );
    const creds = await config({ credsStore: 'tok' }, { PATH: `${bin}:${process.env.PATH ?? ''}` });
    expect(await creds.get('reg.example')).toEqual({ identityToken: 'refresh' });
  });
});
