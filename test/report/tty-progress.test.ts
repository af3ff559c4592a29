/**
 * `--progress tty`: the live view, checked on the screen it leaves. A tiny terminal below applies what the view
 * writes (ansi-escapes' eraseLines: erase line, cursor up, cursor to column 1; newlines; SGR colours kept as text)
 * and fails on any other escape sequence, so output that leaked a clear-screen would break it.
 */
import stringWidth from 'string-width';
import stripAnsi from 'strip-ansi';
import type { BuildEvent } from '../../src/events';
import { hit, miss, output, start, step } from '../helpers/build-events';
import type { ProgressView } from '../../src/report/progress-view';
import { ttyProgress, WINDOW_LINES } from '../../src/report/tty-progress';

/** Rows of text and a cursor; `\x1b[…m` is kept in the row as it came (it takes no columns on a real screen). */
class Screen {
  private rows: string[] = [''];
  private row = 0;
  private col = 0;

  write(text: string): void {
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      if (ch === '\x1b') {
        // eslint-disable-next-line no-control-regex -- a CSI sequence is what the screen parses
        const m = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(text.slice(i));
        if (!m) throw new Error(`unexpected escape at ${JSON.stringify(text.slice(i, i + 10))}`);
        this.control(m[1], m[2], m[0]);
        i += m[0].length;
      } else if (ch === '\n') {
        this.row++;
        this.col = 0;
        if (this.row === this.rows.length) this.rows.push('');
        i++;
      } else if (ch === '\r' || ch === '\t' || ch < ' ' || ch === '\x7f') {
        throw new Error(`unexpected control character ${JSON.stringify(ch)}`);
      } else {
        const end = nextSpecial(text, i);
        this.put(text.slice(i, end));
        i = end;
      }
    }
  }

  /** The rows with the trailing empty ones (the erased end of the live area, the cursor's row) left off. */
  lines(): string[] {
    const rows = [...this.rows];
    while (rows.length > 0 && rows[rows.length - 1] === '') rows.pop();
    return rows;
  }

  /** The rows as they look: colours removed. */
  visible(): string[] {
    return this.lines().map((l) => stripAnsi(l));
  }

  private control(params: string, final: string, seq: string): void {
    if (seq === '\x1b[2K') {
      this.rows[this.row] = '';
    } else if (seq === '\x1b[1A') {
      this.row = Math.max(0, this.row - 1);
    } else if (seq === '\x1b[G') {
      this.col = 0;
    } else if (final === 'm' && /^\d+$/.test(params)) {
      this.put(seq);
    } else {
      throw new Error(`unexpected escape sequence ${JSON.stringify(seq)}`);
    }
  }

  private put(s: string): void {
    const r = this.rows[this.row];
    this.rows[this.row] = r.slice(0, this.col).padEnd(this.col) + s + r.slice(this.col + s.length);
    this.col += s.length;
  }
}

function nextSpecial(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const ch = text[i];
    if (ch < ' ' || ch === '\x7f') return i;
  }
  return text.length;
}

/** A warning redraws the live area (output alone waits for the timer, which these tests do not run). */
const warning = (message = 'note'): BuildEvent => ({ type: 'warning', message });

interface Term {
  view: ProgressView;
  screen: Screen;
  /** Every write the view made, as it made it. */
  writes: string[];
  clock: { ms: number };
}

function terminal(colour: boolean, tick = false, columns = 80): Term {
  const screen = new Screen();
  const writes: string[] = [];
  const clock = { ms: 1000 };
  const view = ttyProgress(
    {
      write: (t) => {
        writes.push(t);
        screen.write(t);
      },
      columns: () => columns,
      colour,
    },
    tick ? { tick: true } : { now: () => clock.ms, tick: false },
  );
  return { view, screen, writes, clock };
}

