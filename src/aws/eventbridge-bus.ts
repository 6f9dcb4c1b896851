import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { RetryableError } from '../core/errors.js';
import type { EventBus, OffpeakEvent } from '../ports/event-bus.js';

export interface EventBridgeBusOptions {
  readonly client: EventBridgeClient;
  readonly eventBusName: string;
  /** @default 'offpeak' */
  readonly source?: string;
  /** Attempts for entries PutEvents reports as failed. @default 3 */
  readonly attempts?: number;
}

/** PutEvents limits: 10 entries and 256 KiB per call. */
const PUT_ENTRIES = 10;
const PUT_BYTES = 256 * 1024;

/**
 * The EventBus port on an EventBridge bus: Offpeak's own events (`Job Succeeded`, …) with source `offpeak`.
 *
 * @example
 * const events = new EventBridgeBus({ client: clients.eventbridge, eventBusName: env.OFFPEAK_EVENT_BUS_NAME });
 * await events.publish([{ detailType: OffpeakEventType.JobSucceeded, detail: { jobId }, resources: [jobId] }]);
 */
export class EventBridgeBus implements EventBus {
  readonly #client: EventBridgeClient;
  readonly #eventBusName: string;
  readonly #source: string;
  readonly #attempts: number;

  constructor(options: EventBridgeBusOptions) {
    this.#client = options.client;
    this.#eventBusName = options.eventBusName;
    this.#source = options.source ?? 'offpeak';
    this.#attempts = options.attempts ?? 3;
  }

  async publish(events: readonly OffpeakEvent[]): Promise<void> {
    const entries = events.map(
      (event): PutEventsRequestEntry => ({
        Source: this.#source,
        DetailType: event.detailType,
        Detail: JSON.stringify(event.detail),
        EventBusName: this.#eventBusName,
        ...(event.resources !== undefined && event.resources.length > 0
          ? { Resources: [...event.resources] }
          : {}),
      }),
    );
    for (const chunk of chunksOf(entries)) await this.#put(chunk);
  }

  async #put(entries: PutEventsRequestEntry[]): Promise<void> {
    let pending = entries;
    let lastErrors: string[] = [];
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > this.#attempts) {
        throw new RetryableError(
          'PutEventsFailed',
          `${pending.length} events could not be put on ${this.#eventBusName}: ${lastErrors.join(', ')}`,
        );
      }
      if (attempt > 1) await sleep(Math.random() * 100 * 2 ** attempt);
      const result = await this.#client.send(new PutEventsCommand({ Entries: pending }));
      if (!result.FailedEntryCount) return;
      // Result entries line up with request entries; failed ones carry an ErrorCode.
      const results = result.Entries ?? [];
      const failed = pending.filter((_, index) => results[index]?.ErrorCode !== undefined || !results[index]);
      lastErrors = results.flatMap((r) => (r.ErrorCode ? [`${r.ErrorCode}: ${r.ErrorMessage ?? ''}`] : []));
      pending = failed;
    }
  }
}

function chunksOf(entries: PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
  const chunks: PutEventsRequestEntry[][] = [];
  let chunk: PutEventsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (chunk.length > 0 && (chunk.length === PUT_ENTRIES || bytes + size > PUT_BYTES)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(entry);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** The entry size as EventBridge counts it (source, detail type, detail, resources; time adds 14 bytes). */
function entrySize(entry: PutEventsRequestEntry): number {
  const text = [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])].join('');
  return Buffer.byteLength(text, 'utf8') + 14;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
