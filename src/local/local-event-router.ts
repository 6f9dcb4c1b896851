import type { Catalog } from '../core/catalog.js';
import { type Log, silentLog } from '../core/deps.js';
import { matchesEventPattern } from '../core/triggers/event-pattern.js';
import { uploadRulePattern } from '../core/triggers/rule-patterns.js';
import type { EventEnvelope, TriggerEventMessage } from '../core/triggers/trigger-messages.js';
import type { Queue } from '../ports/queue.js';

/** Which local bus an event is on: Offpeak's own, or the default bus (where S3 events arrive). */
export type LocalBus = 'offpeak' | 'default';

export interface LocalEventRouterOptions {
  readonly catalog: Catalog;
  /** The local Offpeak bucket (upload rules match it). */
  readonly bucketName: string;
  readonly intake: Queue;
  readonly log?: Log;
}

/**
 * EventBridge rules on one machine: an event on a local bus that matches an upload trigger's rule pattern or an
 * event trigger's pattern goes to the intake queue as `{offpeakTrigger, event}`, exactly what the rule's input
 * transformer sends on AWS. The patterns are the ones the CDK rules are deployed with.
 */
export class LocalEventRouter {
  readonly #catalog: Catalog;
  readonly #bucketName: string;
  readonly #intake: Queue;
  readonly #log: Log;

  constructor(options: LocalEventRouterOptions) {
    this.#catalog = options.catalog;
    this.#bucketName = options.bucketName;
    this.#intake = options.intake;
    this.#log = options.log ?? silentLog;
  }

  /** The triggers an event on `bus` matches, by id. */
  matches(event: EventEnvelope, bus: LocalBus): string[] {
    const triggers = this.#catalog.triggers();
    const uploads =
      bus === 'default'
        ? triggers.uploads.filter((t) => matchesEventPattern(uploadRulePattern(t, this.#bucketName), event))
        : [];
    const events = triggers.events.filter(
      (t) =>
        t.bus === bus && matchesEventPattern(t.pattern as Parameters<typeof matchesEventPattern>[0], event),
    );
    return [...uploads, ...events].map((t) => t.id);
  }

  /** Sends the event to the intake queue once per matching trigger. @returns how many matched */
  async route(event: EventEnvelope, bus: LocalBus): Promise<number> {
    const ids = this.matches(event, bus);
    for (const id of ids) {
      const message: TriggerEventMessage = { offpeakTrigger: id, event };
      await this.#intake.send(message);
      this.#log.debug('Event routed to a trigger', { trigger: id, detailType: event['detail-type'] });
    }
    return ids.length;
  }
}
