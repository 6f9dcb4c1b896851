import type { JobProgress } from '../../src/core/observability/progress.js';
import { type Api, ApiError } from './api.js';
import { type Child, h } from './dom.js';

export { duration } from '../../src/cli/format.js';

/** What a view gets: the API, where to draw, the route's parameters and query. */
export interface ViewContext {
  readonly api: Api;
  readonly root: HTMLElement;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Calls `tick` now and every `ms` until the view is left; errors are shown, not thrown. */
  poll(ms: number, tick: () => Promise<void>): void;
}

/** A view: draws into `ctx.root`; its polls stop when it is left. */
export type View = (ctx: ViewContext) => void;

export function badge(state: string, label = state): HTMLElement {
  return h('span', { class: `badge ${state}`, 'data-state': state }, label);
}

export function progressBar(progress: JobProgress | undefined, state: string, big = false): HTMLElement {
  const fraction = progress?.fraction;
  const width = fraction === undefined ? 0 : Math.round(fraction * 100);
  return h(
    'div',
    {
      class: `bar ${big ? 'big' : ''} ${state}`,
      role: 'progressbar',
      'aria-valuenow': width,
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      title: fraction === undefined ? 'no progress reported' : `${width}%`,
    },
    h('span', { style: `width:${width}%` }),
  );
}

/** `2026-11-23 10:00:01` in the browser's time zone. */
export function when(iso: string | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The message shown for a failed request: a missing route says which feature this deployment lacks. */
export function errorBox(error: unknown, feature?: string): HTMLElement {
  if (error instanceof ApiError && error.routeMissing) {
    return h(
      'div',
      { class: 'note', 'data-testid': 'route-missing' },
      `This deployment has no ${feature ?? 'such'} route yet. `,
      h(
        'span',
        { class: 'muted' },
        'Upgrade Offpeak to a version with this feature; the rest of the dashboard works without it.',
      ),
    );
  }
  return h('div', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error));
}

export function table(
  headers: readonly string[],
  rows: readonly Child[][],
  attrs: Record<string, string> = {},
): HTMLElement {
  return h(
    'table',
    attrs,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((cells) =>
        h(
          'tr',
          {},
          cells.map((c) => h('td', {}, c)),
        ),
      ),
    ),
  );
}

export function card(label: string, value: string | number, testId?: string): HTMLElement {
  return h(
    'div',
    { class: 'card', ...(testId ? { 'data-testid': testId } : {}) },
    h('div', { class: 'n' }, String(value)),
    h('div', { class: 'l' }, label),
  );
}
