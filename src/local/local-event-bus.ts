import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Clock, systemClock } from '../core/clock.js';
import { type Log, silentLog } from '../core/deps.js';
import type { EventBus, OffpeakEvent, OffpeakEventType } from '../ports/event-bus.js';
import { LocalAws } from './lambda-context.js';

/** An Offpeak event as EventBridge would deliver it to a rule target, and as it is written to `events.jsonl`. */
export interface LocalBusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': OffpeakEventType;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Readonly<Record<string, unknown>>;
}

export type LocalBusListener = (event: LocalBusEvent) => void;

export interface LocalEventBusOptions {
  /** The `.offpeak` data directory; events go to `<dataDir>/events.jsonl`. */
  readonly dataDir: string;
  /** Event `source`. @default 'offpeak' */
  readonly source?: string;
  readonly clock?: Clock;
  readonly log?: Log;
}

/**
 * The local stand-in for Offpeak's EventBridge bus: every published event is appended as one JSON line to
 * `<dataDir>/events.jsonl` (in EventBridge's envelope) and handed to in-process subscribers.
 *
 * @example
 * const bus = new LocalEventBus({ dataDir: '.offpeak' });
 * const off = bus.subscribe((e) => console.log(e['detail-type'], e.resources));
 */
export class LocalEventBus implements EventBus {
  readonly file: string;
  readonly #source: string;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #listeners = new Set<LocalBusListener>();
  /** Appends run one after another so lines of concurrent batches never interleave. */
  #writes: Promise<void> = Promise.resolve();
  #dirReady: Promise<unknown> | undefined;

  constructor(options: LocalEventBusOptions) {
    this.file = join(options.dataDir, 'events.jsonl');
    this.#source = options.source ?? 'offpeak';
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLog;
  }

  async publish(events: readonly OffpeakEvent[]): Promise<void> {
    if (events.length === 0) return;
    const time = this.#clock
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const envelopes: LocalBusEvent[] = events.map((event) => ({
      version: '0',
      id: randomUUID(),
      'detail-type': event.detailType,
      source: this.#source,
      account: LocalAws.accountId,
      time,
      region: LocalAws.region,
      resources: [...(event.resources ?? [])],
      detail: event.detail,
    }));
    const lines = envelopes.map((e) => `${JSON.stringify(e)}\n`).join('');
    this.#dirReady ??= mkdir(dirname(this.file), { recursive: true });
    const write = this.#writes.then(async () => {
      await this.#dirReady;
      await appendFile(this.file, lines, 'utf8');
    });
    // Keep the chain alive after a failed write; the caller still sees this write's error.
    this.#writes = write.catch(() => {});
    await write;
    for (const envelope of envelopes) {
      for (const listener of this.#listeners) {
        try {
          listener(envelope);
        } catch (error) {
          this.#log.warn('event bus subscriber failed', { error: String(error) });
        }
      }
    }
  }

  /** Calls `listener` for every event published from now on. @returns a function that unsubscribes. */
  subscribe(listener: LocalBusListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
