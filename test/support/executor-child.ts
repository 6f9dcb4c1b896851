/**
 * A LocalExecutor in a process of its own, for the crash tests: it submits one job (`sh -c <script>`), prints
 * `<executorJobId> <pid file>` and waits to be killed (kill -9), as the local service dies in a crash.
 *
 * Usage: node --import tsx test/support/executor-child.ts <dataDir> <script>
 */
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { newJobId } from '../../src/core/ids.js';
import { executorJobName } from '../../src/core/job-name.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import { LocalExecutor } from '../../src/local/local-executor.js';

const [dataDir, script] = process.argv.slice(2);
if (!dataDir || !script) throw new Error('usage: executor-child.ts <dataDir> <script>');
const catalog = new Catalog(
  buildCatalogData({
    jobTypes: [{ name: 'crashy', image: 'busybox', command: ['sh', '-c', script] }],
    queues: defaultQueues,
  }),
);
const executor = new LocalExecutor({ catalog, dataDir, slots: 2, sink: async () => {} });
const jobId = newJobId();
const { executorJobId } = await executor.submit({
  jobId,
  jobName: executorJobName('crashy', jobId),
  jobType: 'crashy',
  queue: 'normal',
  attempt: 1,
  environment: {},
  timeoutSeconds: 60,
  tags: {},
});
process.stdout.write(`${executorJobId}\n`);
setInterval(() => {}, 60_000);
