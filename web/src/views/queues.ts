import type { Stats } from '../../../src/core/services/stats.js';
import { ApiError } from '../api.js';
import { badge, duration, errorBox, table, type View } from '../common.js';
import { h, mount } from '../dom.js';

/** A queue as `GET /queues` returns it: the limit in force (run-time override or the catalog's) and its use. */
interface QueueItem {
  readonly name: string;
  readonly paused: boolean;
  readonly concurrency: { readonly limit: number; readonly default: number; readonly used: number };
  /** QUEUED jobs, counted up to a cap (`queuedCapped`). */
  readonly queued: number;
  readonly queuedCapped: boolean;
}

/** A shared resource as `GET /resources` returns it. */
interface ResourceItem {
  readonly name: string;
  readonly limit: number;
  readonly defaultLimit: number;
  readonly used: number;
}

/**
 * Queues and shared resources with their limits and current use; pause/resume a queue and change a limit
 * (`PATCH /queues/{name}`, `PATCH /resources/{name}`). On a deployment without those routes the queues are shown
 * read-only from `/stats`, and the view says why.
 */
export const queuesView: View = (ctx) => {
  const body = h('div', {});
  const message = h('div', {});
  mount(ctx.root, h('h1', {}, 'Queues and resources'), message, body);

  const change = async (kind: 'queues' | 'resources', name: string, patch: Record<string, unknown>) => {
    try {
      await ctx.api.patch(`/${kind}/${encodeURIComponent(name)}`, patch);
      mount(message);
      // Show the change now rather than at the next poll.
      await refresh();
    } catch (error) {
      mount(message, errorBox(error, kind));
    }
  };

  const refresh = async () => {
    const stats = await ctx.api.get<Stats>('/stats', { stragglers: false }).catch(() => undefined);
    let queues: QueueItem[];
    try {
      queues = (await ctx.api.get<{ items: QueueItem[] }>('/queues')).items;
    } catch (error) {
      if (!(error instanceof ApiError && error.routeMissing)) {
        mount(body, errorBox(error));
        return;
      }
      mount(
        body,
        h(
          'div',
          { class: 'note', 'data-testid': 'route-missing' },
          'This deployment has no queues route yet: limits are shown read-only from the stats, and pausing or changing limits needs an Offpeak with the queues API.',
        ),
        h('h2', {}, 'Queues'),
        table(
          ['Queue', 'Waiting', 'Oldest wait', 'Running', 'Limit'],
          (stats?.queues ?? []).map((q) => [
            q.name,
            String(q.depth),
            duration(q.oldestWaitingSeconds),
            `${q.running}`,
            String(q.concurrency),
          ]),
          { 'data-testid': 'queues-table' },
        ),
      );
      return;
    }
    const resources = await ctx.api.get<{ items: ResourceItem[] }>('/resources').then(
      (r) => r.items,
      () => undefined,
    );
    const statsOf = (name: string) => stats?.queues.find((q) => q.name === name);
    mount(
      body,
      h('h2', {}, 'Queues'),
      table(
        ['Queue', 'State', 'Waiting', 'Oldest wait', 'Running', 'Limit', ''],
        queues.map((q) => {
          const limit = q.concurrency.limit;
          const input = h('input', {
            type: 'number',
            min: 0,
            value: limit,
            style: 'width:90px',
            'aria-label': `Limit of ${q.name}`,
            title:
              limit === q.concurrency.default
                ? 'the catalog’s limit'
                : `changed at run time (the catalog says ${q.concurrency.default})`,
          });
          return [
            q.name,
            q.paused ? badge('paused', 'paused') : badge('SUCCEEDED', 'active'),
            q.queuedCapped ? `${q.queued}+` : String(q.queued),
            duration(statsOf(q.name)?.oldestWaitingSeconds),
            String(q.concurrency.used),
            h(
              'span',
              { class: 'row' },
              input,
              h(
                'button',
                { onclick: () => change('queues', q.name, { concurrency: Number(input.value) }) },
                'Set',
              ),
            ),
            q.paused
              ? h(
                  'button',
                  {
                    'data-testid': `resume-${q.name}`,
                    onclick: () => change('queues', q.name, { paused: false }),
                  },
                  'Resume',
                )
              : h(
                  'button',
                  {
                    'data-testid': `pause-${q.name}`,
                    onclick: () => change('queues', q.name, { paused: true }),
                  },
                  'Pause',
                ),
          ];
        }),
        { 'data-testid': 'queues-table' },
      ),
      resources
        ? [
            h('h2', {}, 'Shared resources'),
            table(
              ['Resource', 'In use', 'Limit', ''],
              resources.map((r) => {
                const input = h('input', {
                  type: 'number',
                  min: 0,
                  value: r.limit,
                  style: 'width:90px',
                  'aria-label': `Limit of ${r.name}`,
                });
                return [
                  r.name,
                  String(r.used),
                  input,
                  h(
                    'button',
                    { onclick: () => change('resources', r.name, { limit: Number(input.value) }) },
                    'Set',
                  ),
                ];
              }),
            ),
          ]
        : null,
    );
  };
  ctx.poll(4_000, refresh);
};
