import { levenshtein, suggest, withSuggestion } from '../../src/planner/suggest';

test('levenshtein', () => {
  expect(levenshtein('', '')).toBe(0);
  expect(levenshtein('copy', 'coppy')).toBe(1);
  expect(levenshtein('kitten', 'sitting')).toBe(3);
  expect(levenshtein('é', 'e')).toBe(1);
});

test('suggest picks the first option closer than 3', () => {
  expect(suggest('COPPY', ['ADD', 'COPY'], false)).toBe('COPY');
  expect(suggest('coppy', ['ADD', 'COPY'], false)).toBe('copy');
  expect(suggest('Coppy', ['ADD', 'COPY'], false)).toBe('copy');
  expect(suggest('frobnicate', ['ADD', 'COPY'], false)).toBeUndefined();
  expect(suggest('copy', ['COPY'], false)).toBeUndefined();
  expect(suggest('from', ['form', 'from'], true)).toBeUndefined();
  expect(suggest('Buidl', ['build'], true)).toBeUndefined();
});

test('withSuggestion', () => {
  expect(withSuggestion('unknown flag: --form', 'form', ['from'], true)).toBe(
    'unknown flag: --form (did you mean from?)',
  );
  expect(withSuggestion('x', 'zzzz', ['from'], true)).toBe('x');
});
