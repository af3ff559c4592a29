import { formatPlatform, hostPlatform, normalizePlatform } from '../../src/platform';
import { UserError } from '../../src/errors';
import { parsePlatform, parsePlatformOption } from '../../src/planner';

const HOST = { os: 'linux', architecture: 'amd64' };

describe('parsePlatform', () => {
  test.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/armhf', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/i386', { os: 'linux', architecture: '386' }],
    ['Linux/AMD64', { os: 'linux', architecture: 'amd64' }],
    ['arm64', { os: 'linux', architecture: 'arm64' }],
    ['linux', { os: 'linux', architecture: 'amd64' }],
    ['windows/amd64', { os: 'windows', architecture: 'amd64' }],
    ['linux/riscv64', { os: 'linux', architecture: 'riscv64' }],
  ])('%s', (spec, want) => {
    expect(parsePlatform(spec, HOST)).toEqual(want);
  });

  test.each(['', 'foo', 'linux/', 'linux/amd64/v1/x', 'linux/am d64'])('%j fails', (spec) => {
    expect(() => parsePlatform(spec, HOST)).toThrow(
      `"${spec}": unknown operating system or architecture: invalid argument`,
    );
  });
});

test('formatPlatform', () => {
  expect(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
  expect(formatPlatform(HOST)).toBe('linux/amd64');
});

test('normalizePlatform', () => {
  expect(normalizePlatform({ os: 'macos', architecture: 'x86-64', variant: 'v1' })).toEqual({
    os: 'darwin',
    architecture: 'amd64',
  });
  expect(normalizePlatform({ os: 'linux', architecture: 'armel' })).toEqual({
    os: 'linux',
    architecture: 'arm',
    variant: 'v6',
  });
});

test('hostPlatform maps Node architectures to Go names', () => {
  const p = hostPlatform();
  expect(p.os).toBe('linux');
  expect(p.architecture).not.toBe('x64');
  if (process.arch === 'x64') expect(p.architecture).toBe('amd64');
  if (process.arch === 'arm64') expect(p.architecture).toBe('arm64');
});

test('parsePlatformOption is for the CLI: UserError on a bad value', () => {
  expect(parsePlatformOption('linux/arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
  expect(() => parsePlatformOption('nope')).toThrow(UserError);
  expect(() => parsePlatformOption('nope')).toThrow(
    'invalid platform nope: "nope": unknown operating system or architecture: invalid argument',
  );
});
