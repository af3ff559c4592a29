import { unresolvedBaseImages } from '../../src/planner';
import { plan } from './helpers';

const df = `FROM alpine AS a
FROM --platform=linux/arm64 alpine AS b
FROM a AS c
FROM debian AS unused
FROM alpine
COPY --from=b / /
COPY --from=c / /
`;

test('lists the base images of needed stages that still need resolving', () => {
  expect(unresolvedBaseImages(plan(df))).toEqual([
    {
      ref: 'docker.io/library/alpine:latest',
      platform: { os: 'linux', architecture: 'amd64' },
      stages: [0, 4],
    },
    { ref: 'docker.io/library/alpine:latest', platform: { os: 'linux', architecture: 'arm64' }, stages: [1] },
  ]);
});

test('is empty once the configs are given', () => {
  expect(unresolvedBaseImages(plan(df, { baseImage: () => ({}) }))).toEqual([]);
});
