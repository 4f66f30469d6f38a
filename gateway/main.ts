import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { createGateway } from './server.js';

const config = loadConfig();
const log = createLogger(config.logLevel);

const gateway = await createGateway(config, log);
const server = gateway.app.listen(config.port, config.host, () => {
  log.info(
    { port: config.port, host: config.host, store: gateway.db.kind, ...(gateway.db.kind === 'pglite' ? { dataDir: config.dataDir } : {}) },
    `FHIR gateway listening on http://${config.host}:${config.port}/fhir`,
  );
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  // Stop accepting, let requests in flight finish, then close the store (PGlite flushes its files).
  server.close(async () => {
    await gateway.close();
    process.exit(0);
  });
  setTimeout(() => process.exit(1), 10_000).unref();
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
