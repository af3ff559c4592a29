/**
 * A RUN's output arrives in whatever pieces the process's writes made: OutputLines joins them up to each newline,
 * keeps only the last state of a line `\r` rewrote, and never holds an unbounded line.
 */
import { finalState, MAX_PENDING_CHARS, OutputLines } from '../../src/report/output-lines';

/** Feeds the chunks one after another; every line they completed, in order. */
function lines(o: OutputLines, ...chunks: string[]): string[] {
  return chunks.flatMap((c) => o.push(c));
}

describe('finalState', () => {
  test('keeps what follows the last carriage return', () => {
    expect(finalState('10%\r20%\r100%')).toBe('100%');
  });

  test('a trailing \\r (a CRLF cut in two) is dropped, not taken as an empty rewrite', () => {
    expect(finalState('done\r')).toBe('done');
    expect(finalState('50%\rdone\r')).toBe('done');
  });

  test('a line without \\r is unchanged', () => {
    expect(finalState('plain text')).toBe('plain text');
    expect(finalState('')).toBe('');
  });
});

describe('OutputLines', () => {
  test('partial writes are joined into one line at the newline', () => {
    const o = new OutputLines();
    expect(o.push('abc')).toEqual([]);
    expect(o.push('def\n')).toEqual(['abcdef']);
    expect(o.flush()).toBeNull();
  });

  test('one chunk can complete several lines and start another', () => {
    const o = new OutputLines();
    expect(o.push('one\ntwo\nthr')).toEqual(['one', 'two']);
    expect(o.push('ee\n')).toEqual(['three']);
  });

  test('empty lines are kept as lines', () => {
    const o = new OutputLines();
    expect(o.push('a\n\n\nb\n')).toEqual(['a', '', '', 'b']);
  });

  test('a \\r-redrawn progress bar is its last state', () => {
    const o = new OutputLines();
    expect(o.push('10%\r20%\r100%\n')).toEqual(['100%']);
  });

  test('a bar redrawn across chunks is its last state', () => {
    const o = new OutputLines();
    expect(lines(o, '10%', '\r20%', '\r', '100%', '\n')).toEqual(['100%']);
  });

  test('CRLF line ends give the line without the \\r', () => {
    const o = new OutputLines();
    expect(o.push('a\r\nb\r\n')).toEqual(['a', 'b']);
  });

  test('a CRLF split into `a\\r` and `\\n` is the same line `a`', () => {
    const o = new OutputLines();
    expect(o.push('a\r')).toEqual([]);
    expect(o.current()).toBe('a');
    expect(o.push('\n')).toEqual(['a']);
    expect(o.current()).toBe('');
  });

  test('flush returns the unfinished line once, in its final state', () => {
    const o = new OutputLines();
    o.push('done\nDownloading 5%\rDownloading 80%');
    expect(o.flush()).toBe('Downloading 80%');
    expect(o.flush()).toBeNull();
  });

  test('flush with nothing pending is null', () => {
    const o = new OutputLines();
    expect(o.flush()).toBeNull();
    o.push('x\n');
    expect(o.flush()).toBeNull();
  });

  test('current() is the unfinished line as a terminal shows it, and does not consume it', () => {
    const o = new OutputLines();
    expect(o.current()).toBe('');
    o.push('line\nstep 1');
    expect(o.current()).toBe('step 1');
    o.push('\rstep 2');
    expect(o.current()).toBe('step 2');
    expect(o.current()).toBe('step 2');
    expect(o.push(' of 3\n')).toEqual(['step 2 of 3']);
    expect(o.current()).toBe('');
  });

  test('a line longer than MAX_PENDING_CHARS without a newline is emitted, not held forever', () => {
    const o = new OutputLines();
    const long = 'x'.repeat(MAX_PENDING_CHARS + 1);
    expect(o.push(long)).toEqual([long]);
    expect(o.current()).toBe('');
    expect(o.flush()).toBeNull();
    // What follows is a line of its own.
    expect(o.push('tail\n')).toEqual(['tail']);
  });

  test('a long line arriving in small chunks is emitted once it passes the bound', () => {
    const o = new OutputLines();
    const chunk = 'y'.repeat(1000);
    const emitted: string[] = [];
    let pushes = 0;
    while (emitted.length === 0) {
      emitted.push(...o.push(chunk));
      pushes++;
      expect(pushes).toBeLessThan(1000);
    }
    expect(emitted).toHaveLength(1);
    expect(emitted[0].length).toBeGreaterThan(MAX_PENDING_CHARS);
    expect(emitted[0].length).toBeLessThanOrEqual(MAX_PENDING_CHARS + chunk.length);
    expect(emitted[0]).toBe(chunk.repeat(pushes));
    expect(o.current()).toBe('');
  });

  test('a line of exactly MAX_PENDING_CHARS is still held for its newline', () => {
    const o = new OutputLines();
    const atBound = 'z'.repeat(MAX_PENDING_CHARS);
    expect(o.push(atBound)).toEqual([]);
    expect(o.push('\n')).toEqual([atBound]);
  });

  test('a bar redrawn 100k times without a newline keeps only a short pending line', () => {
    const o = new OutputLines();
    // 100k states of ~20 chars are ~2M chars: were the overwritten states kept, the pending line would pass
    // MAX_PENDING_CHARS and come out as a (huge) line long before the end.
    const emitted: string[] = [];
    for (let i = 0; i < 100_000; i++) emitted.push(...o.push(`\rprogress ${i}/100000`));
    expect(emitted).toEqual([]);
    expect(o.current()).toBe('progress 99999/100000');
    expect(o.flush()).toBe('progress 99999/100000');
  });

  test('a bar whose chunks end in \\r also stays short and ends in its last state', () => {
    const o = new OutputLines();
    const emitted: string[] = [];
    for (let i = 0; i <= 100_000; i++) emitted.push(...o.push(`${i}%\r`));
    expect(emitted).toEqual([]);
    expect(o.current()).toBe('100000%');
    expect(o.push('\n')).toEqual(['100000%']);
  });

  test('text is taken as decoded strings: multi-byte characters and a surrogate pair split in two join up', () => {
    const o = new OutputLines();
    expect(o.push('héllo wörld 日本語 ')).toEqual([]);
    // 🎉 is U+1F389, the surrogate pair \ud83c\udf89: a chunk boundary between its halves is joined like any other.
    expect(o.push('\ud83c')).toEqual([]);
    expect(o.push('\udf89\n')).toEqual(['héllo wörld 日本語 🎉']);
  });
});
