import { applyChmod } from '../../src/planner';
import { parseChmod } from '../../src/planner/chmod';

describe('parseChmod', () => {
  test('octal', () => {
    expect(parseChmod('755')).toEqual({ kind: 'octal', mode: 0o755 });
    expect(parseChmod('0644')).toEqual({ kind: 'octal', mode: 0o644 });
    expect(parseChmod('7777')).toEqual({ kind: 'octal', mode: 0o7777 });
  });

  test('symbolic', () => {
    for (const spec of [
      'u+x',
      'go-w',
      'a=r',
      'u=rwx,go=rx',
      '+X',
      'u=rwX,go=rX',
      'g=u',
      'o+t',
      'ug+s',
      '=',
      'u+x-w',
    ]) {
      expect(parseChmod(spec)).toEqual({ kind: 'symbolic', spec });
    }
  });

  test.each(['8', '64a', '10000', '0o755'])('%j is not octal', (v) => {
    expect(() => parseChmod(v)).toThrow(
      `invalid chmod parameter: '${v}'. it should be octal string and between 0 and 07777`,
    );
  });

  test.each(['zz', 'u', 'u+x,', 'a+q', 'x+u', 'u!x', '-1'])('%j is not a symbolic mode', (v) => {
    expect(() => parseChmod(v)).toThrow(`invalid chmod parameter: '${v}': invalid syntax`);
  });
});

describe('applyChmod', () => {
  const apply = (spec: string, mode: number, isDir = false): string =>
    applyChmod(parseChmod(spec), mode, isDir).toString(8).padStart(4, '0');

  test.each([
    ['0755', 0o600, false, '0755'],
    ['u+x', 0o644, false, '0744'],
    ['go-w', 0o777, false, '0755'],
    ['a=r', 0o777, false, '0444'],
    ['u=rwx,go=rx', 0o600, false, '0755'],
    ['+x', 0o644, false, '0755'],
    ['+w', 0o444, false, '0644'], // the umask (022) limits `+w` without a user class to the owner
    ['+X', 0o644, false, '0644'],
    ['+X', 0o744, false, '0755'],
    ['+X', 0o644, true, '0755'],
    // As in BSD setmode, X only counts with `+`.
    ['u=rwX,go=rX', 0o600, true, '0644'],
    ['u=rw,go=r,a+X', 0o600, true, '0755'],
    ['g=u', 0o640, false, '0660'],
    ['o=g-w', 0o674, false, '0675'],
    ['u+s,g+s', 0o755, false, '6755'],
    ['+t', 0o777, true, '1777'],
    ['o+t', 0o777, true, '0777'], // sticky is ignored for `o` alone
    ['=', 0o777, false, '0000'],
  ])('%s on %o (dir %s) → %s', (spec, mode, isDir, want) => {
    expect(apply(spec, mode, isDir)).toBe(want);
  });
});
