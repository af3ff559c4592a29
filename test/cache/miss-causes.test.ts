/**
 * A miss's first cause from the reason the build log gave it. The reasons are made by `explainMiss` itself from
 * step inputs built for each case, so a change of wording in explain.ts that miss-causes.ts does not follow fails
 * here; a cascade of "parent step missed" inherits the cause of the miss above it, stage by stage.
 */
import { D, inputs, missReason as reason } from '../helpers/step-inputs';
import type { LoggedStep } from '../../src/cache/build-log';
import { firstCauses, ownCause, type MissCause } from '../../src/cache/miss-causes';
import type { FileInput, StepInputs } from '../../src/cache/step-key';

/** A file row as a COPY reads it; `sha` is its content. */
const file = (p: string, sha = D('c'), mode = 0o644): FileInput => [p, 'file', mode, 0, 0, 5, '', sha];

/** The reason for a COPY whose listing went from `before` to `after`. */
function filesReason(before: FileInput[], after: FileInput[]): string {
  return reason({
    current: inputs({ filesDigest: D('b') }, { instruction: 'COPY . .' }),
    currentFiles: after,
    previous: { inputs: inputs({ filesDigest: D('a') }, { instruction: 'COPY . .' }), files: before },
  });
}

/** `paths` edited (content changed) between two listings that hold them. */
function edited(...paths: string[]): string {
  return filesReason(
    paths.map((p) => file(p, D('1'))),
    paths.map((p) => file(p, D('2'))),
  );
}

