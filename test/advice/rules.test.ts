/**
 * Each advice rule on small Dockerfiles written for it: flagged where it should be (rule, line, place in the plan,
 * message), and quiet on the near misses that a careless rule would flag.
 */
import { adviseOn, RULES, type ContextFacts, type Finding } from '../../src/advice';
import { defaultCheckOptions } from '../../src/parser';
import { plan } from '../planner/helpers';

function findings(dockerfile: string, context?: ContextFacts): Finding[] {
  return adviseOn({ plan: plan(dockerfile), context }, defaultCheckOptions());
}

/** The findings of one rule, as [rule, line]. */
function rules(rule: string, dockerfile: string, context?: ContextFacts): [string, number][] {
  return findings(dockerfile, context)
    .filter((f) => f.rule === rule)
    .map((f) => [f.rule, f.line]);
}

const df = (...lines: string[]): string => `${lines.join('\n')}\n`;

describe('CopyAllBeforeInstall', () => {
  test('npm ci after COPY . . with no manifest copied first', () => {
    const f = findings(df('FROM node:20', 'WORKDIR /app', 'COPY . .', 'RUN npm ci', 'RUN npm run build'));
    expect(f).toEqual([
      {
        rule: 'CopyAllBeforeInstall',
        line: 4,
        stage: 'stage-0',
        stageIndex: 0,
        stepIndex: 4,
        message:
          'npm ci installs dependencies after COPY . . (line 3): copy the manifests (package.json, ' +
          'package-lock.json) first, then install, then COPY . .',
        why: expect.stringContaining('every source edit re-runs it'),
      },
    ]);
  });

  test.each([
    ['RUN pip install --no-cache-dir -r requirements.txt', 'pip install -r requirements.txt'],
    ['RUN python3 -m pip install -r reqs/prod.txt', 'pip install -r reqs/prod.txt'],
    ['RUN go mod download && go build ./...', 'go mod download'],
    ['RUN bundle install --jobs 4', 'bundle install'],
    ['RUN cargo build --release', 'cargo build'],
    ['RUN composer install --no-dev', 'composer install'],
    ['RUN mvn -B dependency:go-offline', 'mvn dependency:go-offline'],
    ['RUN ./gradlew dependencies', 'gradlew dependencies'],
    ['RUN yarn --frozen-lockfile', 'yarn'],
    ['RUN pnpm install --frozen-lockfile', 'pnpm install'],
    ['RUN set -e; if [ -f x ]; then npm install; fi', 'npm install'],
    ['RUN sh -c "cd /app && npm ci"', 'npm ci'],
    ['RUN ["npm", "ci"]', 'npm ci'],
    ['RUN <<EOF\nset -eux\nDEBIAN_FRONTEND=x npm ci\nEOF', 'npm ci'],
  ])('%s after ADD . /app is an install', (run, label) => {
    const f = findings(df('FROM base', 'ADD . /app', run));
    expect(f.map((x) => x.rule)).toEqual(['CopyAllBeforeInstall']);
    expect(f[0].message).toContain(`${label} installs dependencies after ADD . /app (line 2)`);
  });

  test('the manifests copied first but the install left after COPY . . is told to move up', () => {
    const f = findings(df('FROM golang', 'COPY go.mod go.sum ./', 'COPY . .', 'RUN go mod download'));
    expect(f).toHaveLength(1);
    expect(f[0].message).toBe(
      'go mod download installs dependencies after COPY . . (line 3), though COPY go.mod go.sum ./ (line 2) ' +
        'brought the manifests in first: run the install right after that COPY, then install, then COPY . .',
    );
  });

  test('a stage built FROM a stage that copied the context inherits the copy', () => {
    const f = findings(df('FROM node AS src', 'COPY . /app', 'FROM src AS deps', 'RUN npm ci'));
    expect(f.map((x) => [x.rule, x.line, x.stage, x.stepIndex])).toEqual([
      ['CopyAllBeforeInstall', 4, 'deps', 2],
    ]);
    expect(f[0].message).toContain('after COPY . /app (line 2 in stage src)');
  });

  test.each([
    [
      'the manifests-first order',
      df('FROM node', 'COPY package*.json ./', 'RUN npm ci', 'COPY . .', 'RUN npm test'),
    ],
    [
      'adding a package by name',
      df('FROM node', 'COPY . .', 'RUN npm install -g typescript', 'RUN npm i left-pad'),
    ],
    ['pip install of the project itself', df('FROM python', 'COPY . .', 'RUN pip install .')],
    ['COPY --from a stage, not the context', df('FROM node', 'COPY --from=other:1 . .', 'RUN npm ci')],
    ['a subdirectory, not the whole context', df('FROM node', 'COPY src/ ./src/', 'RUN npm ci')],
    ['the word in an echo', df('FROM node', 'COPY . .', 'RUN echo "npm ci"x')],
  ])('quiet for %s', (_name, dockerfile) => {
    expect(rules('CopyAllBeforeInstall', dockerfile)).toEqual([]);
  });
});

