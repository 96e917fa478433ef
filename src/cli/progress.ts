import type { ProgressEvent } from '../oci';

const REDRAW_INTERVAL_MS = 100;
const BAR_WIDTH = 24;

function formatSize(bytes: number): string {
  if (bytes < 1024 * 1024) {
    return `${(bytes / 1024).toFixed(1)} KiB`;
  }
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function shortDigest(digest: string): string {
  return digest.slice(0, 'sha256:'.length + 12);
}

/**
 * Draws one line per blob in flight on a terminal, redrawn at most every 100 ms, and a line per
 * finished blob or manifest above them. Meant for stderr when it is a TTY.
 */
export class ProgressRenderer {
  private readonly active = new Map<string, { done: number; total: number }>();
  private drawnLines = 0;
  private lastDraw = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  readonly onProgress = (event: ProgressEvent): void => {
    switch (event.kind) {
      case 'blob-progress':
        this.active.set(event.digest, { done: event.done, total: event.total });
        if (Date.now() - this.lastDraw >= REDRAW_INTERVAL_MS) {
          this.draw();
        }
        return;
      case 'blob-verified':
        this.finish(event.digest, `copied   ${shortDigest(event.digest)} ${formatSize(event.size)}`);
        return;
      case 'blob-mounted':
        this.finish(event.digest, `mounted  ${shortDigest(event.digest)} ${formatSize(event.size)}`);
        return;
      case 'blob-skipped':
        this.finish(event.digest, `exists   ${shortDigest(event.digest)} ${formatSize(event.size)}`);
        return;
      case 'manifest-pushed':
        this.finish(event.digest, `manifest ${shortDigest(event.digest)} ${event.mediaType}`);
        return;
    }
  };

  /** Removes the in-flight lines, leaving the finished ones. */
  close(): void {
    this.active.clear();
    this.erase();
  }

  private finish(digest: string, line: string): void {
    this.active.delete(digest);
    this.erase();
    this.stream.write(`${line}\n`);
    this.draw();
  }

  private erase(): void {
    if (this.drawnLines > 0) {
      // Move up over the lines drawn last time and clear to the end of the screen.
      this.stream.write(`\x1b[${this.drawnLines}F\x1b[J`);
      this.drawnLines = 0;
    }
  }

  private draw(): void {
    this.erase();
    const lines = [...this.active].map(([digest, { done, total }]) => {
      const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
      const bar = '='.repeat(filled).padEnd(BAR_WIDTH, ' ');
      return `         ${shortDigest(digest)} [${bar}] ${formatSize(done)} / ${formatSize(total)}`;
    });
    if (lines.length > 0) {
      this.stream.write(lines.join('\n') + '\n');
    }
    this.drawnLines = lines.length;
    this.lastDraw = Date.now();
  }
}
