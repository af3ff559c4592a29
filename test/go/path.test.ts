import { goClean } from '../../src/go/path';

test.each([
  ['', '.'],
  ['/', '/'],
  ['a/b/', 'a/b'],
  ['/a//b/./c/..', '/a/b'],
  ['../../x', '../../x'],
  ['/../x', '/x'],
  ['a/../..', '..'],
])('goClean(%j) = %j', (input, want) => {
  expect(goClean(input)).toBe(want);
});
