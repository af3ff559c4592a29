import { parseImageRef } from '../../src/planner';

describe('parseImageRef', () => {
  test.each([
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.19', 'docker.io/library/alpine:3.19'],
    ['library/alpine', 'docker.io/library/alpine:latest'],
    ['user/app:v1', 'docker.io/user/app:v1'],
    ['index.docker.io/user/app', 'docker.io/user/app:latest'],
    ['ghcr.io/o/r', 'ghcr.io/o/r:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/a/b:t', 'localhost:5000/a/b:t'],
    ['[::1]:5000/app', '[::1]:5000/app:latest'],
    ['Registry.Example.com/app', 'Registry.Example.com/app:latest'],
    ['alpine:Tag_1.x-y', 'docker.io/library/alpine:Tag_1.x-y'],
    [`alpine@sha256:${'0'.repeat(64)}`, `docker.io/library/alpine@sha256:${'0'.repeat(64)}`],
    [`alpine:3@sha256:${'0'.repeat(64)}`, `docker.io/library/alpine:3@sha256:${'0'.repeat(64)}`],
    ['a__b/c.d-e', 'docker.io/a__b/c.d-e:latest'],
  ])('%s → %s', (ref, normalized) => {
    expect(parseImageRef(ref).normalized).toBe(normalized);
  });

  test('parts', () => {
    expect(parseImageRef('ghcr.io/o/r:1')).toEqual({
      name: 'ghcr.io/o/r',
      tag: '1',
      digest: undefined,
      normalized: 'ghcr.io/o/r:1',
    });
  });

  test.each([
    ['Alpine', 'invalid reference format: repository name (library/Alpine) must be lowercase'],
    ['user/App', 'invalid reference format: repository name (user/App) must be lowercase'],
    ['alpine:', 'invalid reference format'],
    ['alpine::1', 'invalid reference format'],
    ['-alpine', 'invalid reference format'],
    ['alpine@sha256:short', 'invalid reference format'],
    [
      'a'.repeat(64),
      `invalid repository name (${'a'.repeat(64)}), cannot specify 64-byte hexadecimal strings`,
    ],
    [`x/${'a'.repeat(260)}`, 'repository name must not be more than 255 characters'],
  ])('%j fails: %s', (ref, message) => {
    expect(() => parseImageRef(ref)).toThrow(message);
  });
});
