import { destinationPath, mountTarget, normalizeWorkdir } from '../../src/planner/paths';

test('normalizeWorkdir', () => {
  expect(normalizeWorkdir('/', 'app')).toBe('/app');
  expect(normalizeWorkdir('/app', 'src/')).toBe('/app/src');
  expect(normalizeWorkdir('/app', '/abs/./x/')).toBe('/abs/./x/');
  expect(normalizeWorkdir('/app', '')).toBe('/app');
  expect(normalizeWorkdir('', 'x')).toBe('/x');
  expect(normalizeWorkdir('rel', 'x')).toBe('/rel/x');
  expect(normalizeWorkdir('/a', '../../..')).toBe('/');
});

test('destinationPath keeps a trailing slash or /.', () => {
  expect(destinationPath('/w', '.')).toBe('/w/');
  expect(destinationPath('/w', '')).toBe('/w/');
  expect(destinationPath('/', '.')).toBe('/');
  expect(destinationPath('/w', 'a/')).toBe('/w/a/');
  expect(destinationPath('/w', 'a/.')).toBe('/w/a/.');
  expect(destinationPath('/', './.')).toBe('/.');
  expect(destinationPath('/w', '/x')).toBe('/x');
  expect(destinationPath('/w', '/x/')).toBe('/x/');
});

test('mountTarget', () => {
  expect(mountTarget('/w', 'cache')).toBe('/w/cache');
  expect(mountTarget('/w', '/abs/')).toBe('/abs/');
  expect(mountTarget('/', '')).toBe('/');
  expect(mountTarget('/w', '')).toBe('/w');
});
