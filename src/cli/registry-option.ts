import { InvalidArgumentError } from 'commander';
import { parseRegistryHost } from '../oci/reference';

/** Collects a repeatable registry option (`--insecure`), checking each value is `host[:port]`. */
export function collectRegistryHost(value: string, previous: string[]): string[] {
  try {
    return [...previous, parseRegistryHost(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}
