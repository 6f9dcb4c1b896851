import type { Stats } from '../../../src/core/services/stats.js';
import { badge, card, duration, errorBox, table, type View } from '../common.js';
import { h, mount } from '../dom.js';

/** Counts by state, throughput, queues and stragglers, refreshed every 5 s. */
export const overviewView: View = (ctx) => {
  ctx.poll(5_000, async () => {
    let stats: Stats;
    try {
      stats = await ctx.api.get<Stats>('/stats');
    } catch (error) {
      mount(ctx.root, h('h1', {}, 'Overview'), errorBox(error, 'stats'));
      return;
    }
    const stragglers = stats.stragglers ?? [];
    mount(
      ctx.root,
      h(
        'h1',
        {},
        'Overview',
        h(
          'span',
          { class: 'muted', style: 'font-size:13px;font-weight:400' },
          `updated ${new Date(stats.generatedAt).toLocaleTimeString()}`,
        ),
      ),
      h(
        'div',
        { class: 'cards' },
        ['QUEUED', 'RUNNING', 'SUBMITTED', 'RETRY_WAIT', 'WAITING'].map((s) =>
          card(s.replace('_', ' ').toLowerCase(), stats.active[s] ?? 0, `count-${s}`),
        ),
        card('succeeded / h', stats.throughput.succeeded),
        card('failed / h', stats.throughput.failed, 'failed-hour'),
        card('jobs / min', stats.throughput.perMinute),
      ),
      h('h2', {}, 'Queues'),
      table(
        ['Queue', 'Waiting', 'Oldest wait', 'Running', 'Limit', 'Stuck (not started)'],
        stats.queues.map((q) => [
          h('a', { href: '#/queues' }, q.name),
          String(q.depth),
          duration(q.oldestWaitingSeconds),
          String(q.running),
          q.paused
            ? h('span', {}, String(q.concurrency), ' ', badge('paused', 'paused'))
            : String(q.concurrency),
          q.stuckRunnable > 0 ? badge('FAILED', String(q.stuckRunnable)) : '0',
        ]),
      ),
      h('h2', {}, `Finished in the last ${duration(stats.finishedWindowSeconds)}`),
      h(
        'div',
        { class: 'row' },
        Object.entries(stats.finished).map(([state, n]) =>
          h('a', { href: `#/jobs?state=${state}` }, badge(state, `${state} ${n}`)),
        ),
      ),
      h('h2', {}, 'Stragglers'),
      stragglers.length === 0
        ? h('p', { class: 'muted' }, 'No job is running abnormally long.')
        : table(
            ['Job', 'Type', 'Running', 'Limit', 'Rule'],
            stragglers.map((s) => [
              h('a', { href: `#/jobs/${s.jobId}`, class: 'mono' }, s.jobId),
              s.type,
              duration(s.runningSeconds),
              duration(s.thresholdSeconds),
              s.rule,
            ]),
            { 'data-testid': 'stragglers' },
          ),
    );
  });
};
