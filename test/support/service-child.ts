/**
 * The local service in a process of its own, for the crash-restart proofs: started with the reliability workload's
 * catalog and the options given as JSON, it prints `READY <url>` once it serves HTTP, stops cleanly on SIGTERM, and
 * is killed with SIGKILL (by the harness, or by an injected crash) to prove that a crash loses nothing.
 *
 * Usage: node --import tsx test/support/service-child.ts '{"dataDir": "…", "faults": {…}, "settings": {…}}'
 */
import { join } from 'node:path';
import { consoleLog } from '../../src/local/console-log.js';
import { startLocalService } from '../../src/local/service.js';
import { type ServiceChildOptions, workloadCatalog } from './reliability-workload.js';

const options = JSON.parse(process.argv[2] ?? '{}') as ServiceChildOptions;
const service = await startLocalService({
  catalogData: workloadCatalog,
  dataDir: options.dataDir,
  port: 0,
  slots: options.slots ?? 8,
  dispatchIntervalMs: 500,
  reconcileIntervalMs: 1_000,
  visibilityTimeoutSeconds: 5,
  killGraceMs: 1_000,
  ...(options.settings ? { settings: options.settings } : {}),
  ...(options.faults
    ? { faults: options.faults, faultStatsFile: join(options.dataDir, 'fault-stats.json') }
    : {}),
  log: consoleLog({ level: process.env.OFFPEAK_CHILD_LOG_LEVEL === 'debug' ? 'debug' : 'error' }),
});
process.stdout.write(`READY ${service.url}\n`);
process.once('SIGTERM', () => {
  void service.stop().then(() => process.exit(0));
});
