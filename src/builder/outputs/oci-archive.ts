import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BuildLog } from '../build-log.js';
import type { ContainerConfig } from '../description/model.js';
import { runLogged } from '../steps/run-logged.js';
import { creationTime, imageReferences, ociImageConfig } from './oci-config.js';
import { indexedBlock, tarIndexOptions } from './tar-index.js';
import { tempNameFor } from './write-atomic.js';

const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  // Uncompressed: the whole archive is xz-compressed, a gzip layer inside would only cost time.
  layer: 'application/vnd.oci.image.layer.v1.tar',
  index: 'application/vnd.oci.image.index.v1+json',
};

export interface ContainerArchiveInput {
  kind: 'oci' | 'docker';
  /** The root tree's tar (treeExportArgv's, with CONTAINER_EXCLUDES): the one layer, moved into the layout. */
  layerFile: string;
  /** A scratch directory of the build (the layout is assembled here). */
  workDir: string;
  container: ContainerConfig;
  debianArch: string;
  /** The result file, NAME.ARCH-VERSION.{oci,docker}.tar (compress-image.ts makes it .tar.xz). */
  file: string;
  log: BuildLog;
  signal?: AbortSignal;
}

/**
 * The container results. oci: an OCI image layout (oci-layout, index.json, blobs/sha256)
 * with one layer, the config from `<containerconfig>` and the reference name:tag, as
 * KIWI's skopeo copy to oci-archive writes it. docker: `docker save`'s format
 * (manifest.json with every RepoTag, config, layer.tar). Both tarred.
 */
export async function writeContainerArchive(input: ContainerArchiveInput): Promise<{ references: string[]; digest: string; layerOffset?: number }> {
  const { log, workDir } = input;
  const signal = input.signal ? { signal: input.signal } : {};
  const layout = path.join(workDir, input.kind);
  fs.rmSync(layout, { recursive: true, force: true });
  const blobs = path.join(layout, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const layerTemp = path.join(layout, 'layer.tar');
  fs.renameSync(input.layerFile, layerTemp);
  const layerDigest = await sha256File(layerTemp);
  const layerSize = fs.statSync(layerTemp).size;
  const references = imageReferences(input.container);
  const config = ociImageConfig(input.container, { debianArch: input.debianArch, diffIds: [`sha256:${layerDigest}`], created: creationTime() });
  const configBlob = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBlob);
  let members: string[];
  let manifestDigest: string;
  let layerMember: string;
  if (input.kind === 'oci') {
    fs.renameSync(layerTemp, path.join(blobs, layerDigest));
    layerMember = `blobs/sha256/${layerDigest}`;
    fs.writeFileSync(path.join(blobs, configDigest), configBlob);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: { mediaType: MEDIA.config, digest: `sha256:${configDigest}`, size: configBlob.length },
        layers: [{ mediaType: MEDIA.layer, digest: `sha256:${layerDigest}`, size: layerSize }],
      }),
    );
    manifestDigest = sha256(manifest);
    fs.writeFileSync(path.join(blobs, manifestDigest), manifest);
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.index,
      // KIWI exports only the main reference to an oci-archive (additional names are docker's).
      manifests: [{ mediaType: MEDIA.manifest, digest: `sha256:${manifestDigest}`, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': references[0] } }],
    };
    fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
    fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    members = ['oci-layout', 'index.json', 'blobs'];
  } else {
    fs.mkdirSync(path.join(layout, layerDigest));
    fs.renameSync(layerTemp, path.join(layout, layerDigest, 'layer.tar'));
    layerMember = `${layerDigest}/layer.tar`;
    fs.writeFileSync(path.join(layout, `${configDigest}.json`), configBlob);
    const manifest = [{ Config: `${configDigest}.json`, RepoTags: references, Layers: [`${layerDigest}/layer.tar`] }];
    fs.writeFileSync(path.join(layout, 'manifest.json'), JSON.stringify(manifest));
    manifestDigest = configDigest;
    members = ['manifest.json', `${configDigest}.json`, layerDigest];
  }
  const temp = tempNameFor(input.file);
  const index = `${layout}.index`;
  let layerOffset: number | undefined;
  try {
    const tar = ['tar', '--create', `--file=${temp}`, `--directory=${layout}`, '--numeric-owner', '--owner=0', '--group=0', '--sort=name', ...tarIndexOptions(index)];
    await runLogged([...tar, ...members], { log, step: 'container', ...signal });
    layerOffset = memberDataOffset(temp, fs.readFileSync(index, 'utf8'), layerMember);
    fs.renameSync(temp, input.file);
  } finally {
    fs.rmSync(temp, { force: true });
    fs.rmSync(index, { force: true });
    fs.rmSync(layout, { recursive: true, force: true });
  }
  return { references, digest: `sha256:${manifestDigest}`, ...(layerOffset === undefined ? {} : { layerOffset }) };
}

/**
 * Where a member's bytes begin in a tar, from tar's index ("block N: NAME"): after its one
 * 512-byte header, checked to be that member's. Undefined when the index has no such line
 * or the header is another (a long name's or a pax header first).
 */
export function memberDataOffset(archive: string, index: string, member: string): number | undefined {
  const block = indexedBlock(index, member);
  if (block === undefined) return undefined;
  const header = Buffer.alloc(512);
  const fd = fs.openSync(archive, 'r');
  try {
    fs.readSync(fd, header, 0, 512, block * 512);
  } finally {
    fs.closeSync(fd);
  }
  const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
  return name === member ? (block + 1) * 512 : undefined;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
