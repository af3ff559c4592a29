/**
 * Under GitHub Actions a failed build marks the Dockerfile line (`::error file=…,line=…::message`, escaped as the
 * toolkit escapes it) and the markdown report is appended to the job's summary file; elsewhere nothing happens.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendStepSummary, errorAnnotation } from '../../src/cli/github-actions';
import { BuildError, UserError } from '../../src/errors';

const GHA = (workspace: string): Record<string, string> => ({
  GITHUB_ACTIONS: 'true',
  GITHUB_WORKSPACE: workspace,
});
const TITLE = 'title=tsbuild%3A build failed';

describe('errorAnnotation', () => {
  const err = new BuildError('RUN failed', { file: 'Dockerfile', line: 12, endLine: 13 });

  test('nothing outside GitHub Actions', () => {
    expect(errorAnnotation(err, {}, '/w')).toBeUndefined();
    expect(errorAnnotation(err, { GITHUB_ACTIONS: 'false', GITHUB_WORKSPACE: '/w' }, '/w')).toBeUndefined();
    expect(errorAnnotation(err, { GITHUB_ACTIONS: '1' }, '/w')).toBeUndefined();
    expect(errorAnnotation(err, { CI: 'true' }, '/w')).toBeUndefined();
  });

  test('file, line and endLine of the error', () => {
    expect(errorAnnotation(err, GHA('/w'), '/w')).toBe(
      `::error file=Dockerfile,line=12,endLine=13,${TITLE}::RUN failed`,
    );
  });

  test('the file is relative to GITHUB_WORKSPACE, not to the current directory', () => {
    const e = new UserError('bad flag', { file: 'app.Dockerfile', line: 3, endLine: 3 });
    expect(errorAnnotation(e, GHA('/repo'), '/repo/services/api')).toBe(
      `::error file=services/api/app.Dockerfile,line=3,${TITLE}::bad flag`,
    );
    const abs = new BuildError('x', { file: '/repo/build/Dockerfile', line: 1 });
    expect(errorAnnotation(abs, GHA('/repo'), '/elsewhere')).toBe(
      `::error file=build/Dockerfile,line=1,${TITLE}::x`,
    );
  });

  test('without GITHUB_WORKSPACE the file is relative to the current directory', () => {
    const e = new BuildError('x', { file: '/src/proj/docker/Dockerfile', line: 4 });
    expect(errorAnnotation(e, { GITHUB_ACTIONS: 'true' }, '/src/proj')).toBe(
      `::error file=docker/Dockerfile,line=4,${TITLE}::x`,
    );
    expect(errorAnnotation(e, { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: '' }, '/src/proj')).toBe(
      `::error file=docker/Dockerfile,line=4,${TITLE}::x`,
    );
  });

  test('endLine only when it differs from line; no line for an error about the whole file', () => {
    const one = new BuildError('x', { file: 'Dockerfile', line: 7, endLine: 7 });
    expect(errorAnnotation(one, GHA('/w'), '/w')).toBe(`::error file=Dockerfile,line=7,${TITLE}::x`);
    const whole = new UserError('empty Dockerfile', { file: 'Dockerfile', line: 0, endLine: 0 });
    expect(errorAnnotation(whole, GHA('/w'), '/w')).toBe(
      `::error file=Dockerfile,${TITLE}::empty Dockerfile`,
    );
  });

  test('an error without a location is annotated with its message alone', () => {
    expect(errorAnnotation(new BuildError('registry unreachable'), GHA('/w'), '/w')).toBe(
      `::error ${TITLE}::registry unreachable`,
    );
  });

  test('%, \\r and \\n are escaped in the message', () => {
    const e = new BuildError('100% failed\nsecond line\r\nthird: a, b', { file: 'Dockerfile', line: 2 });
    expect(errorAnnotation(e, GHA('/w'), '/w')).toBe(
      `::error file=Dockerfile,line=2,${TITLE}::100%25 failed%0Asecond line%0D%0Athird: a, b`,
    );
  });

  test('an escape already in the message is escaped again, not taken as one', () => {
    const e = new BuildError('literal %0A here');
    expect(errorAnnotation(e, GHA('/w'), '/w')).toBe(`::error ${TITLE}::literal %250A here`);
  });

  test('`:` and `,` (and %, \\r, \\n) are escaped in properties', () => {
    const e = new BuildError('x', { file: 'dir:a,b/100%\nD', line: 5 });
    expect(errorAnnotation(e, GHA('/w'), '/w')).toBe(
      `::error file=dir%3Aa%2Cb/100%25%0AD,line=5,${TITLE}::x`,
    );
  });
});

describe('appendStepSummary', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-gha-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  test("appends to the job's summary file, keeping what earlier steps wrote", async () => {
    const file = path.join(dir, 'step_summary');
    await fsp.writeFile(file, '## tests\nall passed\n');
    const env = { GITHUB_STEP_SUMMARY: file };
    expect(await appendStepSummary('## tsbuild\n| step | cache |\n', env)).toBe(true);
    expect(await appendStepSummary('second build', env)).toBe(true);
    expect(await fsp.readFile(file, 'utf8')).toBe(
      '## tests\nall passed\n## tsbuild\n| step | cache |\nsecond build\n',
    );
  });

  test('creates the file when it does not exist yet', async () => {
    const file = path.join(dir, 'new_summary');
    expect(await appendStepSummary('# report', { GITHUB_STEP_SUMMARY: file })).toBe(true);
    expect(await fsp.readFile(file, 'utf8')).toBe('# report\n');
  });

  test('does nothing without GITHUB_STEP_SUMMARY, or with it empty', async () => {
    const file = path.join(dir, 'step_summary');
    await fsp.writeFile(file, 'before\n');
    expect(await appendStepSummary('# report', { GITHUB_ACTIONS: 'true' })).toBe(false);
    expect(await appendStepSummary('# report', { GITHUB_STEP_SUMMARY: '' })).toBe(false);
    expect(await fsp.readFile(file, 'utf8')).toBe('before\n');
    expect(await fsp.readdir(dir)).toEqual(['step_summary']);
  });
});
