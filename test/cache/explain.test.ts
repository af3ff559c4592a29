/**
 * Miss explanations without a build: for each kind of input that can change, the first cause in words, as the
 * build log and `cache explain` print it.
 */
import { D, inputs, missReason as explain } from '../helpers/step-inputs';
import type { FileInput, StepInputs } from '../../src/cache/step-key';

interface FileOver {
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  link?: string;
  sha?: string;
}

const file = (p: string, o: FileOver = {}): FileInput => [
  p,
  o.type ?? 'file',
  o.mode ?? 0o644,
  o.uid ?? 0,
  o.gid ?? 0,
  5,
  o.link ?? '',
  o.sha ?? D('c'),
];

describe('explainMiss', () => {
  it('--no-cache and a step never built before', () => {
    expect(explain({ current: inputs(), noCache: true, previous: { inputs: inputs() } })).toBe('--no-cache');
    expect(explain({ current: inputs() })).toBe('no earlier build of this step');
  });

  it('an edited instruction is named before anything else', () => {
    const why = explain({
      current: inputs({ parent: D('2') }, { instruction: 'RUN make all' }),
      previous: { inputs: inputs() },
    });
    expect(why).toBe('instruction changed: `RUN make` → `RUN make all`');
  });

  it('an edited LABEL or ENV value by key; any other edit of them shows the instruction', () => {
    const label = (instruction: string, labels: [string, string][]): StepInputs => ({
      parent: D('1'),
      op: { instruction, kind: 'label', labels: labels.map(([key, value]) => ({ key, value })) },
    });
    expect(
      explain({
        current: label('LABEL team=a version=1.3', [
          ['team', 'a'],
          ['version', '1.3'],
        ]),
        previous: {
          inputs: label('LABEL team=a version=1.2', [
            ['team', 'a'],
            ['version', '1.2'],
          ]),
        },
      }),
    ).toBe('LABEL version 1.2 → 1.3');
    expect(
      explain({
        current: label('LABEL owner=a', [['owner', 'a']]),
        previous: { inputs: label('LABEL version=1.2', [['version', '1.2']]) },
      }),
    ).toBe('instruction changed: `LABEL version=1.2` → `LABEL owner=a`');
  });

  it('a build arg: both values, unset and empty told apart', () => {
    expect(
      explain({
        current: inputs({ args: { V: '1.3' } }),
        previous: { inputs: inputs({ args: { V: '1.2' } }) },
      }),
    ).toBe('build arg V changed 1.2 → 1.3');
    expect(explain({ current: inputs({ args: { V: '' } }), previous: { inputs: inputs() } })).toBe(
      'build arg V changed (unset) → ""',
    );
  });

  it('a setting the step reads (its environment, say) by name and values', () => {
    const why = explain({
      current: inputs({}, { user: 'app' }),
      previous: { inputs: inputs({}, { user: 'root' }) },
    });
    expect(why).toBe('settings changed: user "root" → "app"');
  });

  it('the environment by variable, a heredoc by its first changed line, long values cut', () => {
    const env = (list: string[]): StepInputs => ({
      parent: D('1'),
      op: { instruction: 'RUN make', env: list },
    });
    expect(
      explain({
        current: env(['A=1', 'MODE=dev', 'NEW=x']),
        previous: { inputs: env(['A=1', 'MODE=prod', 'OLD=y']) },
      }),
    ).toBe('settings changed: env MODE prod → dev, env NEW (unset) → x, env OLD y → (unset)');
    const doc = (body: string): StepInputs => ({
      parent: D('1'),
      op: {
        instruction: 'RUN <<EOF',
        heredocs: [{ name: 'EOF', content: body }],
        argv: ['/bin/sh', '-c', body],
        command: { script: body },
      },
    });
    expect(explain({ current: doc('set -e\nmake b\n'), previous: { inputs: doc('set -e\nmake a\n') } })).toBe(
      'settings changed: heredoc EOF line 2: make a → make b',
    );
    const long = 'x'.repeat(200);
    const why = explain({ current: env([`K=${long}y`]), previous: { inputs: env([`K=${long}z`]) } });
    expect(why).toBe(`settings changed: env K ${'x'.repeat(59)}… → ${'x'.repeat(59)}…`);
  });

  it('COPY --from and a bind mount: the source that changed', () => {
    expect(
      explain({
        current: inputs({}, { fromKey: D('b') }),
        previous: { inputs: inputs({}, { fromKey: D('a') }) },
      }),
    ).toBe(`the --from source changed: ${D('a').slice(0, 19)} → ${D('b').slice(0, 19)}`);
    const mounts = (src: string): StepInputs => ({
      parent: D('1'),
      op: { instruction: 'RUN make', mountSources: { '/src': src } },
    });
    expect(explain({ current: mounts(D('d')), previous: { inputs: mounts(D('c')) } })).toBe(
      `the source of a bind mount changed: /src ${D('c').slice(0, 19)} → ${D('d').slice(0, 19)}`,
    );
  });

  it('files: added, removed, content, mode, owner, type and link target, by path', () => {
    const before = [
      file('a'),
      file('b'),
      file('c'),
      file('d'),
      file('e'),
      file('l', { type: 'symlink', link: 'x' }),
    ];
    const after = [
      file('a', { sha: D('f') }),
      file('b', { mode: 0o755 }),
      file('c', { uid: 1000, gid: 1000 }),
      file('d', { type: 'dir' }),
      file('l', { type: 'symlink', link: 'y' }),
      file('n'),
    ];
    const why = explain({
      current: inputs({ filesDigest: D('9') }),
      currentFiles: after,
      previous: { inputs: inputs({ filesDigest: D('8') }), files: before },
    });
    expect(why).toBe(
      '7 files changed: a (content), b (mode 644 → 755), c (owner 0:0 → 1000:1000), d (type file → dir), ' +
        'l (link target), and 2 more',
    );
    const one = explain({
      current: inputs({ filesDigest: D('9') }),
      currentFiles: [file('a'), file('z')],
      previous: { inputs: inputs({ filesDigest: D('8') }), files: [file('a')] },
    });
    expect(one).toBe('1 file changed: z (added)');
    // Without the earlier listing (pruned), the change is still named, just not by path.
    expect(
      explain({
        current: inputs({ filesDigest: D('9') }),
        previous: { inputs: inputs({ filesDigest: D('8') }) },
      }),
    ).toBe('source files changed');
  });

  it('what the step stands on: the base of a first step, a parent that missed or changed', () => {
    const prev = { inputs: inputs({ parent: D('1') }) };
    const cur = inputs({ parent: D('2') });
    expect(explain({ current: cur, previous: prev, isFirstStep: true, baseLabel: 'image debian:12' })).toBe(
      `image debian:12 changed: ${D('1').slice(0, 19)} → ${D('2').slice(0, 19)}`,
    );
    expect(explain({ current: cur, previous: prev, parentMissed: true })).toBe('parent step missed');
    expect(explain({ current: cur, previous: prev })).toBe('parent step changed');
    // Standing on the base through COPY --link layers only: the base is the cause, not a step.
    expect(
      explain({ current: cur, previous: prev, baseChangedBelowLinks: true, baseLabel: 'stage base' }),
    ).toBe('stage base changed below the linked layers');
  });

  it('the step’s own change is named before its parent’s', () => {
    const why = explain({
      current: inputs({ parent: D('2'), args: { V: '2' } }),
      previous: { inputs: inputs({ args: { V: '1' } }) },
      parentMissed: true,
    });
    expect(why).toBe('build arg V changed 1 → 2');
  });

  it('the same inputs: the record is what is missing', () => {
    expect(explain({ current: inputs(), previous: { inputs: inputs() } })).toBe(
      'inputs unchanged, but the cache record is gone (pruned or never stored)',
    );
  });
});
