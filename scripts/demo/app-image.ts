/**
 * Builds the demo application's image from the files in examples/app and pushes it, as a CI job would after a
 * build. The layers are gzip'd tar archives that a container runtime unpacks; scripts/lib/images.ts pushes them
 * with plain fetch, apart from the registry client the product uses.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type LayerFile, pushImage, type RegistryTarget } from '../lib/images';

/** A pushed build of the demo application. */
export interface AppBuild {
  version: string;
  digest: string;
  /** `host/dev/app:version`, the reference a release starts from. */
  reference: string;
}

/** Changes a build makes to the application's files before it is packed. */
export interface BuildOptions {
  version: string;
  /** Run number and time, written into the image so that every run builds a new digest. */
  buildInfo: string;
  /** The application's log level; staging's hook rejects anything but `info`. */
  logLevel: 'info' | 'debug';
}

function appFiles(root: string, options: BuildOptions): LayerFile[] {
  const dir = join(root, 'examples', 'app');
  const files: LayerFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    let content = readFileSync(path, 'utf8');
    if (name === 'config.json') {
      const changed = content.replace('"logLevel": "info"', `"logLevel": "${options.logLevel}"`);
      if (options.logLevel !== 'info' && changed === content) {
        throw new Error(`examples/app/config.json has no '"logLevel": "info"' line for the demo to change`);
      }
      content = changed;
    }
    files.push({ path: `app/${name}`, content, mode: statSync(path).mode & 0o777 });
  }
  files.push({ path: 'app/VERSION', content: `${options.version}\n` });
  files.push({ path: 'app/BUILD', content: `${options.buildInfo}\n` });
  return files;
}

/** Builds the image (a base layer and the application's layer) and pushes it to `repository` under its version. */
export async function buildAndPush(
  root: string,
  registry: RegistryTarget & { host: string },
  repository: string,
  options: BuildOptions,
): Promise<AppBuild> {
  const base: LayerFile[] = [
    { path: 'etc/os-release', content: 'NAME="image-promoter demo"\nID=promoter-demo\n' },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n' },
  ];
  const pushed = await pushImage(
    registry,
    repository,
    {
      layers: [{ files: base }, { files: appFiles(root, options) }],
      config: {
        Cmd: ['/bin/sh', '/app/run.sh'],
        User: 'app',
        WorkingDir: '/app',
        Labels: {
          'org.opencontainers.image.title': 'image-promoter demo app',
          'org.opencontainers.image.version': options.version,
        },
      },
    },
    options.version,
  );
  return {
    version: options.version,
    digest: pushed.digest,
    reference: `${registry.host}/${repository}:${options.version}`,
  };
}
