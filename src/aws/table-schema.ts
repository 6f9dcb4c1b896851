/**
 * The single DynamoDB table's key schema, shared by the CDK stack, the local resource bootstrap and the adapter,
 * so the three cannot drift. All attributes are strings; `expiresAt` (epoch seconds) is the TTL attribute.
 *
 * Items:
 * - job:               pk `JOB#<id>`             sk `JOB`
 * - idempotency key:   pk `IDEM#<key>`           sk `IDEM`        (expiresAt = retention)
 * - slot counter:      pk `SLOTS#<counter>`      sk `SLOTS`       (`used`, `version`, `changedAt`, `lastRelease`);
 *                      counters: `queue#<q>`, `type#<t>`, `key#<t>#<value>`, `resource#<r>`
 * - dependency edge:   pk `DEPS#<dependencyId>`  sk `<dependentId>`
 * - limit override:    pk `CONFIG`               sk `queue#<q>` | `resource#<r>` (one query reads them all)
 * - token bucket:      pk `RATE#<bucket>`        sk `RATE`        (`tokens`, `updatedAtMs`, `blockedUntilMs`, `version`)
 * - alert latch:       pk `ALERT#<key>`          sk `ALERT`       (`alertedAt`)
 * - pipeline:          pk `PIPELINE#<id>`        sk `PIPELINE`    (state-index `PIPELINES#CREATING` until created)
 * - schedule:          pk `SCHEDULES`            sk `SCHEDULE#<id>`  (one-time ones: expiresAt a month after)
 * - schedule cursor:   pk `SCHEDULES`            sk `CURSOR#<id>`    (the local scheduler's progress)
 * - dead letter:       pk `DEADLETTER#<id>`       sk `DEADLETTER`   (listed through the indexes below with their own
 *                      `DEADLETTERS#…` partitions: GSI overloading, see dynamo-dead-letter-store.ts)
 * - message failure:   pk `MSGFAIL#<messageId>`   sk `MSGFAIL`      (expiresAt: the last error of a failing message)
 */
export const TableKeys = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
} as const;

/** Global secondary indexes: name, partition key and sort key attribute names. All project ALL. */
export const TableIndexes = {
  /** Sparse: only QUEUED jobs carry gsi1pk `QUEUE#<queue>`; gsi1sk orders dispatch (priority, then FIFO/LIFO). */
  queue: { name: 'queue-index', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  /** gsi2pk `STATE#<state>`, gsi2sk `<stateChangedAt ISO>#<id>`: jobs by state, oldest first. */
  state: { name: 'state-index', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  /** gsi3pk `TYPE#<type>`, gsi3sk `<id>`: jobs by type, by creation time. */
  type: { name: 'type-index', partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
  /** gsi4pk `CREATED#<yyyy-mm>`, gsi4sk `<id>`: all jobs by creation month, so listing never scans. */
  created: { name: 'created-index', partitionKey: 'gsi4pk', sortKey: 'gsi4sk' },
} as const;

/** Environment variables that carry resource names to the Lambdas (and to the local service). */
export const EnvVars = {
  table: 'OFFPEAK_TABLE',
  bucket: 'OFFPEAK_BUCKET',
  intakeQueueUrl: 'OFFPEAK_INTAKE_QUEUE_URL',
  dispatchQueueUrl: 'OFFPEAK_DISPATCH_QUEUE_URL',
  eventsQueueUrl: 'OFFPEAK_EVENTS_QUEUE_URL',
  eventBusName: 'OFFPEAK_EVENT_BUS_NAME',
  /** JSON object: Offpeak queue name → Batch job queue ARN. */
  jobQueues: 'OFFPEAK_JOB_QUEUES',
  /** JSON object: job type name → Batch job definition ARN (with revision). */
  jobDefinitions: 'OFFPEAK_JOB_DEFINITIONS',
  /** JSON catalog, for tests and tools; Lambdas get the catalog bundled in at build time instead. */
  catalog: 'OFFPEAK_CATALOG',
  /** JSON object: job type name → CloudWatch Logs group of its containers (`GET /jobs/{id}/logs`, dead letters). */
  jobLogGroups: 'OFFPEAK_JOB_LOG_GROUPS',
  /** JSON object: dead-letter queue ARN → the queue role it catches (`intake`, `dispatch`, `events`, `eventbridge`). */
  deadLetterSources: 'OFFPEAK_DEAD_LETTER_SOURCES',
  /** JSON object of core settings overriding the defaults (see `Settings`), e.g. `{"idempotencyRetentionHours":48}`. */
  settings: 'OFFPEAK_SETTINGS',
  /** Base URL of the web dashboard, for links in notifications and job views. */
  dashboardUrl: 'OFFPEAK_DASHBOARD_URL',
} as const;
