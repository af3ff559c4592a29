import { InvalidReferenceError } from '../../src/image/errors';
import {
  familiarName,
  normalizeReference,
  parseDockerReference,
  parseNormalizedNamed,
  parseReference,
} from '../../src/image/reference';
import { UserError } from '../../src/errors';

const HEX = 'a'.repeat(64);

describe('image references', () => {
  it.each([
    ['myapp', 'docker.io/library/myapp:latest'],
    ['myapp:1.0', 'docker.io/library/myapp:1.0'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/app', 'docker.io/library/app:latest'],
    ['index.docker.io/user/app:v', 'docker.io/user/app:v'],
    ['docker.io/library/app', 'docker.io/library/app:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/team/app:dev', 'localhost:5000/team/app:dev'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app:latest'],
    ['[::1]:5000/app:tag', '[::1]:5000/app:tag'],
    ['ghcr.io/o/r/deep/path:x_Y.z-1', 'ghcr.io/o/r/deep/path:x_Y.z-1'],
    ['Registry.Example/app', 'Registry.Example/app:latest'],
    ['a__b/c--d/e.f', 'docker.io/a__b/c--d/e.f:latest'],
    [`app@sha256:${HEX}`, `docker.io/library/app@sha256:${HEX}`],
    [`app:1@sha256:${HEX}`, `docker.io/library/app:1@sha256:${HEX}`],
  ])('normalises %s to %s', (input, expected) => {
    expect(normalizeReference(input)).toBe(expected);
  });

  it.each([
    ['', /invalid reference format/], // as distribution: "" normalises to docker.io/library/
    ['MyApp', /must be lowercase/],
    ['docker.io/User/app', /must be lowercase/],
    [HEX, /64-byte hexadecimal/],
    ['app:', /invalid reference format/],
    ['app:bad:tag', /invalid reference format/],
    ['-app', /invalid reference format/],
    ['app__', /invalid reference format/],
    ['a/b//c', /invalid reference format/],
    [`app:${'t'.repeat(129)}`, /invalid reference format/],
    [`app@sha256:${'a'.repeat(63)}`, /invalid checksum digest length/],
    [`app@sha256:${'A'.repeat(64)}`, /invalid checksum digest format/],
    [`app@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
    [`${'x'.repeat(250)}/app`, /not be more than 255 characters/],
  ])('rejects %s', (input, message) => {
    expect(() => parseDockerReference(input)).toThrow(InvalidReferenceError);
    expect(() => parseDockerReference(input)).toThrow(message);
    expect(() => parseDockerReference(input)).toThrow(UserError);
  });

  it('parses components without normalising', () => {
    expect(() => parseReference('')).toThrow(/at least one component/);
    expect(parseReference('example.com:8080/a/b:t')).toEqual({
      domain: 'example.com:8080',
      path: 'a/b',
      tag: 't',
    });
    expect(parseReference('a/b')).toEqual({ domain: 'a', path: 'b' }); // the grammar alone cannot tell
    expect(parseNormalizedNamed('a/b')).toEqual({ domain: 'docker.io', path: 'a/b' });
    expect(parseNormalizedNamed('ubuntu')).toEqual({ domain: 'docker.io', path: 'library/ubuntu' });
  });

  it('gives Docker familiar names', () => {
    expect(familiarName(parseDockerReference('ubuntu'))).toBe('ubuntu:latest');
    expect(familiarName(parseDockerReference('docker.io/user/app:1'))).toBe('user/app:1');
    expect(familiarName(parseDockerReference('docker.io/library/a/b'))).toBe('library/a/b:latest');
    expect(familiarName(parseDockerReference('quay.io/x/y:z'))).toBe('quay.io/x/y:z');
  });
});
