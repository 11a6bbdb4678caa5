/** Structured logs of the inference server: one JSON object per line, `time` first. */
import type { Log, LogFields } from './types';

export interface LoggerOptions {
  /** Lines below this level are dropped (default info). */
  level?: LogFields['level'];
}

const RANK: Record<LogFields['level'], number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A Log writing JSON lines to `stream`. Lines carrying an `event` are part of the server process
 * protocol (the daemon reads them), so they are written whatever the level.
 */
export function createLogger(stream: NodeJS.WritableStream, options: LoggerOptions = {}): Log {
  const least = RANK[options.level ?? 'info'];
  return (fields: LogFields) => {
    if (fields.event === undefined && RANK[fields.level] < least) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), ...fields });
    } catch (error) {
      // A field that cannot be written (a cycle, a BigInt) must not take the server down.
      line = JSON.stringify({ time: new Date().toISOString(), level: fields.level, msg: fields.msg, log_error: String(error) });
    }
    stream.write(`${line}\n`);
  };
}
