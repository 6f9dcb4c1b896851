import { badge, errorBox, table, type View, when } from '../common.js';
import { h, mount } from '../dom.js';

/** A schedule as `GET /schedules` returns it (declared in code, created through the API, or a runAt hold). */
interface Schedule {
  readonly id: string;
  readonly origin: 'config' | 'api' | 'run-at';
  readonly jobType: string;
  readonly expression: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly state: 'ENABLED' | 'DISABLED' | 'COMPLETED';
  readonly nextFireAt?: string;
}

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
      // Show the change now rather than at the next poll.
      await refresh();
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
        jobType: type.value,
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
  const refresh = async () => {
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
              const id = s.id;
              // Declared in code: changed by a deploy, not here. A runAt hold or a finished one-time run: delete only.
              const fixed = s.origin === 'config';
              const pausable = s.origin === 'api' && s.state !== 'COMPLETED';
              return [
                h('span', { class: 'mono', title: `from ${s.origin}` }, id),
                text(s.jobType),
                h('span', { class: 'mono' }, text(s.expression)),
                text(s.timezone),
                s.state === 'COMPLETED'
                  ? badge('SKIPPED', 'completed')
                  : s.enabled
                    ? badge('SUCCEEDED', 'enabled')
                    : badge('paused', 'paused'),
                when(s.nextFireAt),
                fixed
                  ? h('span', { class: 'muted' }, 'in code')
                  : h(
                      'span',
                      { class: 'row' },
                      pausable &&
                        h(
                          'button',
                          {
                            onclick: () =>
                              run(() =>
                                ctx.api.patch(`/schedules/${encodeURIComponent(id)}`, {
                                  enabled: !s.enabled,
                                }),
                              ),
                          },
                          s.enabled ? 'Pause' : 'Resume',
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
  };
  ctx.poll(10_000, refresh);
};
