import { canonicalJson } from '../../src/store/canonical-json';

/** Cache keys hash this text: equal values must give the same bytes, and the fast path must not change them. */
describe('canonicalJson', () => {
  test('sorts object keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: null }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":null,"z":1}]},"b":1}',
    );
  });

  test('a listing of flat rows serialises exactly as value by value', () => {
    const rows = [
      ['src/a.ts', 'file', 0o644, 0, 0, 12, '', 'ab'.repeat(32)],
      ['src/ü "q"', 'symlink', 0o777, 0, 0, 0, '../x\\y', ''],
      [true, null, -0, 1e21],
    ];
    const slow = `[${rows.map((r) => `[${r.map((v) => JSON.stringify(v)).join(',')}]`).join(',')}]`;
    expect(canonicalJson(rows)).toBe(slow);
  });

  test('arrays holding objects still get sorted keys', () => {
    expect(canonicalJson([['x'], { b: 1, a: 2 }])).toBe('[["x"],{"a":2,"b":1}]');
  });

  test('NaN and Infinity are refused anywhere', () => {
    expect(() => canonicalJson([[1, Number.NaN]])).toThrow(TypeError);
    expect(() => canonicalJson({ a: Infinity })).toThrow(TypeError);
  });
});
