import { BuildError } from '../../../src/errors';
import { StageFs } from '../../../src/executor/stage-fs';
import type { FsEntry } from '../../../src/layers/listing';
import { workdirEntries } from '../../../src/executor/ops/workdir';

const dir = (path: string, mode = 0o755, uid = 0, gid = 0): FsEntry => ({
  path,
  type: 'dir',
  mode,
  uid,
  gid,
});
const link = (path: string, linkTarget: string): FsEntry => ({
  path,
  type: 'symlink',
  mode: 0o777,
  uid: 0,
  gid: 0,
  linkTarget,
});

/** A merged-/usr layout: /lib -> usr/lib, /var/run -> /run, and a file /etc/passwd. */
const fs = StageFs.empty().withLayer([
  dir('usr', 0o755),
  dir('usr/lib', 0o750, 0, 4),
  link('lib', 'usr/lib'),
  dir('var'),
  link('var/run', '/run'),
  dir('run', 0o755),
  dir('etc'),
  { path: 'etc/passwd', type: 'file', mode: 0o644, uid: 0, gid: 0 },
]);

const lines = (path: string): string[] =>
  workdirEntries(path, fs, { uid: 1000, gid: 1000 }, 0).map(
    (e) => `${e.path} ${e.mode.toString(8)} ${e.uid}:${e.gid}`,
  );

describe('workdirEntries', () => {
  it('follows a symlinked parent inside the image and leaves the link alone', () => {
    expect(lines('/lib/myapp')).toEqual(['usr 755 0:0', 'usr/lib 750 0:4', 'usr/lib/myapp 755 1000:1000']);
    expect(lines('/var/run/app')).toEqual(['run 755 0:0', 'run/app 755 1000:1000']);
  });

  it('adds nothing for a directory reached through a link', () => {
    expect(lines('/var/run')).toEqual([]);
    expect(lines('/lib')).toEqual([]);
  });

  it('refuses a path through a file', () => {
    expect(() => lines('/etc/passwd/x')).toThrow(BuildError);
    expect(() => lines('/etc/passwd/x')).toThrow(
      'WORKDIR /etc/passwd/x: /etc/passwd exists and is not a directory',
    );
  });
});
