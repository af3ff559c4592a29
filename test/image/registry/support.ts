/** Test images for the registry tests, made from the offline busybox layout with real tools. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MediaType } from '../../../src/image/oci-types';
import { sha256, skopeoCopy } from '../../helpers/registry';

/**
 * Copy the busybox layout to `dir` and add a two-platform index tagged `multi`: the real linux/amd64 image
 * and a linux/arm64 one whose config says arm64 (the same busybox layer: nothing here runs it).
 */
export async function makeMultiArchLayout(busybox: string, dir: string): Promise<void> {
  await fsp.cp(busybox, dir, { recursive: true });
  const blob = (d: string): string => path.join(dir, 'blobs', 'sha256', d.slice(7));
  const put = async (data: string): Promise<{ digest: string; size: number }> => {
    const digest = sha256(data);
    await fsp.writeFile(blob(digest), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const index = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; size: number; mediaType: string }[];
  };
  const amd64 = index.manifests[0] as { digest: string; size: number; mediaType: string };
  const manifest = JSON.parse(await fsp.readFile(blob(amd64.digest), 'utf8')) as {
    config: { digest: string; size: number };
  };
  const config = JSON.parse(await fsp.readFile(blob(manifest.config.digest), 'utf8')) as Record<
    string,
    unknown
  >;
  const armConfig = await put(JSON.stringify({ ...config, architecture: 'arm64' }));
  const armManifest = await put(
    JSON.stringify({
      ...manifest,
      config: { ...manifest.config, digest: armConfig.digest, size: armConfig.size },
    }),
  );
  const multi = await put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          ...sizeDigest(amd64),
          platform: { os: 'linux', architecture: 'amd64' },
        },
        {
          mediaType: MediaType.ociManifest,
          ...armManifest,
          platform: { os: 'linux', architecture: 'arm64' },
        },
      ],
    }),
  );
  index.manifests.push({
    mediaType: MediaType.ociIndex,
    ...multi,
    annotations: { 'org.opencontainers.image.ref.name': 'multi' },
  } as (typeof index.manifests)[number]);
  await fsp.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
}

function sizeDigest(d: { digest: string; size: number }): { digest: string; size: number } {
  return { digest: d.digest, size: d.size };
}

/** Push the test images every registry test file starts from. */
export async function seedRegistry(host: string, busybox: string, multiLayout?: string): Promise<void> {
  if (multiLayout !== undefined) {
    // zstd first: once the registry holds the gzip layer, skopeo would reuse it instead of recompressing.
    await skopeoCopy(`oci:${busybox}:latest`, `docker://${host}/busybox-zstd:latest`, [
      '--dest-compress',
      '--dest-compress-format',
      'zstd',
    ]);
  }
  await skopeoCopy(`oci:${busybox}:latest`, `docker://${host}/busybox:latest`);
  if (multiLayout !== undefined) {
    await skopeoCopy(`oci:${busybox}:latest`, `docker://${host}/busybox-v2:latest`, ['--format', 'v2s2']);
    await skopeoCopy(`oci:${multiLayout}:multi`, `docker://${host}/multi:latest`, ['--all']);
  }
}
