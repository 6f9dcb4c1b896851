import type { Job } from '../../../src/core/job.js';
import { jobStates } from '../../../src/core/job-state.js';
import { badge, duration, errorBox, table, type View, when } from '../common.js';
import { h, mount } from '../dom.js';

interface Page {
  readonly items: Job[];
  readonly cursor?: string;
}

const PAGE_SIZE = 50;
let jobTypes: string[] | undefined;

/**
 * Jobs, newest first, filtered by state and type, one server-side page at a time (fast with any number of jobs),
 * refreshed every 3 s. Filters and the page live in the URL (`#/jobs?state=FAILED&type=hello&cursor=…`), so a
 * view can be bookmarked and the back button works.
 */
export const jobsView: View = (ctx) => {
  const state = ctx.query.get('state') ?? '';
  const type = ctx.query.get('type') ?? '';
  const cursor = ctx.query.get('cursor') ?? '';
  const go = (q: Record<string, string>) => {
    const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== ''));
    window.location.hash = `#/jobs${params.size > 0 ? `?${params}` : ''}`;
  };
  const stateSelect = h(
    'select',
    {
      'aria-label': 'State',
      'data-testid': 'filter-state',
      onchange: (e) => go({ state: (e.target as HTMLSelectElement).value, type }),
    },
    h('option', { value: '' }, 'All states'),
    jobStates.map((s) => h('option', { value: s, selected: s === state }, s)),
  );
  const typeSelect = h(
    'select',
    {
      'aria-label': 'Type',
      'data-testid': 'filter-type',
      onchange: (e) => go({ state, type: (e.target as HTMLSelectElement).value }),
    },
    h('option', { value: '' }, 'All types'),
  );
  const fillTypes = () => {
    for (const t of jobTypes ?? []) typeSelect.append(h('option', { value: t, selected: t === type }, t));
  };
  if (jobTypes) fillTypes();
  else
    void ctx.api.get<{ items: { name: string }[] }>('/job-types').then(
      (r) => {
        jobTypes = r.items.map((t) => t.name);
        fillTypes();
      },
      () => undefined,
    );
  const body = h('div', {});
  mount(
    ctx.root,
    h('h1', {}, 'Jobs'),
    h(
      'div',
      { class: 'toolbar' },
      stateSelect,
      typeSelect,
      h('span', { class: 'muted' }, 'refreshes every 3 s'),
    ),
    body,
  );

  ctx.poll(3_000, async () => {
    let page: Page;
    try {
      page = await ctx.api.get<Page>('/jobs', { state, type, limit: PAGE_SIZE, cursor });
    } catch (error) {
      mount(body, errorBox(error));
      return;
    }
    const rows = page.items.map((j) => [
      h('a', { href: `#/jobs/${j.id}`, class: 'mono', 'data-testid': 'job-link' }, j.id),
      j.type,
      badge(j.state),
      when(j.createdAt),
      duration(j.finishedAt ? (Date.parse(j.finishedAt) - Date.parse(j.createdAt)) / 1000 : undefined),
      `${j.attempt}/${j.maxAttempts}`,
      j.exitCode !== undefined ? String(j.exitCode) : '',
      j.statusReason ?? '',
    ]);
    mount(
      body,
      page.items.length === 0
        ? h('p', { class: 'muted', 'data-testid': 'no-jobs' }, 'No jobs match.')
        : table(['Job', 'Type', 'State', 'Created', 'Took', 'Attempt', 'Exit', 'Reason'], rows, {
            'data-testid': 'jobs-table',
          }),
      h(
        'div',
        { class: 'pager' },
        cursor ? h('button', { onclick: () => history.back() }, '← Newer') : null,
        h('span', { class: 'muted' }, `${page.items.length} shown`),
        page.cursor
          ? h(
              'button',
              { 'data-testid': 'next-page', onclick: () => go({ state, type, cursor: page.cursor ?? '' }) },
              'Older →',
            )
          : null,
      ),
    );
  });
};