function feed(view: ProgressView, events: readonly BuildEvent[]): void {
  for (const e of events) view.onEvent(e);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** SGR codes the palette uses: colours, bold, dim. */
// eslint-disable-next-line no-control-regex -- the escape sequences are what is looked for
const SGR = /\x1b\[(3\d|1|2)m/;

test('the timers tick as the clock advances: the header and the running step show the time so far', () => {
  const t = terminal(false);
  const s = step();
  feed(t.view, [start(s)]);
  const first = t.screen.visible();
  expect(first).toHaveLength(2);
  expect(first[0]).toBe('[+] Building 0.00s (0 done, 1 running)');
  expect(first[1]).toMatch(/^=> \[2\/3\] RUN make +0\.00s$/);

  t.clock.ms += 1500;
  feed(t.view, [warning('first')]);
  const second = t.screen.visible();
  expect(second).toEqual([
    'WARNING: first',
    '[+] Building 1.50s (0 done, 1 running)',
    expect.stringMatching(/^=> \[2\/3\] RUN make +1\.50s$/),
  ]);

  t.clock.ms += 12_250;
  feed(t.view, [warning('second')]);
  expect(t.screen.visible()).toEqual([
    'WARNING: first',
    'WARNING: second',
    '[+] Building 13.8s (0 done, 1 running)',
    expect.stringMatching(/^=> \[2\/3\] RUN make +13\.8s$/),
  ]);
});

test('the timer sits at the right edge of the line', () => {
  const t = terminal(false);
  feed(t.view, [start(step())]);
  const stepLine = t.screen.visible()[1];
  expect(stringWidth(stepLine)).toBe(79);
});

test(`a running step shows its last ${WINDOW_LINES} output lines, its unfinished line among them`, () => {
  const t = terminal(false);
  const s = step();
  feed(t.view, [start(s)]);
  for (let i = 1; i <= 10; i++) feed(t.view, [output(s, `line ${i}\n`)]);
  feed(t.view, [warning()]);
  expect(t.screen.visible().slice(1)).toEqual([
    '[+] Building 0.00s (0 done, 1 running)',
    expect.stringMatching(/^=> \[2\/3\] RUN make +0\.00s$/),
    '   line 5',
    '   line 6',
    '   line 7',
    '   line 8',
    '   line 9',
    '   line 10',
  ]);

  feed(t.view, [output(s, 'downloading 10%\rdownloading 40%'), warning()]);
  const live = t.screen.visible().slice(-WINDOW_LINES);
  expect(live).toEqual([
    '   line 6',
    '   line 7',
    '   line 8',
    '   line 9',
    '   line 10',
    '   downloading 40%',
  ]);
});

test('after step-done the window is gone and the step is one line', () => {
  const t = terminal(false);
  const s = step();
  feed(t.view, [start(s), output(s, 'a\nb\nc\n'), warning('w')]);
  expect(t.screen.visible()).toHaveLength(1 + 2 + 3);
  t.clock.ms += 1234;
  feed(t.view, [miss(s, 1234, 'the command changed')]);
  expect(t.screen.visible()).toEqual(['WARNING: w', '[2/3] RUN make  1.23s  (miss: the command changed)']);
});

test('a step finishing while another runs: its line scrolls up, the other keeps its window', () => {
  const t = terminal(false);
  const a = step({ stageIndex: 0, index: 2, instruction: 'RUN make' });
  const b = step({ stageIndex: 1, index: 3, instruction: 'RUN test' });
  feed(t.view, [start(a), start(b), output(a, 'from a\n'), output(b, 'from b\n'), hit(a)]);
  expect(t.screen.visible()).toEqual([
    '[2/3] RUN make  CACHED',
    '[+] Building 0.00s (1 done, 1 running)',
    expect.stringMatching(/^=> \[3\/3\] RUN test +0\.00s$/),
    '   from b',
  ]);
});

describe('no line is wider than the terminal less one column', () => {
  for (const colour of [false, true]) {
    test(`colour: ${colour}`, () => {
      const t = terminal(colour);
      const long = step({ instruction: `RUN ${'i'.repeat(300)}` });
      const other = step({ stageIndex: 1, index: 3, instruction: `RUN ${'j'.repeat(300)}` });
      const widest = (): number => Math.max(0, ...t.screen.lines().map((l) => stringWidth(stripAnsi(l))));
      feed(t.view, [start(long), start(other)]);
      expect(widest()).toBeLessThanOrEqual(79);
      feed(t.view, [
        output(long, `${'o'.repeat(300)}\n`),
        output(long, `${'日本語'.repeat(100)}\n`),
        output(other, `${'p'.repeat(300)}`),
        warning(`a long warning ${'w '.repeat(150)}`),
      ]);
      expect(widest()).toBeLessThanOrEqual(79);
      // The long output is there, cut: something was drawn, not dropped.
      expect(t.screen.visible().some((l) => l.startsWith('   ooo') && l.endsWith('…'))).toBe(true);
      expect(t.screen.visible().some((l) => l.startsWith('   日本語') && l.endsWith('…'))).toBe(true);
      feed(t.view, [miss(long, 5000, `a file changed: ${'dir/'.repeat(80)}file.ts`)]);
      expect(widest()).toBeLessThanOrEqual(79);
      t.view.end();
      expect(widest()).toBeLessThanOrEqual(79);
      // The cut done line still shows the step's cache state and time.
      expect(t.screen.visible().some((l) => l.startsWith('[2/3] RUN iii') && l.includes('5.00s'))).toBe(true);
      expect(t.screen.visible().some((l) => l.startsWith('=> ERROR [3/3] RUN jjj'))).toBe(true);
    });
  }
});

test('the width follows the terminal: a narrower one gets narrower lines', () => {
  const t = terminal(false, false, 40);
  const s = step({ instruction: `RUN ${'x'.repeat(100)}` });
  feed(t.view, [start(s), output(s, `${'y'.repeat(100)}\n`), warning()]);
  const widths = t.screen.visible().map((l) => stringWidth(l));
  expect(Math.max(...widths)).toBeLessThanOrEqual(39);
  expect(widths).toContain(39);
});

test('colour: false writes no SGR colour codes', () => {
  const t = terminal(false);
  const s = step();
  const other = step({ stageIndex: 1, index: 3 });
  feed(t.view, [start(s), start(other), output(s, 'x\n'), warning(), hit(s), miss(other, 10, 'y')]);
  const running = step({ stageIndex: 2, index: 1 });
  feed(t.view, [start(running), output(running, 'z\n')]);
  t.view.end();
  expect(t.writes.join('')).not.toMatch(SGR);
});

test('colour: true paints the header, timers, window, done states and errors', () => {
  const t = terminal(true);
  const s = step();
  feed(t.view, [start(s), output(s, 'x\n'), warning()]);
  const live = t.screen.lines();
  expect(live.find((l) => l.includes('[+] Building'))).toContain('\x1b[1m');
  expect(live.find((l) => l.startsWith('=> '))).toContain('\x1b[34m');
  expect(live.find((l) => stripAnsi(l) === '   x')).toContain('\x1b[2m');
  feed(t.view, [hit(s)]);
  expect(t.screen.lines().find((l) => stripAnsi(l).endsWith('CACHED'))).toContain('\x1b[32m');
  const failing = step({ stageIndex: 1 });
  feed(t.view, [start(failing)]);
  t.view.end();
  expect(t.screen.lines().find((l) => stripAnsi(l).startsWith('=> ERROR'))).toContain('\x1b[31m');
});

test('escape sequences, control characters and tabs in the output are made safe in the window', () => {
  const t = terminal(false);
  const s = step();
  feed(t.view, [
    start(s),
    output(s, '\x1b[2J\x1b[Hcleared?\n'),
    output(s, 'a\tb\x07\x08c\n'),
    output(s, '\x1b[31mred\x1b[0m \x1b]0;title\x07text\n'),
    warning(),
  ]);
  // The screen would have thrown on a clear-screen, a cursor move, a bell or a tab reaching it.
  expect(t.screen.visible().slice(-3)).toEqual(['   cleared?', '   a    bc', '   red text']);
  expect(t.writes.join('')).not.toContain('\x1b[2J');
  expect(t.writes.join('')).not.toContain('\t');
});

test('end() with a step still running leaves an ERROR line with its last output lines', () => {
  const t = terminal(false);
  const s = step();
  feed(t.view, [start(s)]);
  for (let i = 1; i <= 8; i++) feed(t.view, [output(s, `out ${i}\n`)]);
  feed(t.view, [output(s, 'fatal: no newline', 'stderr')]);
  t.clock.ms += 3000;
  t.view.end();
  expect(t.screen.visible()).toEqual([
    expect.stringMatching(/^=> ERROR \[2\/3\] RUN make +3\.00s$/),
    '   out 4',
    '   out 5',
    '   out 6',
    '   out 7',
    '   out 8',
    '   fatal: no newline',
  ]);
});

test('end() after every step finished leaves the finished lines and no live area', () => {
  const t = terminal(false);
  const s = step();
  feed(t.view, [start(s), output(s, 'x\n'), hit(s)]);
  t.view.end();
  expect(t.screen.visible()).toEqual(['[2/3] RUN make  CACHED']);
});

test('with tick: the live area is redrawn on a timer, the times changing, until end()', async () => {
  const t = terminal(false, true);
  const s = step();
  feed(t.view, [start(s), output(s, 'working\n')]);
  await sleep(350);
  const frames = t.writes.length;
  // The first frame from step-start, then one per 100ms tick.
  expect(frames).toBeGreaterThanOrEqual(3);
  const headers = new Set(t.writes.map((w) => /\[\+\] Building (\S+)/.exec(w)?.[1]));
  expect(headers.size).toBeGreaterThanOrEqual(3);
  // A tick shows output that no event redrew for.
  expect(t.screen.visible()).toContain('   working');

  t.view.end();
  const atEnd = t.writes.length;
  await sleep(300);
  expect(t.writes.length).toBe(atEnd);
});

test('with tick: the timer stops when no step is running', async () => {
  const t = terminal(false, true);
  const s = step();
  feed(t.view, [start(s)]);
  await sleep(150);
  feed(t.view, [hit(s)]);
  const afterDone = t.writes.length;
  await sleep(300);
  expect(t.writes.length).toBe(afterDone);
  t.view.end();
});

test("a restart: the abandoned attempt's output and finished steps no longer count in the live area", () => {
  const t = terminal(false);
  const s = step();
  const from = step({ index: 1, instruction: 'FROM alpine' });
  feed(t.view, [
    start(from),
    hit(from),
    start(s),
    output(s, 'old line\n'),
    output(s, 'old partial'),
    { type: 'restart', reason: 'building again' },
    start(s),
    warning(),
  ]);
  expect(t.screen.visible()).toEqual([
    '[1/3] FROM alpine  CACHED',
    'WARNING: building again',
    'WARNING: note',
    '[+] Building 0.00s (0 done, 1 running)',
    expect.stringMatching(/^=> \[2\/3\] RUN make +0\.00s$/),
  ]);
  feed(t.view, [output(s, 'new line\n'), warning()]);
  expect(t.screen.visible().slice(-1)).toEqual(['   new line']);
});
