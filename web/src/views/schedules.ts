import { badge, errorBox, table, type View, when } from '../common.js';
import { h, mount } from '../dom.js';

type Schedule = Record<string, unknown> & { id?: string; enabled?: boolean };

const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));

/** Schedules: list, pause/resume, delete, and create one. */
export const schedulesView: View = (ctx) => {
  const message = h('div', {});
  const body = h('div', {});
  const type = h('input', { placeholder: 'job type', 'aria-label': 'Job type' });
  const expression = h('input', {
    placeholder: 'cron(0 2 * * ? *)',
    'aria-label': 'Expression',
    style: 'width:200px',
  });
  const timezone = h('input', { value: 'UTC', 'aria-label': 'Time zone', style: 'width:140px' });
  const params = h('input', { value: '{}', 'aria-label': 'Params (JSON)', style: 'width:220px' });
  const run = async (request: () => Promise<unknown>) => {
    try {
      await request();
      mount(message);
    } catch (error) {
      mount(message, errorBox(error, 'schedules'));
    }
  };
  const create = () =>
    run(async () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(params.value);
      } catch {
        throw new Error('Params must be a JSON object');
      }
      await ctx.api.post('/schedules', {
        type: type.value,
        expression: expression.value,
        timezone: timezone.value,
        params: parsed,
        enabled: true,
      });
    });
  mount(
    ctx.root,
    h('h1', {}, 'Schedules'),
    h(
      'div',
      { class: 'toolbar' },
      type,
      expression,
      timezone,
      params,
      h('button', { class: 'primary', onclick: create }, 'Create'),
    ),
    message,
    body,
  );
  ctx.poll(10_000, async () => {
    let items: Schedule[];
    try {
      items = (await ctx.api.get<{ items: Schedule[] }>('/schedules')).items;
    } catch (error) {
      mount(body, errorBox(error, 'schedules'));
      return;
    }
    mount(
      body,
      items.length === 0
        ? h('p', { class: 'muted' }, 'No schedules.')
        : table(
            ['Schedule', 'Type', 'Expression', 'Time zone', 'State', 'Next run', ''],
            items.map((s) => {
              const id = text(s.id ?? s.name);
              return [
                h('span', { class: 'mono' }, id),
                text(s.type ?? s.jobType),
                h('span', { class: 'mono' }, text(s.expression ?? s.schedule ?? s.cron)),
                text(s.timezone ?? s.timeZone ?? 'UTC'),
                s.enabled === false ? badge('paused', 'paused') : badge('SUCCEEDED', 'enabled'),
                when(text(s.nextRunAt ?? s.nextRun) || undefined),
                h(
                  'span',
                  { class: 'row' },
                  h(
                    'button',
                    {
                      onclick: () =>
                        run(() =>
                          ctx.api.patch(`/schedules/${encodeURIComponent(id)}`, {
                            enabled: s.enabled === false,
                          }),
                        ),
                    },
                    s.enabled === false ? 'Resume' : 'Pause',
                  ),
                  h(
                    'button',
                    {
                      class: 'danger',
                      onclick: () =>
                        confirm(`Delete schedule ${id}?`) &&
                        run(() => ctx.api.delete(`/schedules/${encodeURIComponent(id)}`)),
                    },
                    'Delete',
                  ),
                ),
              ];
            }),
          ),
    );
  });
};
