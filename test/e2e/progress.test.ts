import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import stringWidth from 'string-width';
import { BIN, requireE2e, TempDirs, tool, tsbuild, tsbuildOk, writeTree } from '../helpers/e2e';
import { busyboxLayout } from '../helpers/registry';
import type { BuildReport } from '../../src/report/build-report';

/**
 * The build's output as people see it: the live view on a real terminal (tmux, 80 columns, captured while a
 * 6-second RUN and a second stage run side by side), plain lines for CI logs, the whole log afterwards
 * (`--report`, `tsbuild logs`), a failing step's log with `-q`, and the GitHub Actions summary and annotation.
 */

jest.setTimeout(180_000);

const temps = new TempDirs();
let layout: string;
const SOCKET = `tsbuild-test-${process.pid}`;

beforeAll(async () => {
  requireE2e('tmux', 'umoci');
  layout = await busyboxLayout();
});

afterAll(async () => {
  await tool('tmux', ['-L', SOCKET, 'kill-server']).catch(() => undefined);
  await temps.cleanup();
});

/** An SGR colour sequence (ESC [ … m), written as a string so no control character sits in a regex literal. */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Starts `tsbuild ARGS` in a detached 80×40 tmux window; the window stays after it exits, to be read. */
async function startInTmux(
  session: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)} `);
  const command = `${vars.join('')}${shellQuote(process.execPath)} ${shellQuote(BIN)} ${args.map(shellQuote).join(' ')}; echo "EXIT=$?"; sleep 600`;
  await tool('tmux', ['-L', SOCKET, 'new-session', '-d', '-s', session, '-x', '80', '-y', '40', command]);
  return Date.now();
}

/** The screen as a person sees it (`-J`: a line the terminal wrapped comes back joined, so wrapping shows). */
async function capture(session: string, colours = false): Promise<string[]> {
  const text = await tool('tmux', [
    '-L',
    SOCKET,
    'capture-pane',
    '-p',
    '-J',
    ...(colours ? ['-e'] : []),
    '-S',
    '-',
    '-t',
    session,
  ]);
  return text.replace(/\n+$/, '').split('\n');
}

async function waitForExit(session: string): Promise<string[]> {
  for (let i = 0; i < 600; i++) {
    const screen = await capture(session);
    if (screen.some((l) => /^EXIT=\d+$/.test(l))) return screen;
    await sleep(200);
  }
  throw new Error(
    `tsbuild in tmux session ${session} did not finish:\n${(await capture(session)).join('\n')}`,
  );
}

const headerTime = (screen: readonly string[]): number => {
  const m = screen.map((l) => /^\[\+\] Building (\d+\.\d+)s/.exec(l)).find((x) => x !== null);
  if (!m) throw new Error(`no live header on the screen:\n${screen.join('\n')}`);
  return Number(m[1]);
};

async function parallelContext(): Promise<{ ctx: string; root: string }> {
  const ctx = await temps.make('tty');
  const root = path.join(await temps.make('tty-store'), 'store');
  await writeTree(ctx, {
    Dockerfile: [
      'FROM busybox AS slow',
      // 6 seconds of output, a line every half second; the instruction is long enough to be cut at 80 columns.
      'RUN for i in $(seq 1 12); do echo "tick $i of the slow stage, a line long enough to need cutting at eighty columns wide"; sleep 0.5; done',
      'FROM busybox AS other',
      'RUN echo other starts; sleep 3; echo other done',
      'FROM busybox',
      'COPY --from=slow /etc/passwd /slow',
      'COPY --from=other /etc/passwd /other',
      '',
    ].join('\n'),
  });
  return { ctx, root };
}

test('the live view on an 80-column terminal: timers tick, output windows, nothing wraps, one line per finished step', async () => {
  const { ctx, root } = await parallelContext();
  const session = 'live';
  const args = ['-t', 'live', '--root', root, '--build-context', `busybox=oci-layout://${layout}`, ctx];
  const t0 = await startInTmux(session, args);

  await sleep(Math.max(0, t0 + 2000 - Date.now()));
  const at2 = await capture(session);
  await sleep(150);
  const at2b = await capture(session);
  await sleep(Math.max(0, t0 + 5000 - Date.now()));
  const at5 = await capture(session, true);
  const at5Plain = await capture(session);

  for (const screen of [at2, at2b, at5Plain]) {
    // -J joins what the terminal wrapped: every line must fit the 80 columns.
    for (const line of screen) expect(stringWidth(line)).toBeLessThanOrEqual(80);
  }
  // The timer moves without output: 150 ms later the header shows another time (redrawn ≥ 10 times a second),
  // and 3 seconds later about 3 seconds more.
  expect(headerTime(at2b)).toBeGreaterThan(headerTime(at2));
  expect(headerTime(at2b) - headerTime(at2)).toBeLessThan(1);
  expect(headerTime(at5Plain) - headerTime(at2)).toBeGreaterThan(2);
  // The running step, cut with … to fit, with its timer, and its last output lines (at most 6) beneath it.
  const running = at5Plain.findIndex((l) => l.startsWith('=> [slow 2/2] RUN for i in'));
  expect(running).toBeGreaterThan(-1);
  expect(at5Plain[running]).toMatch(/… +\d+\.\d+s$/);
  const window = [];
  for (let i = running + 1; i < at5Plain.length && at5Plain[i].startsWith('   '); i++)
    window.push(at5Plain[i]);
  expect(window.length).toBeGreaterThan(2);
  expect(window.length).toBeLessThanOrEqual(6);
  expect(window.every((l) => l.startsWith('   tick '))).toBe(true);
  expect(window[window.length - 1]).toMatch(/^ {3}tick (7|8|9|10) /);
  // Both stages were on screen side by side at 2 s.
  expect(at2.some((l) => l.startsWith('=> [other 2/2] RUN echo other starts'))).toBe(true);
  expect(at2.some((l) => l.startsWith('=> [slow 2/2] RUN'))).toBe(true);
  // Colours on a terminal that has them.
  expect(at5.join('\n')).toMatch(SGR);

  const done = await waitForExit(session);
  expect(done).toContain('EXIT=0');
  for (const line of done) expect(stringWidth(line)).toBeLessThanOrEqual(80);
  // Afterwards: no live area, no output windows, every step once as a single line with its state and time.
  expect(done.some((l) => l.startsWith('[+] Building'))).toBe(false);
  expect(done.some((l) => l.startsWith('   tick'))).toBe(false);
  const stepLines = done.filter((l) => /^\[(slow|other|stage-2) \d\/\d\] /.test(l));
  expect(stepLines).toHaveLength(7);
  const slowRun = stepLines.filter((l) => l.startsWith('[slow 2/2] RUN'));
  expect(slowRun).toHaveLength(1);
  expect(slowRun[0]).toMatch(/… {2}\d+\.\d+s {2}\(miss: /);
});

