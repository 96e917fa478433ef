/** The benchmark's results: rows of `bench/results.json`, collected while the cases run. */
import { median } from './measure';

/** One row of `bench/results.json`: one tool on one case. */
export interface ResultRow {
  case: string;
  /** `promote` for the product, else the peer's name. */
  tool: string;
  /** Wall time of each successful run, in run order. */
  runs_ms: number[];
  median_ms: number;
  /** Highest peak RSS over the runs; null for in-process cases, whose process holds everything else too. */
  peak_rss_mib: number | null;
  /** Runs that failed, with their errors; absent when none did. */
  failures?: string[];
  /** Case-specific figures, such as bytes uploaded or time beyond the copies. */
  details?: Record<string, unknown>;
}

/** Collects runs per case and tool, keeping the order in which tools first appear. */
export class ResultSet {
  readonly rows: ResultRow[] = [];

  row(caseName: string, tool: string): ResultRow {
    let row = this.rows.find((candidate) => candidate.case === caseName && candidate.tool === tool);
    if (!row) {
      row = { case: caseName, tool, runs_ms: [], median_ms: Number.NaN, peak_rss_mib: null };
      this.rows.push(row);
    }
    return row;
  }

  /** Records one successful run. */
  addRun(caseName: string, tool: string, ms: number, peakRssMib?: number): void {
    const row = this.row(caseName, tool);
    row.runs_ms.push(Math.round(ms * 10) / 10);
    row.median_ms = Math.round(median(row.runs_ms) * 10) / 10;
    if (peakRssMib !== undefined) {
      row.peak_rss_mib = Math.max(row.peak_rss_mib ?? 0, Math.round(peakRssMib * 10) / 10);
    }
  }

  addFailure(caseName: string, tool: string, error: unknown): void {
    const row = this.row(caseName, tool);
    const message = error instanceof Error ? error.message : String(error);
    (row.failures ??= []).push(message.slice(0, 500));
    console.error(`  ${caseName} ${tool} failed: ${message.slice(0, 500)}`);
  }

  /** Adds a value to a list under `details`, one entry per run. */
  addDetail(caseName: string, tool: string, key: string, value: unknown): void {
    const details = (this.row(caseName, tool).details ??= {});
    const list = (details[key] ??= []) as unknown[];
    list.push(value);
  }

  setDetail(caseName: string, tool: string, key: string, value: unknown): void {
    (this.row(caseName, tool).details ??= {})[key] = value;
  }

  forCase(caseName: string): ResultRow[] {
    return this.rows.filter((row) => row.case === caseName);
  }

  find(caseName: string, tool: string): ResultRow | undefined {
    return this.rows.find((row) => row.case === caseName && row.tool === tool);
  }
}

/** Returns the runs in an order that starts one place later each run, so no tool always goes first or last. */
export function rotated<T>(items: T[], run: number): T[] {
  return items.map((_, index) => items[(index + run) % items.length]);
}
