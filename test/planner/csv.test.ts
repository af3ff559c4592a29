import { csvFields } from '../../src/planner/csv';

test.each([
  ['a,b,c', ['a', 'b', 'c']],
  ['', ['']],
  ['a,,b', ['a', '', 'b']],
  ['a,', ['a', '']],
  ['"a,b",c', ['a,b', 'c']],
  ['"say ""hi""",x', ['say "hi"', 'x']],
  ['type=bind,"target=/a b"', ['type=bind', 'target=/a b']],
])('%j', (record, fields) => {
  expect(csvFields(record, 'mounts')).toEqual(fields);
});

test.each([
  ['a"b', 'failed to parse csv mounts: parse error on line 1, column 2: bare " in non-quoted-field'],
  [
    '"ab',
    'failed to parse csv mounts: parse error on line 1, column 4: extraneous or missing " in quoted-field',
  ],
  [
    '"a"b',
    'failed to parse csv mounts: parse error on line 1, column 4: extraneous or missing " in quoted-field',
  ],
])('%j fails', (record, message) => {
  expect(() => csvFields(record, 'mounts')).toThrow(message);
});
