import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeBus } from '../../src/aws/eventbridge-bus.js';
import { type OffpeakEvent, OffpeakEventType } from '../../src/ports/event-bus.js';

const eventbridge = mockClient(EventBridgeClient);

function bus() {
  return new EventBridgeBus({
    client: new EventBridgeClient({ region: 'eu-west-1' }),
    eventBusName: 'offpeak-bus',
  });
}

function events(count: number): OffpeakEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    detailType: i % 2 === 0 ? OffpeakEventType.JobSucceeded : OffpeakEventType.JobFailed,
    detail: { jobId: `job-${i}`, attempt: 1 },
    resources: [`job-${i}`],
  }));
}

beforeEach(() => {
  eventbridge.reset();
});

describe('EventBridgeBus', () => {
  it('puts events in chunks of 10 with source, detail type and JSON detail', async () => {
    eventbridge.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map((_, i) => ({ EventId: `e${i}` })),
    }));

    await bus().publish(events(23));

    const calls = eventbridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(calls.map((entries) => entries.length)).toEqual([10, 10, 3]);
    expect(calls[0]?.[1]).toEqual({
      Source: 'offpeak',
      DetailType: 'Job Failed',
      Detail: JSON.stringify({ jobId: 'job-1', attempt: 1 }),
      EventBusName: 'offpeak-bus',
      Resources: ['job-1'],
    });
    expect(calls.flat().map((e) => JSON.parse(e.Detail ?? '{}').jobId)).toEqual(
      Array.from({ length: 23 }, (_, i) => `job-${i}`),
    );
  });

  it('publishes nothing for no events', async () => {
    await bus().publish([]);
    expect(eventbridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('retries only the entries that failed', async () => {
    eventbridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [
          { EventId: 'a' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'oops' },
          { EventId: 'c' },
          { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' },
        ],
      })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'b' }, { EventId: 'd' }] });

    await bus().publish(events(4));

    const calls = eventbridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.map((e) => JSON.parse(e.Detail ?? '{}').jobId)).toEqual(['job-1', 'job-3']);
  });

  it('throws when entries keep failing', async () => {
    eventbridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'down' }],
    });

    await expect(bus().publish(events(1))).rejects.toMatchObject({ code: 'PutEventsFailed' });
    expect(eventbridge.commandCalls(PutEventsCommand)).toHaveLength(3);
  });
});
