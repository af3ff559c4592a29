/** `--cache-to` / `--cache-from` values in docker's syntax, valid and not. */
import { parseCacheFrom, parseCacheTo } from '../../../src/cache/transfer/cache-spec';
import type { CacheLocation, CacheToSpec } from '../../../src/cache/transfer/types';
import { UserError } from '../../../src/errors';

describe('parseCacheTo', () => {
  const valid: [string, CacheToSpec][] = [
    [
      'type=local,dest=/ci/cache',
      { location: { type: 'local', dir: '/ci/cache', tag: 'latest' }, mode: 'max', cacheMounts: false },
    ],
    [
      'type=local,dest=cache,mode=min,cache-mounts=true,tag=main',
      { location: { type: 'local', dir: 'cache', tag: 'main' }, mode: 'min', cacheMounts: true },
    ],
    [
      '"type=local","dest=/ci/a,b"',
      { location: { type: 'local', dir: '/ci/a,b', tag: 'latest' }, mode: 'max', cacheMounts: false },
    ],
    [
      'type=registry,ref=127.0.0.1:5000/app:cache,mode=max,cache-mounts=false',
      { location: { type: 'registry', ref: '127.0.0.1:5000/app:cache' }, mode: 'max', cacheMounts: false },
    ],
    [
      'Type=registry,REF=ghcr.io/org/app:buildcache',
      { location: { type: 'registry', ref: 'ghcr.io/org/app:buildcache' }, mode: 'max', cacheMounts: false },
    ],
    ['type=inline', { location: { type: 'inline' }, mode: 'min', cacheMounts: false }],
    [
      // BuildKit's format knobs (copied CI snippets) are accepted and ignored; ignore-error is honoured.
      'type=registry,ref=r.example/app:c,image-manifest=true,oci-mediatypes=true,compression=zstd,ignore-error=true',
      {
        location: { type: 'registry', ref: 'r.example/app:c' },
        mode: 'max',
        cacheMounts: false,
        ignoreError: true,
      },
    ],
    [
      'type=inline,mode=min,cache-mounts=false',
      { location: { type: 'inline' }, mode: 'min', cacheMounts: false },
    ],
  ];
  it.each(valid)('%s', (spec, expected) => {
    expect(parseCacheTo(spec)).toEqual(expected);
  });

  const invalid: [string, RegExp][] = [
    ['', /value is empty/],
    ['dest=/ci/cache', /type= is required/],
    ['type=s3,bucket=x', /unknown type "s3"/],
    ['type=local', /dest=DIR is required/],
    ['type=local,dest=', /dest=DIR is required/],
    ['type=local,src=/ci/cache', /unknown key "src" for type=local/],
    ['type=local,dest=/x,mode=all', /mode=all is not min or max/],
    ['type=local,dest=/x,cache-mounts=yes', /cache-mounts=yes is not true or false/],
    ['type=local,dest=/x,tag=a/b', /tag "a\/b" is not a valid tag/],
    ['type=local,dest=/x,dest=/y', /dest= is given twice/],
    ['type=local,dest=/x,compresion=zstd', /unknown key "compresion"/],
    ['type=registry', /ref=REF is required/],
    ['type=registry,ref=Not A Ref', /invalid reference "Not A Ref"/],
    ['type=registry,ref=x,tag=y', /unknown key "tag" for type=registry/],
    ['type=inline,mode=max', /type=inline supports only mode=min/],
    ['type=inline,cache-mounts=true', /type=inline cannot carry cache mounts/],
    ['type=inline,ref=x', /unknown key "ref"/],
    ['type=local,dest', /"dest" is not a key=value field/],
    ['"type=local,dest=/x', /column 20: extraneous or missing " in quoted-field/],
    ['type=local,dest=/x"y', /bare " in non-quoted-field/],
  ];
  it.each(invalid)('rejects %j', (spec, message) => {
    let error: unknown;
    try {
      parseCacheTo(spec);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    const text = (error as UserError).message;
    expect(text).toMatch(/^invalid --cache-to /);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });
});

describe('parseCacheFrom', () => {
  const valid: [string, CacheLocation][] = [
    ['type=local,src=/ci/cache', { type: 'local', dir: '/ci/cache', tag: 'latest' }],
    ['type=local,src=/ci/cache,tag=main', { type: 'local', dir: '/ci/cache', tag: 'main' }],
    ['type=registry,ref=127.0.0.1:5000/app:cache', { type: 'registry', ref: '127.0.0.1:5000/app:cache' }],
    ['127.0.0.1:5000/app:cache', { type: 'registry', ref: '127.0.0.1:5000/app:cache' }],
    ['myapp', { type: 'registry', ref: 'myapp' }],
    [
      'ghcr.io/org/app@sha256:' + 'a'.repeat(64),
      { type: 'registry', ref: 'ghcr.io/org/app@sha256:' + 'a'.repeat(64) },
    ],
  ];
  it.each(valid)('%s', (spec, expected) => {
    expect(parseCacheFrom(spec)).toEqual(expected);
  });

  const invalid: [string, RegExp][] = [
    ['', /value is empty/],
    ['type=inline', /unknown type "inline"/],
    ['type=local', /src=DIR is required/],
    ['type=local,dest=/ci/cache', /unknown key "dest" for type=local/],
    ['type=local,src=/x,mode=max', /unknown key "mode"/],
    ['type=registry', /ref=REF is required/],
    ['type=gha', /unknown type "gha"/],
    ['app/Web', /must be lowercase/],
    ['app:bad tag', /invalid reference/],
  ];
  it.each(invalid)('rejects %j', (spec, message) => {
    expect(() => parseCacheFrom(spec)).toThrow(UserError);
    expect(() => parseCacheFrom(spec)).toThrow(/^invalid --cache-from /);
    expect(() => parseCacheFrom(spec)).toThrow(message);
  });
});
