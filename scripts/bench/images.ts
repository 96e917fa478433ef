/** The source images of the benchmark, pushed to registry A when a case first needs them. */
import { MiB } from './measure';
import { type ImageSpec, pushImage, pushIndex, type PushedManifest } from '../lib/images';
import type { LocalRegistry } from '../lib/registry';

/** A pushed image and the reference the tools copy it from, `HOST/REPOSITORY:TAG`. */
export interface SourceImage {
  image: PushedManifest;
  repository: string;
  reference: string;
}

function randomLayers(count: number, mib: number): ImageSpec['layers'] {
  return Array.from({ length: count }, () => ({ randomBytes: mib * MiB }));
}

/** Pushes each image once, on first use, so a run of a few cases pushes only what those cases copy. */
export class BenchImages {
  private readonly pushed = new Map<string, Promise<SourceImage>>();

  constructor(private readonly registry: LocalRegistry) {}

  /** 5 layers of 40 MiB of random data (incompressible, as built binaries mostly are). */
  fiveByForty(): Promise<SourceImage> {
    return this.once('bench/five', () => pushImage(this.registry, 'bench/five', { layers: randomLayers(5, 40) }, 'v1'));
  }

  /** An OCI index over 3 platforms, each an image of 2 layers of 10 MiB. */
  threePlatforms(): Promise<SourceImage> {
    return this.once('bench/index', async () => {
      const platforms = [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
        { os: 'linux', architecture: 's390x' },
      ];
      const children: PushedManifest[] = [];
      for (const platform of platforms) {
        children.push(await pushImage(this.registry, 'bench/index', { platform, layers: randomLayers(2, 10) }));
      }
      return pushIndex(this.registry, 'bench/index', children, { tag: 'v1' });
    });
  }

  /** One layer of 1 GiB. */
  oneGiB(): Promise<SourceImage> {
    return this.once('bench/large', () => pushImage(this.registry, 'bench/large', { layers: randomLayers(1, 1024) }, 'v1'));
  }

  /** `count` small images with distinct digests in `bench/many`, tagged `i0`, `i1`, ... */
  async many(count: number): Promise<SourceImage[]> {
    const images: SourceImage[] = [];
    for (let start = 0; start < count; start += 10) {
      const batch = Array.from({ length: Math.min(10, count - start) }, (_, offset) => start + offset);
      images.push(
        ...(await Promise.all(
          batch.map(async (index) => {
            const layers = [{ files: [{ path: 'etc/build-id', content: `build ${index}\n` }] }];
            const image = await pushImage(this.registry, 'bench/many', { layers }, `i${index}`);
            return { image, repository: 'bench/many', reference: `${this.registry.host}/bench/many:i${index}` };
          }),
        )),
      );
    }
    return images;
  }

  private once(repository: string, push: () => Promise<PushedManifest>): Promise<SourceImage> {
    let pending = this.pushed.get(repository);
    if (!pending) {
      pending = push().then((image) => ({ image, repository, reference: `${this.registry.host}/${repository}:v1` }));
      this.pushed.set(repository, pending);
    }
    return pending;
  }
}
