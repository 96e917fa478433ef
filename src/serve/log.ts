/** Fields logged next to a message, under stable keys (`pipeline`, `digest`, `tag`, `workflowId`). */
export type LogFields = Record<string, string | number | boolean>;

/** A structured logger, the shape of the Temporal SDK's logger, so either can be passed. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Returns a logger that writes one JSON object per line (time, level, message, fields) to `stream`. */
export function createJsonLogger(stream: NodeJS.WritableStream = process.stderr): Logger {
  const write = (level: string, message: string, fields: LogFields = {}): void => {
    stream.write(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }) + '\n');
  };
  return {
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
}
