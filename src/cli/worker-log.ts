/**
 * Log output of `promote worker`: one line per entry, so that a log file can be searched with grep, and JSON lines
 * with --json. The SDK's own output is multi-line, and its native core writes ANSI colours even to a file.
 */
import { Runtime } from '@temporalio/worker';
import type { Logger, LogLevel, LogMetadata } from '@temporalio/common';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** Formats a metadata value for a text line: strings as they are unless they contain spaces, the rest as JSON. */
function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return /[\s"]/.test(value) ? JSON.stringify(value) : value;
  }
  if (value instanceof Error) {
    return JSON.stringify(value.message);
  }
  return JSON.stringify(value) ?? String(value);
}

/** Formats one log entry as a line: text (`time LEVEL message key=value …`) or a JSON object. */
export function formatLogLine(
  level: LogLevel,
  message: string,
  meta: LogMetadata | undefined,
  json: boolean,
  time = new Date(),
): string {
  const fields = Object.entries(meta ?? {}).filter(([, value]) => value !== undefined);
  if (json) {
    const values = Object.fromEntries(
      fields.map(([key, value]) => [key, value instanceof Error ? value.message : value]),
    );
    return JSON.stringify({ time: time.toISOString(), level, message, ...values });
  }
  const details = fields.map(([key, value]) => `${key}=${formatValue(value)}`).join(' ');
  return `${time.toISOString()} ${level} ${message}${details ? ` ${details}` : ''}`;
}

/** A logger that writes each entry at or above `minimum` as one line on stderr. */
export class LineLogger implements Logger {
  constructor(
    private readonly json: boolean,
    private readonly minimum: LogLevel = 'INFO',
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (LEVELS.indexOf(level) >= LEVELS.indexOf(this.minimum)) {
      process.stderr.write(formatLogLine(level, message, meta, this.json) + '\n');
    }
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** Sends the SDK's log entries, the native core's included, through a LineLogger; call before any connection. */
export function installWorkerLogger(json: boolean): LineLogger {
  const logger = new LineLogger(json);
  Runtime.install({ logger, telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } } });
  return logger;
}