test('NO_COLOR turns the colours off', async () => {
  const ctx = await temps.make('nocolor');
  const root = path.join(await temps.make('nocolor-store'), 'store');
  await writeTree(ctx, { Dockerfile: 'FROM busybox\nRUN echo one; sleep 1.5; echo two\n' });
  const session = 'nocolor';
  await startInTmux(session, ['--root', root, '--build-context', `busybox=oci-layout://${layout}`, ctx], {
    NO_COLOR: '1',
  });
  await sleep(1200);
  const live = await capture(session, true);
  expect(live.some((l) => l.startsWith('=> [2/2] RUN echo one'))).toBe(true);
  await waitForExit(session);
  const after = await capture(session, true);
  expect([...live, ...after].join('\n')).not.toMatch(SGR);
});

test('plain output: whole lines, the last state of a \\r-drawn line, a short prefix; the whole log afterwards', async () => {
  const ctx = await temps.make('plain');
  const root = path.join(await temps.make('plain-store'), 'store');
  const long = 'x'.repeat(3000);
  await writeTree(ctx, {
    Dockerfile: [
      'FROM busybox',
      // A line written in two pieces, a bar redrawn with \r, a 3000-character line, a last line without newline.
      `RUN printf abc; sleep 0.5; printf 'def\\n'; printf '10%%\\r50%%\\r100%%\\n'; printf '${long}\\n' >&2; printf 'no newline at the end'`,
      '',
    ].join('\n'),
  });
  const report = path.join(ctx, 'report.json');
  const r = await tsbuildOk([
    '--progress',
    'plain',
    '--report',
    report,
    '--root',
    root,
    '--build-context',
    `busybox=oci-layout://${layout}`,
    ctx,
  ]);
  const lines = r.stderr.split('\n');
  const output = lines.filter((l) => l.startsWith('[2/2] | ')).map((l) => l.slice('[2/2] | '.length));
  // stdout and stderr are two pipes: which of their lines came first is not fixed, each line is whole.
  const sorted = (a: readonly string[] | undefined): string[] => [...(a ?? [])].sort();
  expect(sorted(output)).toEqual(sorted(['abcdef', '100%', long, 'no newline at the end']));
  expect(output.filter((l) => l !== long)).toEqual(['abcdef', '100%', 'no newline at the end']);
  // The instruction once, above its output; the step's result after it.
  expect(lines.filter((l) => l.startsWith('[2/2] RUN printf abc'))).toHaveLength(2);
  expect(lines.findIndex((l) => l.startsWith('[2/2] RUN printf abc'))).toBeLessThan(
    lines.findIndex((l) => l.startsWith('[2/2] | abcdef')),
  );
  expect(lines.find((l) => l.startsWith('[2/2] RUN printf abc') && l.includes('(miss: '))).toBeDefined();
  expect(r.stderr).not.toContain('\r');

  const doc = JSON.parse(await fsp.readFile(report, 'utf8')) as BuildReport;
  const run = doc.steps.find((s) => s.index === 2);
  expect(sorted(run?.output)).toEqual(sorted(output));
  expect(run?.key).toMatch(/^sha256:[0-9a-f]{64}$/);

  // The raw log, as the process wrote it, by key prefix and by its place in the last build.
  const byKey = await tsbuildOk(['logs', (run?.key ?? '').slice(7, 19), '--root', root]);
  expect(sorted(byKey.stdout.split('\n'))).toEqual(
    sorted(['abcdef', '10%\r50%\r100%', long, 'no newline at the end']),
  );
  const byPlace = await tsbuildOk(['logs', '[2/2]', ctx, '--root', root]);
  expect(byPlace.stdout).toBe(byKey.stdout);
  // A cached rebuild prints no output but the log of the build that ran it is still there.
  const again = await tsbuildOk([
    '--progress',
    'plain',
    '--root',
    root,
    '--build-context',
    `busybox=oci-layout://${layout}`,
    ctx,
  ]);
  expect(again.stderr).not.toContain('[2/2] | ');
  expect((await tsbuildOk(['logs', '2', ctx, '--root', root])).stdout).toBe(byKey.stdout);

  const unknown = await tsbuild(['logs', 'abcdef123456', '--root', root]);
  expect(unknown.status).toBe(2);
  expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
});

