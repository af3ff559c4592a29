/**
 * The cache key of a step without a build: what goes into it (the expanded instruction and what it reads from the
 * stage so far) and what must not (where it was written). Steps come from the real parser and planner.
 */
import type { JsonValue } from '../../src/store/canonical-json';
import {
  argInputs,
  changesFilesystem,
  displayInstruction,
  isLinkedCopy,
  opInputs,
} from '../../src/executor/step-inputs';
import { keyParent, stateKeyAfter } from '../../src/executor/step-keyer';
import { stepKey, type StepInputs } from '../../src/cache/step-key';
import type { Step } from '../../src/planner';
import { steps } from '../planner/helpers';

const PARENT = `sha256:${'a'.repeat(64)}`;

/** The key the executor gives the last step of `text`'s last stage (on a fixed parent). */
function keyOfLast(text: string, args: Record<string, string> = {}): string {
  return stepKey(inputsOf(lastStep(text, args)));
}

function lastStep(text: string, args: Record<string, string> = {}): Step {
  const list = steps(text, { args });
  const step = list[list.length - 1];
  if (step === undefined) throw new Error('no step');
  return step;
}

function inputsOf(step: Step): StepInputs {
  const inputs: StepInputs = { parent: PARENT, op: opInputs(step) };
  const args = argInputs(step);
  if (args) inputs.args = args;
  return inputs;
}

/** Every one of `texts` gives its last step a key of its own. */
function expectDistinctKeys(texts: readonly string[]): void {
  const keys = texts.map((t) => keyOfLast(t));
  expect(new Set(keys).size).toBe(keys.length);
}

