/**
 * `tsbuild cache report` rendered from a `summarizeBuilds` result: the text form for a terminal, markdown for a CI
 * job summary (a table whose cells stay cells whatever the instruction holds), JSON; steps named `[4]`, or
 * `[builder 4]` when the Dockerfile has several stages; advice lines, with the misses the history shows for them.
 */
import type { LoggedBuild, LoggedStep } from '../../src/cache/build-log';
import { summarizeBuilds, type DockerfileReport } from '../../src/cache/cache-report';
import {
  groupId,
  renderCacheReportJson,
  renderCacheReportMarkdown,
  renderCacheReportText,
  type AdviceLine,
} from '../../src/report/cache-report';

const FIRST = 'no earlier build of this step';
const TEE = 'RUN echo `date` | tee /log';

let ids = 0;

function build(minute: number, steps: LoggedStep[], target = ''): LoggedBuild {
  return {
    version: 1,
    id: (++ids).toString(16).padStart(16, '0'),
    finishedAt: new Date(Date.UTC(2026, 2, 3, 9, minute)).toISOString(),
    dockerfile: 'Dockerfile',
    target,
    durationMs: 0,
    steps,
  };
}

function step(
  stage: [string, number],
  index: number,
  instruction: string,
  durationMs: number,
  reason?: string,
): LoggedStep {
  return {
    position: `${stage[1]}/${index}`,
    stage: stage[0],
    index,
    line: index,
    instruction,
    cache: reason === undefined ? 'hit' : 'miss',
    ...(reason !== undefined ? { reason } : {}),
    durationMs,
  };
}

const ONE: [string, number] = ['stage-0', 0];

/** Two builds of a one-stage Dockerfile: the first, then a miss of an unknown kind (its text has `|` and `<`). */
function oneStage(): DockerfileReport[] {
  return summarizeBuilds([
    build(1, [step(ONE, 1, 'FROM alpine', 5, FIRST), step(ONE, 2, TEE, 2000, FIRST)]),
    build(2, [step(ONE, 1, 'FROM alpine', 1), step(ONE, 2, TEE, 4000, 'weird | <reason>')]),
  ]);
}

/** A builder stage and a runtime stage; the runtime's COPY --from misses after the builder's source edit. */
function twoStages(): DockerfileReport[] {
  const builder: [string, number] = ['builder', 0];
  const runtime: [string, number] = ['runtime', 1];
  return summarizeBuilds([
    build(1, [
      step(builder, 1, 'FROM golang', 1),
      step(builder, 2, 'COPY . .', 100, '1 file changed: src/main.go (content)'),
      step(builder, 3, 'RUN go build', 9000, 'parent step missed'),
      step(runtime, 1, 'FROM alpine', 1),
      step(runtime, 2, 'COPY --from=builder /app /app', 200, 'the --from source changed: a → b'),
    ]),
  ]);
}

function advice(r: DockerfileReport, lines: AdviceLine[]): Map<string, AdviceLine[]> {
  return new Map([[groupId(r), lines]]);
}

const TIPS: AdviceLine[] = [
  {
    rule: 'copy-all-before-install',
    line: 2,
    message: 'copy the manifests <first>',
    misses: 2,
    missCostMs: 6000,
  },
  { rule: 'apt-update-alone', line: 1, message: 'join them', misses: 1, missCostMs: 5 },
  { rule: 'add-url-checksum', line: 1, message: 'pin it', misses: 0, missCostMs: 0 },
];

describe('the text form', () => {
  it('the numbers, the missed steps by cost, their causes, the causes overall, the advice', () => {
    const [r] = oneStage();
    expect(renderCacheReportText(oneStage(), advice(r, TIPS))).toBe(
      [
        'Dockerfile: 2 builds, 2026-03-03 09:01 → 2026-03-03 09:02',
        '  hit rate 25% (1 of 4 steps); misses took 6.0s',
        '',
        '  [2] RUN echo `date` | tee /log (line 2): 2 of 2 builds missed, 6.0s (median 3.0s)',
        '      1 from weird | <reason>, 1 from the first build',
        '  [1] FROM alpine (line 1): 1 of 2 builds missed, 5ms (median 5ms)',
        '      1 from the first build',
        '',
        '  first causes, by the time they cost:',
        '    1. weird | <reason>: 1 miss, 4.0s',
        '    2. the first build: 2 misses, 2.0s',
        '',
        '  advice (tsbuild check):',
        '    Dockerfile:2: copy-all-before-install: copy the manifests <first> (the history shows 2 misses there, 6.0s)',
        '    Dockerfile:1: apt-update-alone: join them (the history shows 1 miss there, 5ms)',
        '    Dockerfile:1: add-url-checksum: pin it',
        '',
      ].join('\n'),
    );
  });

  it('steps named with their stage when there are several', () => {
    const text = renderCacheReportText(twoStages());
    expect(text).toContain('  [builder 3] RUN go build (line 3): 1 of 1 builds missed, 9.0s (median 9.0s)\n');
    expect(text).toContain('      1 from source edits under src/\n');
    expect(text).toContain('  [runtime 2] COPY --from=builder /app /app (line 2)');
    expect(text).toContain('      1 from its --from stage\n');
    expect(text).not.toMatch(/ \[\d+\] /);
  });

  it('no advice without a match for the Dockerfile and target, and a target in the title', () => {
    const reports = summarizeBuilds([build(1, [step(ONE, 1, 'FROM alpine', 1)], 'test')]);
    const elsewhere = new Map([[groupId({ dockerfile: 'Dockerfile', target: '' }), TIPS]]);
    const text = renderCacheReportText(reports, elsewhere);
    expect(text).toBe(
      [
        'Dockerfile (target test): 1 build, 2026-03-03 09:01 → 2026-03-03 09:01',
        '  hit rate 100% (1 of 1 steps); misses took 0ms',
        '',
        '  every step hit in every build',
        '',
      ].join('\n'),
    );
  });

  it('no builds', () => {
    expect(renderCacheReportText([])).toBe('no builds in the period: nothing to report\n');
  });
});

