/** docker's table formats, as go-units and docker's CLI formatter print them. */
import { createdSince, ellipsis, formatTable, humanDuration, humanSize } from '../../src/cli/docker-format';

test('humanDuration follows go-units HumanDuration at each boundary', () => {
  const s = 1000;
  const h = 3600 * s;
  expect(
    [0.5 * s, 1 * s, 59 * s, 60 * s, 119 * s, 59 * 60 * s, 1.4 * h, 1.6 * h, 47 * h, 48 * h, 13 * 24 * h].map(
      humanDuration,
    ),
  ).toEqual([
    'Less than a second',
    '1 second',
    '59 seconds',
    'About a minute',
    'About a minute',
    '59 minutes',
    'About an hour',
    '2 hours',
    '47 hours',
    '2 days',
    '13 days',
  ]);
  expect(
    [14 * 24 * h, 59 * 24 * h, 60 * 24 * h, 729 * 24 * h, 730 * 24 * h, 3 * 365 * 24 * h].map(humanDuration),
  ).toEqual(['2 weeks', '8 weeks', '2 months', '24 months', '2 years', '3 years']);
});

test('createdSince says N/A for a missing or unreadable time', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  expect(createdSince('2024-05-01T10:00:00Z', now)).toBe('2 hours ago');
  expect(createdSince(undefined, now)).toBe('N/A');
  expect(createdSince('yesterday', now)).toBe('N/A');
  // A time in the future (a skewed clock) is no time ago.
  expect(createdSince('2024-05-01T13:00:00Z', now)).toBe('Less than a second ago');
});

test('humanSize has three significant digits and no trailing zeros', () => {
  expect([0, 12, 999, 1000, 1500, 1024, 51_234_567, 121_000_000, 4_260_000_000].map(humanSize)).toEqual([
    '0B',
    '12B',
    '999B',
    '1kB',
    '1.5kB',
    '1.02kB',
    '51.2MB',
    '121MB',
    '4.26GB',
  ]);
});

test('ellipsis cuts to the length with … as the last character; tables pad by characters', () => {
  expect(ellipsis('abcdef', 6)).toBe('abcdef');
  expect(ellipsis('abcdefg', 6)).toBe('abcde…');
  expect(
    formatTable([
      ['A', 'BB'],
      ['ccc…', 'd'],
    ]),
  ).toBe('A      BB\nccc…   d\n');
});
