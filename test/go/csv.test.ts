import { CsvError, csvRecord } from '../../src/go/csv';

test.each([
  ['a,b', ['a', 'b']],
  ['', ['']],
  ['a,', ['a', '']],
  ['"x,y",z', ['x,y', 'z']],
  ['"say ""hi"""', ['say "hi"']],
  ['type=cache,"id=a,b"', ['type=cache', 'id=a,b']],
])('csvRecord(%j) = %j', (record, fields) => {
  expect(csvRecord(record)).toEqual(fields);
});

test.each([
  ['a"b', 'bare " in non-quoted-field', 2],
  ['"open', 'extraneous or missing " in quoted-field', 6],
  ['"x"y', 'extraneous or missing " in quoted-field', 4],
])('csvRecord(%j) fails as encoding/csv: %s at column %d', (record, reason, column) => {
  expect(() => csvRecord(record)).toThrow(CsvError);
  try {
    csvRecord(record);
  } catch (err) {
    expect(err).toMatchObject({ reason, column });
  }
});