test('-q with a failing RUN prints its log and the error, exit 1; GitHub Actions gets an annotation and a summary', async () => {
  const ctx = await temps.make('fail');
  const root = path.join(await temps.make('fail-store'), 'store');
  await writeTree(ctx, {
    Dockerfile: 'FROM busybox\nRUN for i in $(seq 1 30); do echo "step output $i"; done; exit 7\n',
  });
  const summary = path.join(ctx, 'summary.md');
  const env = { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: ctx, GITHUB_STEP_SUMMARY: summary };
  const failed = await tsbuild(
    ['-q', '--root', root, '--build-context', `busybox=oci-layout://${layout}`, ctx],
    { env, cwd: ctx },
  );
  expect(failed.status).toBe(1);
  // All of the failing step's output (nothing was shown while it ran), then the error with its Dockerfile line.
  for (let i = 1; i <= 30; i++) expect(failed.stderr).toContain(`step output ${i}\n`);
  expect(failed.stderr).toMatch(/Dockerfile:2: .*exit code: 7/);
  expect(failed.stderr).toMatch(/the whole log: tsbuild logs [0-9a-f]{12}/);
  expect(failed.stdout).toMatch(
    /^::error file=Dockerfile,line=2,title=tsbuild%3A build failed::.*exit code: 7\n$/,
  );
  const key = /tsbuild logs ([0-9a-f]{12})/.exec(failed.stderr)?.[1] ?? '';
  expect((await tsbuildOk(['logs', key, '--root', root])).stdout).toContain('step output 30\n');

  await writeTree(ctx, { Dockerfile: 'FROM busybox\nRUN echo fine\n' });
  await fsp.writeFile(summary, '# earlier step\n');
  const ok = await tsbuildOk(
    ['-q', '--root', root, '--build-context', `busybox=oci-layout://${layout}`, ctx],
    {
      env,
      cwd: ctx,
    },
  );
  expect(ok.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  const md = await fsp.readFile(summary, 'utf8');
  expect(md.startsWith('# earlier step\n')).toBe(true);
  expect(md).toContain('RUN echo fine');
});
