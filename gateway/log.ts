import pino, { type Logger } from 'pino';

/**
 * The gateway's logger. Health data must never reach it: log routes, statuses, counts, ids the
 * server assigned and error classes — never bodies, query strings, identifiers or names.
 */
export function createLogger(level = 'info'): Logger {
  return pino({
    level,
    base: { service: 'vn-healthbook-gateway' },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.passphrase'], censor: '[redacted]' },
  });
}

export type { Logger };
