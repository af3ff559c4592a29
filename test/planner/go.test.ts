import {
  goAtoi,
  goList,
  goParseBool,
  goParseInt,
  goParseUint,
  goPathBase,
  goPathJoin,
  goQuotedList,
} from '../../src/planner/go';

test('goPathJoin', () => {
  expect(goPathJoin('/', 'a', '', 'b/')).toBe('/a/b');
  expect(goPathJoin('', '')).toBe('');
  expect(goPathJoin('/w', '../x')).toBe('/x');
});

test('goPathBase', () => {
  expect(goPathBase('/run/secrets/token')).toBe('token');
  expect(goPathBase('dir/')).toBe('dir');
  expect(goPathBase('/')).toBe('/');
  expect(goPathBase('')).toBe('.');
});

test('goList and goQuotedList', () => {
  expect(goList(['a', 'b c'])).toBe('[a b c]');
  expect(goQuotedList(['/bin/sh', '-c', 'echo "hi"\n'])).toBe('["/bin/sh" "-c" "echo \\"hi\\"\\n"]');
  expect(goQuotedList([])).toBe('[]');
});

test('goParseUint', () => {
  expect(goParseUint('755', 8, 32)).toBe(0o755);
  expect(goParseUint('8', 8, 32)).toBeUndefined();
  expect(goParseUint('+1', 10, 32)).toBeUndefined();
  expect(goParseUint('', 10, 32)).toBeUndefined();
  expect(goParseUint('4294967295', 10, 32)).toBe(4294967295);
  expect(goParseUint('4294967296', 10, 32)).toBeUndefined();
  expect(goParseUint('65536', 10, 16)).toBeUndefined();
});

test('goParseInt, goAtoi, goParseBool', () => {
  expect(goParseInt('-5', 32)).toEqual({ value: -5 });
  expect(goParseInt('2147483648', 32)).toEqual({
    error: 'strconv.ParseInt: parsing "2147483648": value out of range',
  });
  expect(goParseInt('1e3', 32)).toEqual({ error: 'strconv.ParseInt: parsing "1e3": invalid syntax' });
  expect(goAtoi('+3')).toBe(3);
  expect(goAtoi('03')).toBe(3);
  expect(goAtoi('build')).toBeUndefined();
  expect(goParseBool('True')).toBe(true);
  expect(goParseBool('0')).toBe(false);
  expect(goParseBool('yes')).toBeUndefined();
});