describe('VolatileArgBeforeSlowSteps', () => {
  test('an ARG GIT_COMMIT before RUN steps that do not use it, used by a LABEL at the end', () => {
    const f = findings(
      df('FROM alpine', 'ARG GIT_COMMIT', 'RUN apk add --no-cache curl', 'RUN make', 'LABEL rev=$GIT_COMMIT'),
    );
    expect(f.map((x) => [x.rule, x.line, x.stepIndex])).toEqual([['VolatileArgBeforeSlowSteps', 2, 2]]);
    expect(f[0].message).toBe(
      'ARG GIT_COMMIT looks per-build and comes before 2 RUN steps that do not use it (lines 3 and 4): each new ' +
        'value re-runs them; declare it as late as possible: just before line 5, which uses it',
    );
  });

  test('a RUN that uses it: declare it just before that RUN, not before the RUNs ahead of it', () => {
    const f = findings(
      df('FROM alpine', 'ARG BUILD_DATE', 'RUN make deps', 'RUN echo "${BUILD_DATE}" > /built', 'RUN make'),
    );
    expect(f.map((x) => x.line)).toEqual([2]);
    expect(f[0].message).toContain('before 1 RUN step that do not use it (line 3)');
    expect(f[0].message).toContain('declare it just before line 4, the first step that uses it');
  });

  test.each([
    ['ENV with a per-build value', df('FROM alpine', 'ARG X', 'ENV COMMIT_SHA=$X', 'RUN make'), 3],
    ['ARG VERSION with a placeholder default', df('FROM alpine', 'ARG VERSION=dev', 'RUN make'), 2],
    ['ARG whose default names a per-build var', df('FROM alpine', 'ARG V=${CI_COMMIT_SHA}', 'RUN make'), 2],
    ['GITHUB_SHA', df('FROM alpine', 'ARG GITHUB_SHA', 'RUN make'), 2],
    ['BUILD_NUMBER', df('FROM alpine', 'ARG BUILD_NUMBER=0', 'RUN make'), 2],
  ])('flags %s', (_name, dockerfile, line) => {
    expect(findings(dockerfile).map((f) => [f.rule, f.line])).toEqual([['VolatileArgBeforeSlowSteps', line]]);
  });

  test('a commit id passed with --build-arg makes any ARG per-build', () => {
    const p = plan(df('FROM alpine', 'ARG REV', 'RUN make'), {
      args: { REV: '3f9c2e1d0b8a7c6e5f4d3c2b1a09f8e7d6c5b4a3' },
    });
    expect(adviseOn({ plan: p }, defaultCheckOptions()).map((f) => f.rule)).toEqual([
      'VolatileArgBeforeSlowSteps',
    ]);
  });

  test.each([
    ['a pinned tool version', df('FROM alpine', 'ARG NODE_VERSION=20.11.1', 'RUN make')],
    ['a version with no default', df('FROM alpine', 'ARG APP_VERSION', 'RUN make')],
    [
      'a per-build ARG first used by the first RUN',
      df('FROM alpine', 'ARG GIT_COMMIT', 'RUN echo $GIT_COMMIT'),
    ],
    [
      'a per-build ARG after the last RUN',
      df('FROM alpine', 'RUN make', 'ARG GIT_COMMIT', 'LABEL r=$GIT_COMMIT'),
    ],
    ['a checksum pin', df('FROM alpine', 'ARG TOOL_SHA256=abc', 'RUN make')],
    ['a GitLab variable that does not change per build', df('FROM alpine', 'ARG CI_REGISTRY', 'RUN make')],
  ])('quiet for %s', (_name, dockerfile) => {
    expect(rules('VolatileArgBeforeSlowSteps', dockerfile)).toEqual([]);
  });
});

