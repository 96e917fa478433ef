/** Text and JSON output of the `promote` subcommands: one line per fact, tables for lists. */

/** A labelled value; facts whose value is undefined or empty are left out. */
export type Fact = [label: string, value: string | number | boolean | null | undefined];

/** Prints a value as one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Prints a failed command's error as `{"error":{"message","exitCode"}}` on stdout, the one shape every command
 * uses with --json, so a script reading stdout learns the outcome as well as the exit code.
 */
export function printErrorJson(message: string, exitCode: number): void {
  printJson({ error: { message, exitCode } });
}

/** Formats facts as `label  value` lines with the values aligned. */
export function formatFacts(facts: Fact[]): string {
  const present = facts.filter(([, value]) => value !== undefined && value !== null && value !== '');
  const width = Math.max(0, ...present.map(([label]) => label.length));
  return present.map(([label, value]) => `${label.padEnd(width)}  ${String(value)}`).join('\n');
}

/** Prints facts, one per line. */
export function printFacts(facts: Fact[]): void {
  const text = formatFacts(facts);
  if (text) {
    process.stdout.write(text + '\n');
  }
}

/** Formats rows under upper-case headers, columns separated by two spaces; the last column is not padded. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const formatRow = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [formatRow(headers.map((header) => header.toUpperCase())), ...rows.map(formatRow)].join('\n');
}

/** Prints a table. */
export function printTable(headers: string[], rows: string[][]): void {
  process.stdout.write(formatTable(headers, rows) + '\n');
}

/** Shortens `sha256:<64 hex>` to `sha256:<12 hex>` for tables; full digests stay in facts and JSON. */
export function shortDigest(digest: string | null | undefined): string {
  if (!digest) {
    return '-';
  }
  const colon = digest.indexOf(':');
  return colon < 0 ? digest : digest.slice(0, colon + 13);
}

/** Formats an ISO 8601 time as `YYYY-MM-DD HH:MM:SSZ` (UTC), or `-` when absent. */
export function formatTime(iso: string | Date | undefined): string {
  if (!iso) {
    return '-';
  }
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(date.getTime())) {
    return String(iso);
  }
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}