describe('ownCause: each reason the build log gives', () => {
  it('--no-cache, a first build, a record pruned away', () => {
    const noCache = reason({ current: inputs(), noCache: true, previous: { inputs: inputs() } });
    expect(noCache).toBe('--no-cache');
    expect(ownCause(noCache)).toEqual({ kind: 'no-cache', label: '--no-cache' });

    const first = reason({ current: inputs() });
    expect(first).toBe('no earlier build of this step');
    expect(ownCause(first)).toEqual({ kind: 'first-build', label: 'the first build' });

    const gone = reason({ current: inputs(), previous: { inputs: inputs() } });
    expect(gone).toMatch(/^inputs unchanged/);
    expect(ownCause(gone)).toEqual({ kind: 'record-gone', label: 'a pruned cache record' });
  });

  it('a build arg, by name whatever its values', () => {
    const why = reason({
      current: inputs({ args: { VERSION: '2' } }),
      previous: { inputs: inputs({ args: { VERSION: '1' } }) },
    });
    expect(why).toBe('build arg VERSION changed 1 → 2');
    expect(ownCause(why)).toEqual({ kind: 'build-arg', label: 'build arg VERSION' });
    // A value with `; ` in it does not confuse the split into causes.
    const odd = reason({
      current: inputs({ args: { CMD: 'a; b' } }),
      previous: { inputs: inputs({ args: { CMD: '' } }) },
    });
    expect(ownCause(odd)).toEqual({ kind: 'build-arg', label: 'build arg CMD' });
  });

  it("a stage's first step: the base image, a stage, scratch", () => {
    const first = (baseLabel: string, before: string, after: string): string =>
      reason({
        current: inputs({ parent: after }),
        previous: { inputs: inputs({ parent: before }) },
        isFirstStep: true,
        baseLabel,
      });
    const image = first(`base image localhost:5000/base:latest`, D('a'), D('b'));
    expect(image).toBe(
      `base image localhost:5000/base:latest changed: ${D('a').slice(0, 19)} → ${D('b').slice(0, 19)}`,
    );
    expect(ownCause(image)).toEqual({ kind: 'base', label: 'the base image digest' });

    const stage = first('stage build', D('a'), D('b'));
    expect(stage).toMatch(/^stage build changed: /);
    expect(ownCause(stage)).toEqual({ kind: 'base', label: 'stage build' });

    const scratch = first('scratch', 'scratch', D('b'));
    expect(scratch).toMatch(/^scratch changed: /);
    expect(ownCause(scratch)).toEqual({ kind: 'base', label: 'the base image digest' });
  });

  it('a step on linked layers alone: the base below them', () => {
    const linked = (baseLabel: string): string =>
      reason({
        current: inputs({ parent: D('b') }),
        previous: { inputs: inputs({ parent: D('a') }) },
        parentMissed: true,
        baseChangedBelowLinks: true,
        baseLabel,
      });
    expect(linked('base image alpine:3.20')).toBe('base image alpine:3.20 changed below the linked layers');
    expect(ownCause(linked('base image alpine:3.20'))).toEqual({
      kind: 'base',
      label: 'the base image digest',
    });
    expect(ownCause(linked('stage build'))).toEqual({ kind: 'base', label: 'stage build' });
    expect(ownCause(linked('scratch'))).toEqual({ kind: 'base', label: 'the base image digest' });
  });

  it('COPY --from, a bind mount, the settings of a step', () => {
    const from = reason({
      current: inputs({}, { fromKey: D('b') }),
      previous: { inputs: inputs({}, { fromKey: D('a') }) },
    });
    expect(from).toMatch(/^the --from source changed: /);
    expect(ownCause(from)).toEqual({ kind: 'from-source', label: 'its --from stage' });

    const mount = reason({
      current: inputs({}, { mountSources: { '/src': D('b') } }),
      previous: { inputs: inputs({}, { mountSources: { '/src': D('a') } }) },
    });
    expect(mount).toMatch(/^the source of a bind mount changed: \/src /);
    expect(ownCause(mount)).toEqual({ kind: 'mount-source', label: "a bind mount's source" });

    const settings = reason({
      current: inputs({}, { network: 'none' }),
      previous: { inputs: inputs({}, { network: 'default' }) },
    });
    expect(settings).toBe('settings changed: network "default" → "none"');
    expect(ownCause(settings)).toEqual({ kind: 'settings', label: 'changed flags' });
  });

  it('an edit of the instruction, and of an ENV or LABEL value', () => {
    const edit = reason({
      current: inputs({}, { instruction: 'RUN make; make test' }),
      previous: { inputs: inputs({}, { instruction: 'RUN make; make check' }) },
    });
    expect(edit).toBe('instruction changed: `RUN make; make check` → `RUN make; make test`');
    // The `; ` inside the instruction is not a second cause.
    expect(ownCause(edit)).toEqual({ kind: 'instruction', label: 'an edit of the instruction' });

    const kv = (kind: 'env' | 'label', field: string, instruction: string, value: string): StepInputs => ({
      parent: D('1'),
      op: { instruction, kind, [field]: [{ key: 'MODE', value }] },
    });
    const env = reason({
      current: kv('env', 'vars', 'ENV MODE=dev', 'dev'),
      previous: { inputs: kv('env', 'vars', 'ENV MODE=prod', 'prod') },
    });
    expect(env).toBe('ENV MODE prod → dev');
    expect(ownCause(env)).toEqual({ kind: 'env', label: 'ENV MODE' });
    // The RUN below an edited ENV misses on its environment: the same edit, counted under the same name.
    const runEnv = (value: string): StepInputs => ({
      parent: D('1'),
      op: { instruction: 'RUN make', kind: 'run', env: [`MODE=${value}`] },
    });
    const below = reason({ current: runEnv('dev'), previous: { inputs: runEnv('prod') } });
    expect(below).toBe('settings changed: env MODE prod → dev');
    expect(ownCause(below)).toEqual({ kind: 'env', label: 'ENV MODE' });
    const label = reason({
      current: kv('label', 'labels', 'LABEL MODE=""', ''),
      previous: { inputs: kv('label', 'labels', 'LABEL MODE=b', 'b') },
    });
    expect(label).toBe('LABEL MODE b → ""');
    expect(ownCause(label)).toEqual({ kind: 'instruction', label: 'an edit of the instruction' });
  });

  it('a parent that missed or changed names no cause of its own', () => {
    const parent = (parentMissed: boolean): string =>
      reason({
        current: inputs({ parent: D('b') }),
        previous: { inputs: inputs({ parent: D('a') }) },
        parentMissed,
      });
    expect(parent(true)).toBe('parent step missed');
    expect(parent(false)).toBe('parent step changed');
    expect(ownCause(parent(true))).toBeUndefined();
    expect(ownCause(parent(false))).toBeUndefined();
  });

  it('several causes: the first one counts', () => {
    const both = reason({
      current: inputs({ args: { A: '2', B: '2' }, filesDigest: D('b') }),
      currentFiles: [file('src/a.js', D('2'))],
      previous: {
        inputs: inputs({ args: { A: '1', B: '1' }, filesDigest: D('a') }),
        files: [file('src/a.js')],
      },
    });
    expect(both).toBe(
      'build arg A changed 1 → 2; build arg B changed 1 → 2; 1 file changed: src/a.js (content)',
    );
    expect(ownCause(both)).toEqual({ kind: 'build-arg', label: 'build arg A' });

    const flagsAndFiles = reason({
      current: inputs({ filesDigest: D('b') }, { user: 'app' }),
      currentFiles: [file('package-lock.json', D('2'))],
      previous: {
        inputs: inputs({ filesDigest: D('a') }, { user: 'root' }),
        files: [file('package-lock.json')],
      },
    });
    expect(flagsAndFiles).toMatch(/^settings changed: .*; 1 file changed: package-lock\.json \(content\)$/);
    expect(ownCause(flagsAndFiles)).toEqual({ kind: 'settings', label: 'changed flags' });
  });

  it('text it does not know: kind unknown, the text itself as the label', () => {
    expect(ownCause('the moon changed phase')).toEqual({ kind: 'unknown', label: 'the moon changed phase' });
    expect(ownCause('something odd; parent step missed')).toEqual({
      kind: 'unknown',
      label: 'something odd',
    });
    expect(ownCause('')).toEqual({ kind: 'unknown', label: '' });
  });
});

