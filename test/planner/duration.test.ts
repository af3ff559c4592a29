import { DurationError, formatGoDuration, parseGoDuration } from '../../src/planner/duration';

describe('parseGoDuration', () => {
  test.each([
    ['0', 0n],
    ['+0', 0n],
    ['5s', 5_000_000_000n],
    ['1m30s', 90_000_000_000n],
    ['1.5h', 5_400_000_000_000n],
    ['300ms', 300_000_000n],
    ['10us', 10_000n],
    ['10\u00b5s', 10_000n],
    ['10\u03bcs', 10_000n],
    ['7ns', 7n],
    ['.5s', 500_000_000n],
    ['1.s', 1_000_000_000n],
    ['-1.5s', -1_500_000_000n],
    ['1h2m3s4ms5us6ns', 3_723_004_005_006n],
    ['2562047h47m16.854775807s', 9_223_372_036_854_775_807n],
  ])('%s', (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns);
  });

  test.each([
    ['', 'time: invalid duration ""'],
    ['-', 'time: invalid duration "-"'],
    ['s', 'time: invalid duration "s"'],
    ['.s', 'time: invalid duration ".s"'],
    ['5', 'time: missing unit in duration "5"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['1sec', 'time: unknown unit "sec" in duration "1sec"'],
    ['3000000h', 'time: invalid duration "3000000h"'],
    ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'],
  ])('%j fails', (text, message) => {
    expect(() => parseGoDuration(text)).toThrow(DurationError);
    expect(() => parseGoDuration(text)).toThrow(message);
  });
});

describe('formatGoDuration', () => {
  test.each([
    [0, '0s'],
    [1, '1ns'],
    [1500, '1.5\u00b5s'],
    [300_000_000, '300ms'],
    [1_000_000_000, '1s'],
    [1_500_000_000, '1.5s'],
    [90_000_000_000, '1m30s'],
    [300_000_000_000, '5m0s'],
    [3_600_000_000_000, '1h0m0s'],
    [-2_000_000_000, '-2s'],
    [9_223_372_036_854_775_807n, '2562047h47m16.854775807s'],
  ])('%s', (ns, text) => {
    expect(formatGoDuration(ns)).toBe(text);
  });
});
