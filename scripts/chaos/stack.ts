/**
 * Everything a chaos run starts: two registries, each behind a fault proxy, the source images, a Temporal dev
 * server, the worker processes and a client. Kept in one object so that a run that fails half-way still stops all
 * of it.
 */
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { RegistryClient } from '../../src/oci/client';
import { pushImage } from '../lib/images';
import { type LocalRegistry, startRegistry } from '../lib/registry';
import { FaultProxy } from './fault-proxy';
import { imageLayers, type PlannedRelease, type StageLocation, type TargetStage } from './plan';
import { TemporalSupervisor, WorkerSupervisor } from './supervisor';

/** An image the run pushed to the source repository. */
export interface SourceImage {
  tag: string;
  digest: string;
  /** Config and layer digests. */
  blobs: string[];
}

/** Repository of every stage; dev and test share registry A (copies mount), staging and prod share B (copies upload). */
const REPOSITORIES = { dev: 'chaos/dev', test: 'chaos/test', staging: 'chaos/staging', prod: 'chaos/prod' };
const REGISTRY_OF = { dev: 0, test: 0, staging: 1, prod: 1 } as const;

export class ChaosStack {
  readonly registries: LocalRegistry[] = [];
  readonly proxies: FaultProxy[] = [];
  readonly temporal: TemporalSupervisor;
  /** Registry client of the run itself, for starting releases; it goes through the proxies like the workers. */
  readonly registryClient = new RegistryClient();
  workers?: WorkerSupervisor;
  private connection?: Connection;

  constructor(readonly runDir: string) {
    this.temporal = new TemporalSupervisor(join(runDir, 'temporal.db'));
  }

  /** Starts two registries, each behind a fault proxy whose faults are still off. */
  async startRegistries(seed: number, faultRate: number): Promise<void> {
    this.registries.push(await startRegistry(), await startRegistry());
    for (const [index, upstream] of this.registries.entries()) {
      const proxy = new FaultProxy({ name: `registry-${'ab'[index]}`, upstream: upstream.url, seed, faultRate });
      await proxy.start();
      this.proxies.push(proxy);
    }
  }

  /** Pushes the image of every planned release to the source repository, directly, not through a proxy. */
  async pushImages(releases: PlannedRelease[], seed: number): Promise<SourceImage[]> {
    const images: SourceImage[] = [];
    for (const release of releases) {
      const layers = imageLayers(seed, release.index);
      const pushed = await pushImage(this.registries[REGISTRY_OF.dev], REPOSITORIES.dev, { layers }, release.tag);
      images.push({ tag: release.tag, digest: pushed.digest, blobs: pushed.blobs.map((blob) => blob.digest) });
    }
    return images;
  }

  /** Returns where each stage lives as the workers reach it, through the proxies. */
  stageLocations(): StageLocation {
    const at = (stage: keyof typeof REPOSITORIES) => ({
      host: this.proxies[REGISTRY_OF[stage]].host,
      repository: REPOSITORIES[stage],
    });
    return { dev: at('dev'), test: at('test'), staging: at('staging'), prod: at('prod') };
  }

  /** Returns the registry URL and repository of a stage, for reading it directly. */
  direct(stage: TargetStage | 'dev'): { url: string; repository: string } {
    return { url: this.registries[REGISTRY_OF[stage]].url, repository: REPOSITORIES[stage] };
  }

  /** Starts the Temporal dev server and the workers, and returns a client of the server. */
  async startTemporal(workers: number, log: (message: string) => void): Promise<Client> {
    await this.temporal.start();
    this.workers = new WorkerSupervisor({
      count: workers,
      temporalAddress: this.temporal.address,
      runDir: this.runDir,
      log,
    });
    await this.workers.startAll();
    this.connection = await Connection.connect({ address: this.temporal.address });
    return new Client({ connection: this.connection });
  }

  setFaults(on: boolean): void {
    for (const proxy of this.proxies) {
      if (on) {
        proxy.enableFaults();
      } else {
        proxy.disableFaults();
      }
    }
  }

  /** Stops everything that was started, the client first and the registries last. */
  async stop(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    await this.workers?.stopAll();
    await this.temporal.stop();
    await this.registryClient.close();
    for (const proxy of this.proxies) {
      await proxy.close();
    }
    for (const registry of this.registries) {
      await registry.stop();
    }
  }
}
