import { inspect } from 'node:util';
import type { Log } from '../core/deps.js';

export const LogLevel = {
  Debug: 'debug',
  Info: 'info',
  Warn: 'warn',
  Error: 'error',
  Silent: 'silent',
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const colors: Record<Exclude<LogLevel, 'silent'>, string> = {
  debug: '\x1b[90m',
  info: '\x1b[36m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
};

export interface ConsoleLogOptions {
  /** Lines below this level are dropped. @default 'info' */
  readonly level?: LogLevel;
  /** @default process.stderr */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** One JSON object per line instead of readable text. @default false */
  readonly json?: boolean;
}

/**
 * The core's {@link Log} port for a terminal: `12:00:01 info  Job state changed jobId=… from=QUEUED to=SUBMITTING`,
 * coloured when the stream is a TTY, or JSON lines.
 *
 * @example
 * const log = consoleLog({ level: 'debug' });
 */
export function consoleLog(options: ConsoleLogOptions = {}): Log {
  const threshold = rank[options.level ?? 'info'];
  const stream = options.stream ?? process.stderr;
  const color = Boolean(stream.isTTY) && !process.env.NO_COLOR;
  const write = (level: Exclude<LogLevel, 'silent'>, message: string, extra?: Record<string, unknown>) => {
    if (rank[level] < threshold) return;
    const now = new Date();
    if (options.json) {
      stream.write(`${JSON.stringify({ time: now.toISOString(), level, message, ...extra })}\n`);
      return;
    }
    const time = now.toISOString().slice(11, 19);
    const fields = Object.entries(extra ?? {})
      .filter(([, v]) => v !== undefined)
      .map(
        ([k, v]) =>
          `${k}=${typeof v === 'string' ? v : inspect(v, { breakLength: Number.POSITIVE_INFINITY, depth: 4 })}`,
      )
      .join(' ');
    const tag = level.padEnd(5);
    const line = `${time} ${color ? `${colors[level]}${tag}\x1b[0m` : tag} ${message}${fields ? ` ${fields}` : ''}`;
    stream.write(`${line}\n`);
  };
  return {
    debug: (message, extra) => write('debug', message, extra),
    info: (message, extra) => write('info', message, extra),
    warn: (message, extra) => write('warn', message, extra),
    error: (message, extra) => write('error', message, extra),
  };
}
