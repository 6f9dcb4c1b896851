import type { DeadLetterSummary } from '../../../src/core/dead-letter.js';
import type { RedriveResult } from '../../../src/core/services/dead-letters.js';
import { errorBox, table, type View, when } from '../common.js';
import { h, mount } from '../dom.js';

/** Filter calls one "Redrive all" makes at most (each redrives up to 100). */
const MAX_REDRIVE_CALLS = 20;

/**
 * Dead letters (jobs that failed their last attempt, messages no consumer could handle), newest first, with
 * redrive of the selected ones or of every open one.
 */
export const deadLettersView: View = (ctx) => {
  const message = h('div', {});
  const body = h('div', {});
  const selected = new Set<string>();
  mount(ctx.root, h('h1', {}, 'Dead letters'), message, body);

  const redrive = async (request: { ids: string[] } | { all: true }) => {
    const done = { redriven: 0, skipped: [] as string[], failed: [] as string[], more: false };
    try {
      for (let call = 0; call < MAX_REDRIVE_CALLS; call++) {
        const result = await ctx.api.post<RedriveResult>('/dead-letters/redrive', request);
        done.redriven += result.redriven.length;
        done.skipped.push(...result.skipped.map((s) => `${s.id}: ${s.message}`));
        done.failed.push(...result.failed.map((f) => `${f.id}: ${f.message}`));
        done.more = result.more;
        if ('ids' in request || !result.more || result.redriven.length === 0) break;
      }
      mount(
        message,
        h(
          'div',
          { class: done.failed.length > 0 ? 'error' : 'note', 'data-testid': 'redrive-result' },
          `Redriven: ${done.redriven}` +
            (done.skipped.length > 0 ? `; skipped ${done.skipped.join('; ')}` : '') +
            (done.failed.length > 0 ? `; failed ${done.failed.join('; ')} (try again)` : '') +
            (done.more ? '; more remain' : ''),
        ),
      );
      selected.clear();
    } catch (error) {
      mount(message, errorBox(error, 'dead-letters'));
    }
  };

  ctx.poll(5_000, async () => {
    let items: DeadLetterSummary[];
    try {
      items = (await ctx.api.get<{ items: DeadLetterSummary[] }>('/dead-letters', { limit: 100 })).items;
    } catch (error) {
      mount(body, errorBox(error, 'dead-letters'));
      return;
    }
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
            onclick: () => (selected.size > 0 ? redrive({ ids: [...selected] }) : undefined),
          },
          'Redrive selected',
        ),
        h('button', { 'data-testid': 'redrive-all', onclick: () => redrive({ all: true }) }, 'Redrive all'),
      ),
      items.length === 0
        ? h('p', { class: 'muted', 'data-testid': 'no-dead-letters' }, 'No dead letters.')
        : table(
            ['', 'Dead letter', 'Kind', 'Job / message', 'Type', 'When', 'Reason'],
            items.map((d) => [
              h('input', {
                type: 'checkbox',
                'aria-label': `Select ${d.id}`,
                checked: selected.has(d.id),
                onchange: (e) =>
                  (e.target as HTMLInputElement).checked ? selected.add(d.id) : selected.delete(d.id),
              }),
              h('span', { class: 'mono' }, d.id),
              d.kind,
              d.jobId
                ? h('a', { href: `#/jobs/${d.jobId}`, class: 'mono' }, d.jobId)
                : h(
                    'span',
                    { class: 'mono', title: d.bodyPreview ?? '' },
                    `${d.source ?? ''} ${d.messageId ?? ''}`,
                  ),
              d.type ?? '',
              when(d.createdAt),
              d.reason,
            ]),
            { 'data-testid': 'dead-letters-table' },
          ),
    );
  });
};
