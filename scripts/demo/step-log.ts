/** Prints the demo's steps, one line each, with the seconds since the demo started. */
export class StepLog {
  private readonly startedAt = Date.now();

  /** Seconds since the demo started. */
  elapsed(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  step(message: string): void {
    process.stdout.write(`[${this.elapsed().toFixed(1).padStart(5)}s] ${message}\n`);
  }

  /** Prints lines as they are, for the final table. */
  raw(lines: string[]): void {
    process.stdout.write(lines.join('\n') + '\n');
  }
}