describe('the markdown form', () => {
  it('a table row per missed step whose instruction stays one cell; the top causes; the advice', () => {
    const [r] = oneStage();
    const md = renderCacheReportMarkdown(oneStage(), advice(r, TIPS));
    expect(md).toBe(
      [
        '### tsbuild cache report: `Dockerfile`',
        '',
        '**25%** of steps hit over 2 builds (2026-03-03 09:01 → 2026-03-03 09:02); misses took **6.0s**.',
        '',
        '| step | builds | hit rate | median miss | time lost | first causes |',
        '|---|--:|--:|--:|--:|---|',
        '| ``[2] RUN echo `date` \\| tee /log`` | 2 | 0% | 3.0s | 6.0s | 1× weird \\| &lt;reason&gt;, 1× the first build |',
        '| `[1] FROM alpine` | 2 | 50% | 5ms | 5ms | 1× the first build |',
        '',
        '**Top causes**',
        '',
        '1. weird \\| &lt;reason&gt;: 1 miss, 4.0s (`[2]`)',
        '2. the first build: 2 misses, 2.0s (`[1]` `[2]`)',
        '',
        '**Advice**',
        '',
        '- line 2, `copy-all-before-install`: copy the manifests &lt;first&gt; (the history shows 2 misses there, 6.0s)',
        '- line 1, `apt-update-alone`: join them (the history shows 1 miss there, 5ms)',
        '- line 1, `add-url-checksum`: pin it',
        '',
      ].join('\n'),
    );
    // Every table row has its six cells: no `|` of an instruction or a cause splits one.
    const rows = md.split('\n').filter((l) => l.startsWith('| '));
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row.split(/(?<!\\)\|/)).toHaveLength(8);
  });

  it('an instruction with a run of backticks is fenced by a longer one', () => {
    const reports = summarizeBuilds([build(1, [step(ONE, 1, 'RUN echo ``a`` | x', 10, FIRST)])]);
    expect(renderCacheReportMarkdown(reports)).toContain('| ```[1] RUN echo ``a`` \\| x``` | 1 | 0% |');
  });

  it('steps named with their stage when there are several, in the table and the causes', () => {
    const md = renderCacheReportMarkdown(twoStages());
    expect(md).toContain(
      '| `[builder 3] RUN go build` | 1 | 0% | 9.0s | 9.0s | 1× source edits under src/ |',
    );
    expect(md).toContain('| `[runtime 2] COPY --from=builder /app /app` | 1 | 0% |');
    expect(md).toContain('1. source edits under src/: 2 misses, 9.1s (`[builder 2]` `[builder 3]`)');
  });

  it('all hits: no table, no causes; a target named', () => {
    const reports = summarizeBuilds([build(1, [step(ONE, 1, 'FROM alpine', 1)], 'test')]);
    expect(renderCacheReportMarkdown(reports)).toBe(
      [
        '### tsbuild cache report: `Dockerfile` (target `test`)',
        '',
        '**100%** of steps hit over 1 build (2026-03-03 09:01 → 2026-03-03 09:01); misses took **0ms**.',
        '',
      ].join('\n'),
    );
  });

  it('no builds', () => {
    expect(renderCacheReportMarkdown([])).toBe('### tsbuild cache report\n\nNo builds in the period.\n');
  });
});

describe('the json form', () => {
  it('the reports as summarizeBuilds made them, each with its advice', () => {
    const reports = [...oneStage(), ...summarizeBuilds([build(3, [step(ONE, 1, 'FROM alpine', 1)], 'test')])];
    const doc: unknown = JSON.parse(renderCacheReportJson(reports, advice(reports[0], TIPS)));
    expect(doc).toEqual({
      version: 1,
      reports: [
        { ...reports[0], advice: TIPS },
        { ...reports[1], advice: [] },
      ],
    });
    expect(JSON.stringify(doc)).toContain('"missCostMs":6005');
  });

  it('no builds', () => {
    expect(JSON.parse(renderCacheReportJson([]))).toEqual({ version: 1, reports: [] });
  });
});
