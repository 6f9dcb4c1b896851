import { errorBox, table, type View, when } from '../common.js';
import { h, mount } from '../dom.js';

type DeadLetter = Record<string, unknown> & { id?: string; jobId?: string };

const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));

/** Dead letters (jobs that failed their last attempt, failed messages) with redrive of the selected or all. */
export const deadLettersView: View = (ctx) => {
  const message = h('div', {});
  const body = h('div', {});
  const selected = new Set<string>();
  mount(ctx.root, h('h1', {}, 'Dead letters'), message, body);

  const redrive = async (request: Record<string, unknown>) => {
    try {
      const result = await ctx.api.post<Record<string, unknown>>('/dead-letters/redrive', request);
      mount(
        message,
        h(
          'div',
          { class: 'note', 'data-testid': 'redrive-result' },
          `Redriven: ${text(result.redriven ?? result.count ?? 'done')}`,
        ),
      );
      selected.clear();
    } catch (error) {
      mount(message, errorBox(error, 'dead-letters'));
    }
  };

  ctx.poll(5_000, async () => {
    let items: DeadLetter[];
    try {
      items = (await ctx.api.get<{ items: DeadLetter[] }>('/dead-letters', { limit: 100 })).items;
    } catch (error) {
      mount(body, errorBox(error, 'dead-letters'));
      return;
    }
    const idOf = (d: DeadLetter) => text(d.id ?? d.jobId);
    mount(
      body,
      h(
        'div',
        { class: 'toolbar' },
        h(
          'button',
          {
            class: 'primary',
            'data-testid': 'redrive-selected',
            onclick: () => redrive({ ids: [...selected] }),
          },
          'Redrive selected',
        ),
        h('button', { 'data-testid': 'redrive-all', onclick: () => redrive({ all: true }) }, 'Redrive all'),
      ),
      items.length === 0
        ? h('p', { class: 'muted' }, 'No dead letters.')
        : table(
            ['', 'Dead letter', 'Job', 'Type', 'When', 'Reason'],
            items.map((d) => {
              const id = idOf(d);
              const job = d.job as { id?: string; type?: string } | undefined;
              const jobId = text(d.jobId ?? job?.id);
              return [
                h('input', {
                  type: 'checkbox',
                  'aria-label': `Select ${id}`,
                  checked: selected.has(id),
                  onchange: (e) =>
                    (e.target as HTMLInputElement).checked ? selected.add(id) : selected.delete(id),
                }),
                h('span', { class: 'mono' }, id),
                jobId ? h('a', { href: `#/jobs/${jobId}`, class: 'mono' }, jobId) : '-',
                text(d.type ?? d.jobType ?? job?.type),
                when(text(d.deadLetteredAt ?? d.failedAt ?? d.createdAt) || undefined),
                text(d.reason ?? (d.error as { message?: string } | undefined)?.message ?? d.statusReason),
              ];
            }),
            { 'data-testid': 'dead-letters-table' },
          ),
    );
  });
};