describe('ownCause: the files that changed', () => {
  it('one file at the top is named', () => {
    const why = edited('package-lock.json');
    expect(why).toBe('1 file changed: package-lock.json (content)');
    expect(ownCause(why)).toEqual({ kind: 'files', label: 'package-lock.json' });
  });

  it('every kind of change of a file is read as a file', () => {
    const forms: [string, FileInput[], FileInput[]][] = [
      ['added', [], [file('a.txt')]],
      ['removed', [file('a.txt')], []],
      ['mode', [file('a.txt')], [file('a.txt', D('c'), 0o755)]],
      ['owner', [file('a.txt')], [['a.txt', 'file', 0o644, 1000, 1000, 5, '', D('c')]]],
      ['type', [file('a.txt')], [['a.txt', 'symlink', 0o644, 0, 0, 5, '', D('c')]]],
      [
        'link target',
        [['a.txt', 'symlink', 0o777, 0, 0, 1, 'b', '']],
        [['a.txt', 'symlink', 0o777, 0, 0, 1, 'c', '']],
      ],
    ];
    for (const [form, before, after] of forms) {
      const why = filesReason(before, after);
      expect([form, why]).toEqual([
        form,
        expect.stringMatching(new RegExp(`^1 file changed: a\\.txt \\(${form}`)),
      ]);
      expect([form, ownCause(why)]).toEqual([form, { kind: 'files', label: 'a.txt' }]);
    }
  });

  it('files under one directory count together, however many and however deep', () => {
    expect(ownCause(edited('src/a.js'))).toEqual({ kind: 'files', label: 'source edits under src/' });
    const several = filesReason(
      [file('src/a.js', D('1')), file('src/lib/deep/c.js')],
      [file('src/a.js', D('2')), file('src/lib/b.js')],
    );
    expect(several).toBe(
      '3 files changed: src/a.js (content), src/lib/b.js (added), src/lib/deep/c.js (removed)',
    );
    expect(ownCause(several)).toEqual({ kind: 'files', label: 'source edits under src/' });
    // The deepest directory they share.
    expect(ownCause(edited('src/lib/a.js', 'src/lib/b.js'))).toEqual({
      kind: 'files',
      label: 'source edits under src/lib/',
    });
  });

  it('files in different top directories are source edits, not a list of paths', () => {
    expect(ownCause(edited('src/a.js', 'test/a.test.js'))).toEqual({ kind: 'files', label: 'source edits' });
    expect(ownCause(edited('package.json', 'src/index.js'))).toEqual({
      kind: 'files',
      label: 'source edits',
    });
  });

  it('up to three files at the top are named, more are source edits', () => {
    const three = edited('Dockerfile', 'package-lock.json', 'package.json');
    expect(ownCause(three)).toEqual({ kind: 'files', label: 'Dockerfile, package-lock.json, package.json' });
    const four = edited('a', 'b', 'c', 'd');
    expect(four).toBe('4 files changed: a (content), b (content), c (content), d (content)');
    expect(ownCause(four)).toEqual({ kind: 'files', label: 'source edits' });
  });

  it('"and N more": judged on the files listed', () => {
    const top = edited('a', 'b', 'c', 'd', 'e', 'f', 'g');
    expect(top).toMatch(/^7 files changed: a \(content\), .*, e \(content\), and 2 more$/);
    expect(ownCause(top)).toEqual({ kind: 'files', label: 'source edits' });
    const under = edited(...['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `src/${n}.js`));
    expect(under).toMatch(/, and 1 more$/);
    expect(ownCause(under)).toEqual({ kind: 'files', label: 'source edits under src/' });
  });

  it('a listing that is not known: source edits', () => {
    const why = reason({
      current: inputs({ filesDigest: D('b') }),
      previous: { inputs: inputs({ filesDigest: D('a') }) },
    });
    expect(why).toBe('source files changed');
    expect(ownCause(why)).toEqual({ kind: 'files', label: 'source edits' });
  });
});

describe('firstCauses', () => {
  const step = (position: string, cache: 'hit' | 'miss', why?: string): LoggedStep => {
    const [stage, index] = position.split('/').map(Number);
    return {
      position,
      stage: `stage-${stage}`,
      index,
      line: index,
      instruction: `RUN step ${position}`,
      cache,
      ...(why !== undefined ? { reason: why } : {}),
      durationMs: 10,
    };
  };
  const lockfile = edited('package-lock.json');
  const parentMissed = 'parent step missed';
  const labels = (m: Map<string, MissCause>): Record<string, string> =>
    Object.fromEntries([...m].map(([pos, c]) => [pos, c.label]));

  it('a cascade inherits the cause above; an own cause starts a new one', () => {
    const causes = firstCauses([
      step('0/1', 'hit'),
      step('0/2', 'miss', lockfile),
      step('0/3', 'miss', parentMissed),
      step('0/4', 'miss', 'parent step changed'),
      step('0/5', 'miss', 'build arg V changed 1 → 2'),
      step('0/6', 'miss', parentMissed),
    ]);
    expect(labels(causes)).toEqual({
      '0/2': 'package-lock.json',
      '0/3': 'package-lock.json',
      '0/4': 'package-lock.json',
      '0/5': 'build arg V',
      '0/6': 'build arg V',
    });
    expect(causes.get('0/3')).toEqual({ kind: 'files', label: 'package-lock.json' });
    expect(causes.has('0/1')).toBe(false);
  });

  it('steps are taken in order of stage then index, numerically, whatever order the log has', () => {
    const causes = firstCauses([
      step('0/10', 'miss', parentMissed),
      step('0/9', 'miss', parentMissed),
      step('0/2', 'miss', lockfile),
      step('0/11', 'miss', '--no-cache'),
      step('0/12', 'miss', parentMissed),
    ]);
    expect(labels(causes)).toEqual({
      '0/2': 'package-lock.json',
      '0/9': 'package-lock.json',
      '0/10': 'package-lock.json',
      '0/11': '--no-cache',
      '0/12': '--no-cache',
    });
  });

  it('a hit between two misses of a stage does not end the cascade', () => {
    // Not a build's real shape (after a miss every later step's parent changed), but defined: the hit is skipped.
    const causes = firstCauses([
      step('0/2', 'miss', lockfile),
      step('0/3', 'hit'),
      step('0/4', 'miss', parentMissed),
    ]);
    expect(labels(causes)).toEqual({ '0/2': 'package-lock.json', '0/4': 'package-lock.json' });
  });

  it('each stage starts with no cause above', () => {
    const causes = firstCauses([
      step('1/2', 'miss', parentMissed),
      step('0/2', 'miss', lockfile),
      step('0/3', 'miss', parentMissed),
      step('1/1', 'hit'),
      step('1/3', 'miss', parentMissed),
      step('2/1', 'miss', 'stage build changed: sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb'),
      step('2/2', 'miss', parentMissed),
      step('10/2', 'miss', parentMissed),
    ]);
    expect(labels(causes)).toEqual({
      '0/2': 'package-lock.json',
      '0/3': 'package-lock.json',
      '1/2': 'a parent step changed',
      '1/3': 'a parent step changed',
      '2/1': 'stage build',
      '2/2': 'stage build',
      '10/2': 'a parent step changed',
    });
    expect(causes.get('1/2')?.kind).toBe('unknown');
  });

  it('a parent step missed with nothing above: kind unknown; no reason at all: unknown by its text', () => {
    expect(firstCauses([step('0/2', 'miss', parentMissed)]).get('0/2')).toEqual({
      kind: 'unknown',
      label: 'a parent step changed',
    });
    expect(firstCauses([step('0/2', 'miss')]).get('0/2')).toEqual({ kind: 'unknown', label: '' });
    expect(firstCauses([step('0/1', 'hit'), step('0/2', 'hit')]).size).toBe(0);
  });
});
