import { isTerminal } from '../../../src/core/job-state.js';
import { type ChunkCellState, chunkCells } from '../../../src/core/observability/chunk-cells.js';
import type { JobView } from '../../../src/core/observability/job-view.js';
import type { LogLine } from '../../../src/ports/log-reader.js';
import { badge, duration, errorBox, progressBar, table, type View, when } from '../common.js';
import { h, mount } from '../dom.js';

interface LogsPage {
  readonly attempt: number;
  readonly found: boolean;
  readonly lines: LogLine[];
  readonly cursor?: string;
  readonly location?: string;
  readonly complete: boolean;
}

const MAX_LOG_LINES = 5_000;

/**
 * One job: state and actions, progress (bar, counts, rate, ETA), chunk grid, details, attempts with resource
 * usage, history, and its log (any attempt, any chunk), followed live while the job runs.
 */
export const jobView: View = (ctx) => {
  const id = ctx.params.id ?? '';
  const header = h('div', {});
  const details = h('div', {});
  const logBox = h('pre', { class: 'log', 'data-testid': 'log' }, 'Loading the log…');
  const logMeta = h('span', { class: 'muted mono' });
  const attemptSelect = h('select', { 'aria-label': 'Attempt', 'data-testid': 'log-attempt' });
  const chunkInput = h('input', {
    type: 'number',
    min: 0,
    placeholder: 'chunk',
    'aria-label': 'Chunk',
    style: 'width:90px',
  });
  let log: { attempt?: number; chunk?: number; cursor?: string; lines: string[]; complete: boolean } = {
    lines: [],
    complete: false,
  };
  const resetLog = () => {
    log = {
      ...(attemptSelect.value ? { attempt: Number(attemptSelect.value) } : {}),
      ...(chunkInput.value !== '' ? { chunk: Number(chunkInput.value) } : {}),
      lines: [],
      complete: false,
    };
    logBox.textContent = 'Loading the log…';
    void readLog();
  };
  attemptSelect.addEventListener('change', resetLog);
  chunkInput.addEventListener('change', resetLog);

  mount(
    ctx.root,
    header,
    details,
    h('h2', {}, 'Log'),
    h('div', { class: 'toolbar' }, attemptSelect, chunkInput, logMeta),
    logBox,
  );

  let job: JobView | undefined;
  const readLog = async () => {
    if (log.complete) return;
    try {
      for (let pages = 0; pages < 10; pages++) {
        const page = await ctx.api.get<LogsPage>(`/jobs/${id}/logs`, {
          attempt: log.attempt,
          chunk: log.chunk,
          cursor: log.cursor,
          limit: 1000,
        });
        log.lines.push(...page.lines.map((l) => l.message));
        if (log.lines.length > MAX_LOG_LINES) log.lines.splice(0, log.lines.length - MAX_LOG_LINES);
        log.cursor = page.cursor ?? log.cursor;
        log.complete = page.complete;
        logMeta.textContent = page.location ?? '';
        const atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
        logBox.textContent =
          log.lines.length > 0
            ? log.lines.join('\n')
            : page.found
              ? '(empty)'
              : '(no log yet: the attempt has not started)';
        if (atBottom) logBox.scrollTop = logBox.scrollHeight;
        if (page.lines.length < 1000) break;
      }
    } catch (error) {
      logBox.textContent = error instanceof Error ? error.message : String(error);
    }
  };

  const act = async (label: string, run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      header.prepend(errorBox(error, label));
    }
  };

  ctx.poll(2_000, async () => {
    try {
      job = await ctx.api.get<JobView>(`/jobs/${id}`);
    } catch (error) {
      mount(header, h('h1', {}, id), errorBox(error));
      return;
    }
    const j = job;
    const running = !isTerminal(j.state);
    mount(
      header,
      h(
        'h1',
        {},
        h('span', { class: 'mono', 'data-testid': 'job-id' }, j.id),
        badge(j.state),
        j.straggler
          ? badge(
              'straggler',
              `straggler: ${duration(j.straggler.runningSeconds)} > ${duration(j.straggler.thresholdSeconds)}`,
            )
          : null,
        running
          ? h(
              'button',
              {
                class: 'danger',
                'data-testid': 'cancel',
                onclick: () => act('cancel', () => ctx.api.post(`/jobs/${j.id}/cancel`)),
              },
              'Cancel',
            )
          : null,
        j.state === 'FAILED' || j.state === 'CANCELLED'
          ? h(
              'button',
              {
                'data-testid': 'retry',
                onclick: () => act('retry', () => ctx.api.post(`/jobs/${j.id}/retry`)),
              },
              'Retry',
            )
          : null,
      ),
      h(
        'div',
        { class: 'panel' },
        h(
          'div',
          { class: 'row' },
          h('div', { style: 'flex:1' }, progressBar(j.progress, j.state, true)),
          h(
            'strong',
            { 'data-testid': 'progress' },
            j.progress.fraction === undefined ? 'running' : `${Math.round(j.progress.fraction * 100)}%`,
          ),
        ),
        h(
          'p',
          { class: 'muted' },
          [
            j.progress.chunks
              ? `chunks ${j.progress.chunks.done}/${j.progress.chunks.total} (${j.progress.chunks.failed} failed, ${j.progress.chunks.running} running)`
              : '',
            j.progress.records
              ? `records ${j.progress.records.done}${j.progress.records.total !== undefined ? `/${j.progress.records.total}` : ''}`
              : '',
            j.progress.ratePerSecond !== undefined ? `${j.progress.ratePerSecond}/s` : '',
            j.progress.etaSeconds !== undefined ? `ETA ${duration(j.progress.etaSeconds)}` : '',
            j.progress.elapsedSeconds !== undefined ? `ran ${duration(j.progress.elapsedSeconds)}` : '',
          ]
            .filter(Boolean)
            .join(' · '),
        ),
        chunkGrid(j),
      ),
    );
    mount(
      details,
      h(
        'div',
        { class: 'panel' },
        h(
          'dl',
          { class: 'grid-kv' },
          kv('Type', j.type),
          kv('Queue', `${j.queue} (priority ${j.priority})`),
          kv('Created', when(j.createdAt)),
          kv('Finished', when(j.finishedAt)),
          kv('Attempt', `${j.attempt} of ${j.maxAttempts}`),
          kv(
            'Trigger',
            `${j.trigger.kind}${j.trigger.source ? ` ${j.trigger.source}` : ''}${j.trigger.actor ? ` by ${j.trigger.actor}` : ''}`,
          ),
          j.pipelineId
            ? kv(
                'Pipeline',
                h(
                  'a',
                  { href: `#/pipelines/${j.pipelineId}`, class: 'mono' },
                  `${j.pipelineId}${j.stepId ? ` (step ${j.stepId})` : ''}`,
                ),
              )
            : null,
          kv('Exit code', j.exitCode !== undefined ? String(j.exitCode) : '-'),
          kv('Reason', j.statusReason ?? j.error?.message ?? '-'),
          kv('Params', JSON.stringify(j.params)),
          kv('Image', j.runSpec ? `${j.runSpec.image} (${j.runSpec.jobDefinition})` : '-'),
        ),
      ),
      h('h2', {}, 'Attempts'),
      table(
        ['#', 'Executor job', 'Started', 'Ran', 'Exit', 'Outcome', 'CPU', 'Peak memory', 'GPU', 'Reason'],
        j.attempts.map((a) => [
          String(a.attempt),
          h('span', { class: 'mono' }, a.executorJobId ?? '-'),
          when(a.startedAt),
          duration(
            a.startedAt && a.stoppedAt
              ? (Date.parse(a.stoppedAt) - Date.parse(a.startedAt)) / 1000
              : undefined,
          ),
          a.exitCode !== undefined ? String(a.exitCode) : '-',
          a.outcome ? badge(a.outcome) : '-',
          a.usage ? `${a.usage.cpuSeconds} s` : '-',
          a.usage ? `${a.usage.peakMemoryMiB} MiB` : '-',
          a.usage?.gpuUtilisationPercent !== undefined
            ? `${a.usage.gpuUtilisationPercent}%${a.usage.gpuMemoryMiB !== undefined ? `, ${a.usage.gpuMemoryMiB} MiB` : ''}`
            : '-',
          a.statusReason ?? '',
        ]),
        { 'data-testid': 'attempts' },
      ),
      h('h2', {}, 'History'),
      table(
        ['State', 'At', 'Why'],
        [...j.history].reverse().map((c) => [badge(c.state), when(c.at), c.reason ?? '']),
      ),
    );
    if (attemptSelect.options.length !== j.attempts.length) {
      mount(
        attemptSelect,
        j.attempts.map((a) =>
          h('option', { value: a.attempt, selected: a.attempt === j.attempt }, `attempt ${a.attempt}`),
        ),
      );
    }
    await readLog();
  });
};

function kv(label: string, value: string | HTMLElement) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

/** The CSS class of each cell state (pending cells are plain). */
const CHUNK_CLASSES: Readonly<Record<ChunkCellState, string>> = {
  succeeded: 'ok',
  pending: '',
  running: 'running',
  failed: 'failed',
};

/**
 * One cell per chunk, coloured by its own state (`chunks.states`). Jobs with more than 2,000 chunks get one cell
 * per group of chunks, showing the group's most urgent state (failed, then running, then pending).
 */
function chunkGrid(job: JobView): HTMLElement | null {
  const states = job.chunks?.states;
  if (!states || states.length === 0) return null;
  return h(
    'div',
    { class: 'chunks', 'data-testid': 'chunk-grid', title: `${states.length} chunks` },
    chunkCells(states, 2_000).map(({ state, first, count }) => {
      const name = count === 1 ? `chunk ${first}` : `chunks ${first}–${first + count - 1}`;
      return h('i', { class: CHUNK_CLASSES[state], title: `${name}: ${state}`, 'data-chunk-state': state });
    }),
  );
}
