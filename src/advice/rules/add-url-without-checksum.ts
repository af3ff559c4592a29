/**
 * `AddUrlWithoutChecksum`: `ADD http(s)://…` without `--checksum`. The step's key is then whatever the server
 * sends: it is downloaded on every build to find out, a file changed upstream changes the image unseen, and two
 * builds of the same Dockerfile need not agree.
 */
import { quote, stepFinding } from '../finding';
import type { AdviceInput, Finding, Rule } from '../types';

export const addUrlWithoutChecksum: Rule = {
  name: 'AddUrlWithoutChecksum',
  why: 'without a checksum the cache key depends on what the server returns, so the file is fetched on every build, and the build is not reproducible',
  check({ plan }: AdviceInput): Finding[] {
    const out: Finding[] = [];
    for (const stage of plan.stages) {
      stage.steps.forEach((step, i) => {
        if (step.kind !== 'add' || step.checksum !== undefined || step.fromOnBuild) return;
        const url = step.sources.find((s) => s.kind === 'url' && /^https?:\/\//i.test(s.url));
        if (url === undefined || url.kind !== 'url') return;
        out.push(
          stepFinding(
            addUrlWithoutChecksum,
            stage,
            i,
            `${quote(step)} has no --checksum: add --checksum=sha256:<the file's sha256>`,
          ),
        );
      });
    }
    return out;
  },
};
