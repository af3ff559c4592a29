import { filesLayerForm } from '../../src/executor/layer-use';
import { plan } from '../planner/helpers';

describe('filesLayerForm: a COPY layer goes straight into a snapshot only when this build reads it as files', () => {
  test('a RUN later in the stage stacks on it; the last COPY of the final stage stays a tar', () => {
    const p = plan('FROM busybox\nCOPY package.json ./\nRUN npm ci\nCOPY . .\nCMD ["node"]\n');
    expect(filesLayerForm(p, 0, 0)).toBe('snapshot'); // COPY package.json, then RUN
    expect(filesLayerForm(p, 0, 2)).toBe('tar'); // COPY . ., then only CMD
  });

  test('a stage another stage reads (COPY --from, FROM, RUN --mount from=) is written as snapshots', () => {
    const p = plan(
      'FROM scratch AS build\nCOPY a /out/\n\nFROM scratch AS base\nCOPY b /\n\nFROM base\nCOPY --from=build /out/a /a\n',
    );
    expect(filesLayerForm(p, 0, 0)).toBe('snapshot');
    expect(filesLayerForm(p, 1, 0)).toBe('snapshot');
    expect(filesLayerForm(p, 2, 0)).toBe('tar');
    const m = plan(
      'FROM scratch AS files\nCOPY c /\n\nFROM busybox\nRUN --mount=from=files,target=/f cat /f/c\n',
    );
    expect(filesLayerForm(m, 0, 0)).toBe('snapshot');
  });
});