describe('AptUpdateSeparate', () => {
  test('apt-get update alone, apt-get install in a later RUN', () => {
    const f = findings(df('FROM debian', 'RUN apt-get update', 'RUN apt-get install -y curl'));
    expect(f.map((x) => [x.rule, x.line, x.stepIndex])).toEqual([['AptUpdateSeparate', 2, 2]]);
    expect(f[0].message).toBe(
      'apt-get update runs alone in this RUN and apt-get install comes in a later one (line 3): run them in one ' +
        'RUN (apt-get update && apt-get install -y …)',
    );
  });

  test('the install in a stage built FROM the one with the update, reported once for two such stages', () => {
    const f = findings(
      df(
        'FROM debian AS base',
        'RUN apt update',
        'FROM base AS a',
        'RUN apt install -y x',
        'FROM base',
        'RUN apt-get install y',
      ),
    );
    expect(f.map((x) => [x.rule, x.line, x.stage])).toEqual([['AptUpdateSeparate', 2, 'base']]);
    expect(f[0].message).toContain('(line 4 in stage a)');
  });

  test.each([
    ['update and install in one RUN', df('FROM debian', 'RUN apt-get update && apt-get install -y curl')],
    ['an update no RUN installs after', df('FROM debian', 'RUN apt-get update', 'RUN echo done')],
    ['apt-get in a word only', df('FROM debian', 'RUN echo apt-get update', 'RUN apt-get install -y x')],
  ])('quiet for %s', (_name, dockerfile) => {
    expect(rules('AptUpdateSeparate', dockerfile)).toEqual([]);
  });
});

describe('AddUrlWithoutChecksum', () => {
  test('ADD https://… without --checksum', () => {
    const f = findings(df('FROM alpine', 'ADD https://example.com/tool.tgz /opt/'));
    expect(f.map((x) => [x.rule, x.line])).toEqual([['AddUrlWithoutChecksum', 2]]);
    expect(f[0].message).toBe(
      "ADD https://example.com/tool.tgz /opt/ has no --checksum: add --checksum=sha256:<the file's sha256>",
    );
  });

  test.each([
    [
      'with --checksum',
      df('FROM alpine', `ADD --checksum=sha256:${'a'.repeat(64)} https://example.com/t /t`),
    ],
    ['a local file', df('FROM alpine', 'ADD tool.tgz /opt/')],
    ['COPY', df('FROM alpine', 'COPY https.txt /opt/')],
  ])('quiet %s', (_name, dockerfile) => {
    expect(rules('AddUrlWithoutChecksum', dockerfile)).toEqual([]);
  });
});

describe('ContextWithoutDockerignore', () => {
  const dockerfile = df('FROM node', 'RUN true', 'COPY . /app', 'COPY . /again');

  test('.git and node_modules in the context, no .dockerignore: at the first whole-context copy', () => {
    const f = findings(dockerfile, { ignoreFile: null, included: ['.git', 'node_modules'] });
    expect(f.map((x) => [x.rule, x.line, x.stepIndex])).toEqual([['ContextWithoutDockerignore', 3, 3]]);
    expect(f[0].message).toBe(
      'COPY . /app copies the whole context, which holds .git and node_modules, and there is no .dockerignore: ' +
        'add .git/ and node_modules/ to .dockerignore',
    );
  });

  test('a .dockerignore that leaves one of them in', () => {
    const f = findings(dockerfile, { ignoreFile: '/ctx/.dockerignore', included: ['node_modules'] });
    expect(f[0].message).toContain('holds node_modules, and .dockerignore does not leave it out');
  });

  test.each([
    ['nothing left in', { ignoreFile: '/ctx/.dockerignore', included: [] }, dockerfile],
    ['the context unknown', undefined, dockerfile],
    ['no whole-context copy', { ignoreFile: null, included: ['.git'] }, df('FROM node', 'COPY src /app')],
  ])('quiet with %s', (_name, context, text) => {
    expect(rules('ContextWithoutDockerignore', text, context)).toEqual([]);
  });
});

