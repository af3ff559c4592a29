import { buildChecks, looksLikeSecret, skippedChecks } from '../../src/planner';
import { parseDockerfile } from '../../src/parser';
import { plan } from './helpers';

describe('SecretsUsedInArgOrEnv', () => {
  it.each([
    ['API_TOKEN', true],
    ['AWS_SECRET_ACCESS_KEY', true],
    ['DATABASE_PASSWORD', true],
    ['github_token', true],
    ['AUTH', true],
    ['secret_MESSAGE', true],
    ['apikey', true],
    ['PUBLIC_KEY', false],
    ['KEY_FILE', false],
    ['TOKEN_VERSION', false],
    ['MONKEY', false],
    ['TOKENS', false],
    ['APP_VERSION', false],
  ])('%s → %s, as BuildKit decides', (name, secret) => {
    expect(looksLikeSecret(name)).toBe(secret);
  });

  it('warns for ARG (global and in a stage) and ENV keys, with the line and BuildKit’s message', () => {
    const p = plan(
      'ARG GH_TOKEN\nFROM alpine\nARG API_TOKEN=x\nENV AWS_SECRET_ACCESS_KEY=y PORT=80\nENV PUBLIC_KEY=z\n',
    );
    expect(buildChecks(p)).toEqual([
      {
        rule: 'SecretsUsedInArgOrEnv',
        line: 1,
        message: 'Do not use ARG or ENV instructions for sensitive data (ARG "GH_TOKEN")',
      },
      {
        rule: 'SecretsUsedInArgOrEnv',
        line: 3,
        message: 'Do not use ARG or ENV instructions for sensitive data (ARG "API_TOKEN")',
      },
      {
        rule: 'SecretsUsedInArgOrEnv',
        line: 4,
        message: 'Do not use ARG or ENV instructions for sensitive data (ENV "AWS_SECRET_ACCESS_KEY")',
      },
    ]);
  });

  it('honours # check=skip=…', () => {
    const df = parseDockerfile(
      Buffer.from('# check=skip=SecretsUsedInArgOrEnv,Other;error=true\nFROM alpine\n'),
    );
    expect([...skippedChecks(df.directives)]).toEqual(['SecretsUsedInArgOrEnv', 'Other']);
    expect([...skippedChecks(parseDockerfile(Buffer.from('FROM alpine\n')).directives)]).toEqual([]);
  });
});