describe('stepKey', () => {
  it('is the sha256 of the canonical JSON: the order of fields does not matter', () => {
    const a: StepInputs = { parent: 'scratch', op: { instruction: 'RUN x', b: 1, a: [1, 2] } };
    const b: StepInputs = { op: { a: [1, 2], instruction: 'RUN x', b: 1 }, parent: 'scratch' };
    expect(stepKey(a)).toBe(stepKey(b));
    expect(stepKey(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stepKey({ ...a, parent: 'other' })).not.toBe(stepKey(a));
    const op: { [k: string]: JsonValue | undefined; instruction: string } = { ...a.op, b: 2 };
    expect(stepKey({ ...a, op })).not.toBe(stepKey(a));
  });
});

describe('the key of a RUN', () => {
  const base = 'FROM scratch\n';
  const run = 'RUN make all\n';

  it('changes with the command, the environment, the user, the workdir and the shell before it', () => {
    expectDistinctKeys([
      base + run,
      base + 'RUN make test\n',
      base + 'ENV CC=clang\n' + run,
      base + 'USER app\n' + run,
      base + 'WORKDIR /src\n' + run,
      base + 'SHELL ["/bin/bash", "-c"]\n' + run,
      base + 'RUN --network=none make all\n',
      base + 'RUN --mount=type=cache,target=/root/.cache make all\n',
    ]);
  });

  it('changes with each mount and its settings, and with the security mode', () => {
    expectDistinctKeys(
      [
        run,
        'RUN --mount=type=secret,id=a make all\n',
        'RUN --mount=type=secret,id=b make all\n',
        'RUN --mount=type=bind,source=x,target=/x make all\n',
        'RUN --mount=type=bind,source=y,target=/x make all\n',
        'RUN --mount=type=tmpfs,target=/t make all\n',
        'RUN --mount=type=ssh make all\n',
        'RUN --security=insecure make all\n',
      ].map((r) => base + r),
    );
  });

  it('changes with a build arg in scope, and not with one that is declared in no scope of it', () => {
    const text = `${base}ARG VERSION\n${run}`;
    expect(keyOfLast(text, { VERSION: '1.2' })).not.toBe(keyOfLast(text, { VERSION: '1.3' }));
    expect(keyOfLast(text, { VERSION: '1.2' })).not.toBe(keyOfLast(text));
    // Passed but never declared: the RUN cannot see it, so it is not part of the key.
    expect(keyOfLast(base + run, { VERSION: '1.2' })).toBe(keyOfLast(base + run));
  });

  it('does not change with proxy build args, nor carries them (BuildKit keeps them out of the key)', () => {
    const proxied = lastStep(base + run, { HTTP_PROXY: 'http://user:secret@proxy:3128', no_proxy: 'x' });
    expect(stepKey(inputsOf(proxied))).toBe(keyOfLast(base + run));
    expect(JSON.stringify(inputsOf(proxied))).not.toContain('secret');
  });

  it('does not change with where it was written: comments, blank lines, line numbers', () => {
    expect(keyOfLast(`${base}\n# build it\n\n${run}`)).toBe(keyOfLast(base + run));
  });

  it('reads nothing of the metadata before it (LABEL, EXPOSE, CMD): its op is the same', () => {
    const plain = opInputs(lastStep(base + run));
    expect(opInputs(lastStep(`${base}LABEL version=1.2\nEXPOSE 80\nCMD ["x"]\n${run}`))).toEqual(plain);
  });
});

describe('the key of WORKDIR and COPY', () => {
  it('WORKDIR depends on its path and on the user that creates it', () => {
    const plain = keyOfLast('FROM scratch\nWORKDIR /app\n');
    expect(keyOfLast('FROM scratch\nWORKDIR /srv\n')).not.toBe(plain);
    expect(keyOfLast('FROM scratch\nUSER app\nWORKDIR /app\n')).not.toBe(plain);
    expect(keyOfLast('FROM scratch\nENV X=1\nWORKDIR /app\n')).toBe(plain);
  });

  it('COPY depends on its sources, destination, --chown and --chmod, not on the environment', () => {
    expectDistinctKeys([
      'FROM scratch\nCOPY a.txt /dst/\n',
      'FROM scratch\nCOPY b.txt /dst/\n',
      'FROM scratch\nCOPY a.txt /other/\n',
      'FROM scratch\nCOPY --chown=1000:1000 a.txt /dst/\n',
      'FROM scratch\nCOPY --chmod=0600 a.txt /dst/\n',
    ]);
    expect(keyOfLast('FROM scratch\nENV X=1\nCOPY a.txt /dst/\n')).toBe(
      keyOfLast('FROM scratch\nCOPY a.txt /dst/\n'),
    );
  });

  it('ADD depends on its sources, destination, --chown, --chmod and --checksum', () => {
    expectDistinctKeys([
      'FROM scratch\nADD a.tar /dst/\n',
      'FROM scratch\nADD b.tar /dst/\n',
      'FROM scratch\nADD a.tar /other/\n',
      'FROM scratch\nADD --chown=1:1 a.tar /dst/\n',
      'FROM scratch\nADD --chmod=0600 a.tar /dst/\n',
      `FROM scratch\nADD --checksum=sha256:${'0'.repeat(64)} https://example.com/a.tar /dst/\n`,
    ]);
  });

  it('the instruction is shown on one line, keyword upper-case, as the log prints it', () => {
    const shown = displayInstruction(lastStep('FROM scratch\ncopy a.txt \\\n    /dst/\n'));
    expect(shown).toMatch(/^COPY a\.txt +\/dst\/$/);
  });
});

describe('argInputs', () => {
  it('names the ARG step’s own args (unset ones as such) and a RUN’s args in scope; other steps have none', () => {
    expect(argInputs(lastStep('FROM scratch\nARG A B=2\n', { A: '1' }))).toEqual({ A: '1', B: '2' });
    expect(argInputs(lastStep('FROM scratch\nARG A\n'))).toEqual({ A: '(unset)' });
    expect(argInputs(lastStep('FROM scratch\nARG A=x\nRUN true\n'))).toEqual({ A: 'x' });
    expect(argInputs(lastStep('FROM scratch\nARG A=x\nWORKDIR /a\n'))).toBeUndefined();
  });
});

describe('changesFilesystem', () => {
  it('is true for the steps a later step stands on (RUN, COPY, ADD, WORKDIR) and false for metadata', () => {
    const kinds = (text: string): [string, boolean][] =>
      steps(text).map((s): [string, boolean] => [s.kind, changesFilesystem(s)]);
    expect(
      kinds(
        'FROM scratch\nRUN true\nCOPY a /\nADD b /\nWORKDIR /w\nLABEL a=b\nENV A=1\nARG B\nUSER u\n' +
          'EXPOSE 80\nCMD ["x"]\nENTRYPOINT ["y"]\nVOLUME /v\nSTOPSIGNAL TERM\nSHELL ["/bin/sh", "-c"]\n' +
          'HEALTHCHECK NONE\nONBUILD RUN x\n',
      ),
    ).toEqual([
      ['run', true],
      ['copy', true],
      ['add', true],
      ['workdir', true],
      ['label', false],
      ['env', false],
      ['arg', false],
      ['user', false],
      ['expose', false],
      ['cmd', false],
      ['entrypoint', false],
      ['volume', false],
      ['stopsignal', false],
      ['shell', false],
      ['healthcheck', false],
      ['onbuild', false],
    ]);
  });
});

describe('COPY --link keys', () => {
  const PLATFORM = { os: 'linux', architecture: 'amd64' };

  it('stand on the platform alone, not on the stage: the same key on any base', () => {
    const linked = lastStep('FROM scratch\nCOPY --link a /a\n');
    expect(isLinkedCopy(linked)).toBe(true);
    expect(keyParent(linked, PARENT, PLATFORM)).toBe('link:linux/amd64');
    expect(keyParent(linked, 'sha256:' + 'f'.repeat(64), PLATFORM)).toBe('link:linux/amd64');
    expect(keyParent(linked, PARENT, { ...PLATFORM, architecture: 'arm64', variant: 'v8' })).toBe(
      'link:linux/arm64/v8',
    );
  });

  it('do not apply with --chmod (BuildKit copies in place then), nor to other steps', () => {
    for (const text of [
      'FROM scratch\nCOPY --link --chmod=600 a /a\n',
      'FROM scratch\nCOPY a /a\n',
      'FROM scratch\nRUN x\n',
    ]) {
      const step = lastStep(text);
      expect(isLinkedCopy(step)).toBe(false);
      expect(keyParent(step, PARENT, PLATFORM)).toBe(PARENT);
    }
  });

  it('leave the stage keyed by the merge of what was below and the linked layer', () => {
    const linked = lastStep('FROM scratch\nCOPY --link a /a\n');
    const key = stepKey(inputsOf(linked));
    const merged = stateKeyAfter(linked, PARENT, key);
    expect(merged).not.toBe(key);
    expect(merged).not.toBe(PARENT);
    // Either side changing changes what the next step stands on.
    expect(stateKeyAfter(linked, 'sha256:' + 'e'.repeat(64), key)).not.toBe(merged);
    expect(stateKeyAfter(linked, PARENT, stepKey({ parent: 'x', op: { instruction: 'y' } }))).not.toBe(
      merged,
    );
    // A plain filesystem step is the next parent itself; a metadata step leaves the parent as it was.
    expect(stateKeyAfter(lastStep('FROM scratch\nCOPY a /a\n'), PARENT, key)).toBe(key);
    expect(stateKeyAfter(lastStep('FROM scratch\nLABEL a=b\n'), PARENT, key)).toBe(PARENT);
  });
});