describe('CopyLinkCandidate', () => {
  test('the final stage only copies build outputs onto an image', () => {
    const f = findings(
      df(
        'FROM node AS build',
        'RUN make',
        'FROM nginx:1.25',
        'WORKDIR /srv',
        'COPY --from=build /out /usr/share/nginx/html',
        'COPY --chown=101:101 conf/ /etc/nginx/conf.d/',
        'CMD ["nginx"]',
      ),
    );
    expect(f.map((x) => [x.rule, x.line, x.stage, x.stepIndex])).toEqual([
      ['CopyLinkCandidate', 5, 'stage-1', 3],
      ['CopyLinkCandidate', 6, 'stage-1', 4],
    ]);
    expect(f[0].message).toBe(
      'COPY --from=build /out /usr/share/nginx/html could be COPY --link: the stage only copies onto nginx:1.25, ' +
        'so its layer would then survive a bump of nginx:1.25 instead of being copied again',
    );
  });

  test.each([
    ['already linked', 'COPY --link x /app/'],
    ['a relative destination', 'COPY x app/'],
    ['--chown by name', 'COPY --chown=nginx x /app/'],
    ['--chmod', 'COPY --chmod=755 x /app/'],
    ['a destination under a usrmerge symlink', 'COPY x /bin/x'],
    ['a RUN after it', 'COPY x /app/\nRUN make'],
  ])('quiet for %s', (_name, copy) => {
    expect(rules('CopyLinkCandidate', df('FROM nginx', copy))).toEqual([]);
  });

  test.each([
    ['a RUN before it', df('FROM nginx', 'RUN true', 'COPY x /app/')],
    ['a scratch base', df('FROM scratch', 'COPY x /app/')],
    ['a stage base', df('FROM nginx AS a', 'RUN true', 'FROM a', 'COPY x /app/')],
  ])('quiet with %s', (_name, dockerfile) => {
    expect(rules('CopyLinkCandidate', dockerfile)).toEqual([]);
  });
});

describe('SecretsUsedInArgOrEnv (BuildKit’s, from the planner)', () => {
  test('a finding with its place, and a global ARG with none', () => {
    const f = findings(df('ARG GH_TOKEN', 'FROM alpine', 'ENV API_TOKEN=x'));
    expect(f.map((x) => [x.rule, x.line, x.stage, x.stepIndex])).toEqual([
      ['SecretsUsedInArgOrEnv', 1, null, null],
      ['SecretsUsedInArgOrEnv', 3, 'stage-0', 2],
    ]);
  });
});

test('a Dockerfile with none of the anti-patterns has no findings', () => {
  const clean = df(
    '# syntax=docker/dockerfile:1',
    'FROM node:20 AS build',
    'WORKDIR /app',
    'COPY package.json package-lock.json ./',
    'RUN npm ci',
    'COPY . .',
    'RUN npm run build',
    'RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*',
    `ADD --checksum=sha256:${'0'.repeat(64)} https://example.com/tool.tgz /opt/`,
    'ARG NODE_ENV=production',
    'ENV NODE_ENV=$NODE_ENV',
    'RUN npm prune',
    '',
    'FROM nginx:1.25',
    'COPY --link --from=build /app/dist /usr/share/nginx/html',
    'ARG GIT_COMMIT',
    'LABEL org.opencontainers.image.revision=$GIT_COMMIT',
  );
  expect(findings(clean, { ignoreFile: '/ctx/.dockerignore', included: [] })).toEqual([]);
});

test('every rule has a CamelCase name and a one-line why', () => {
  for (const rule of RULES) {
    expect(rule.name).toMatch(/^(?:[A-Z][a-z]+)+$/);
    expect(rule.why).not.toContain('\n');
    expect(rule.why.length).toBeGreaterThan(20);
  }
});
