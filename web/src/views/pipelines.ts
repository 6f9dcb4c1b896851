import { badge, errorBox, table, type View } from '../common.js';
import { h, mount, svg } from '../dom.js';

/** A step of `GET /pipelines/{id}` (fields read leniently). */
interface Step {
  readonly name?: string;
  readonly id?: string;
  readonly jobId?: string;
  readonly type?: string;
  readonly state?: string;
  readonly dependsOn?: string[];
  readonly job?: { id?: string; state?: string; type?: string };
}

interface Pipeline {
  readonly id?: string;
  readonly state?: string;
  readonly steps?: Step[];
}

const COLORS: Record<string, string> = {
  SUCCEEDED: '#1a7f37',
  FAILED: '#c62828',
  RUNNING: '#2f5bd3',
  SUBMITTED: '#2f5bd3',
  CANCELLED: '#b26a00',
  SKIPPED: '#b26a00',
};

/**
 * A pipeline's graph: steps in columns by depth (a step sits right of everything it depends on), edges from each
 * dependency, each node coloured by its job's state and linking to the job.
 */
export function layoutDag(
  steps: readonly Pick<Step, 'name' | 'id' | 'dependsOn'>[],
): Map<string, { column: number; row: number }> {
  const key = (s: Pick<Step, 'name' | 'id'>) => s.name ?? s.id ?? '';
  const byKey = new Map(steps.map((s) => [key(s), s]));
  const depth = new Map<string, number>();
  const visit = (k: string, seen: Set<string>): number => {
    const known = depth.get(k);
    if (known !== undefined) return known;
    if (seen.has(k)) return 0; // a cycle: the API refuses those; never loop on bad data
    seen.add(k);
    const deps = byKey.get(k)?.dependsOn ?? [];
    const d =
      deps.length === 0 ? 0 : 1 + Math.max(...deps.map((dep) => (byKey.has(dep) ? visit(dep, seen) : 0)));
    depth.set(k, d);
    return d;
  };
  const rows = new Map<number, number>();
  const out = new Map<string, { column: number; row: number }>();
  for (const s of steps) {
    const column = visit(key(s), new Set());
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    out.set(key(s), { column, row });
  }
  return out;
}

export const pipelinesView: View = (ctx) => {
  const id = ctx.params.id;
  const input = h('input', { placeholder: 'pipeline id', 'aria-label': 'Pipeline id', value: id ?? '' });
  const open = () => {
    if (input.value.trim()) window.location.hash = `#/pipelines/${encodeURIComponent(input.value.trim())}`;
  };
  input.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter') open();
  });
  const body = h('div', {});
  mount(
    ctx.root,
    h('h1', {}, 'Pipelines'),
    h('div', { class: 'toolbar' }, input, h('button', { onclick: open }, 'Open')),
    body,
  );
  if (!id) {
    mount(body, h('p', { class: 'muted' }, 'Open a pipeline by its id (from "offpeak pipelines submit").'));
    return;
  }
  ctx.poll(3_000, async () => {
    let pipeline: Pipeline;
    try {
      pipeline = await ctx.api.get<Pipeline>(`/pipelines/${encodeURIComponent(id)}`);
    } catch (error) {
      mount(body, errorBox(error, 'pipelines'));
      return;
    }
    const steps = pipeline.steps ?? [];
    const positions = layoutDag(steps);
    const W = 190;
    const H = 64;
    const columns = Math.max(1, ...[...positions.values()].map((p) => p.column + 1));
    const rows = Math.max(1, ...[...positions.values()].map((p) => p.row + 1));
    const graph = svg('svg', {
      class: 'dag',
      width: columns * W + 20,
      height: rows * H + 20,
      role: 'img',
      'aria-label': 'Pipeline graph',
    });
    const center = (k: string) => {
      const p = positions.get(k) ?? { column: 0, row: 0 };
      return { x: 10 + p.column * W, y: 10 + p.row * H };
    };
    for (const s of steps) {
      const to = center(s.name ?? s.id ?? '');
      for (const dep of s.dependsOn ?? []) {
        const from = center(dep);
        graph.append(
          svg('path', {
            d: `M${from.x + 150},${from.y + 20} C${from.x + 170},${from.y + 20} ${to.x - 20},${to.y + 20} ${to.x},${to.y + 20}`,
            fill: 'none',
            stroke: '#9aa3b2',
            'stroke-width': 1.5,
          }),
        );
      }
    }
    for (const s of steps) {
      const k = s.name ?? s.id ?? '';
      const { x, y } = center(k);
      const state = s.state ?? s.job?.state ?? 'WAITING';
      const jobId = s.jobId ?? s.job?.id;
      const node = svg(
        'g',
        {},
        svg('rect', {
          x,
          y,
          width: 150,
          height: 40,
          rx: 6,
          fill: '#fff',
          stroke: COLORS[state] ?? '#9aa3b2',
          'stroke-width': 2,
        }),
        svg('text', { x: x + 10, y: y + 17 }, k),
        svg('text', { x: x + 10, y: y + 32, fill: COLORS[state] ?? '#626b7a' }, state),
      );
      graph.append(jobId ? svg('a', { href: `#/jobs/${jobId}` }, node) : node);
    }
    mount(
      body,
      h('h2', {}, pipeline.id ?? id, ' ', pipeline.state ? badge(pipeline.state) : null),
      h('div', { class: 'panel', style: 'overflow:auto' }, graph),
      table(
        ['Step', 'Job', 'Type', 'State', 'After'],
        steps.map((s) => [
          s.name ?? s.id ?? '',
          (s.jobId ?? s.job?.id)
            ? h('a', { href: `#/jobs/${s.jobId ?? s.job?.id}`, class: 'mono' }, s.jobId ?? s.job?.id ?? '')
            : '-',
          s.type ?? s.job?.type ?? '',
          badge(s.state ?? s.job?.state ?? 'WAITING'),
          (s.dependsOn ?? []).join(', '),
        ]),
      ),
    );
  });
};
