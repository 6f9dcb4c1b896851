import { describe, expect, it } from 'vitest';
import { findCycle, topologicalOrder, unknownReferences } from '../../src/core/dag.js';
import {
  type PipelineStep,
  PipelineStepSchema,
  pipelineGraphIssues,
  pipelineState,
} from '../../src/core/pipeline.js';

const graph = (edges: Record<string, string[]>) => ({
  nodes: Object.keys(edges),
  upstreamOf: (n: string) => edges[n] ?? [],
});

describe('DAG helpers', () => {
  it('orders nodes after their upstream, keeping input order among ties', () => {
    const { nodes, upstreamOf } = graph({
      load: ['transform', 'audit'],
      transform: ['extract'],
      extract: [],
      audit: [],
    });
    expect(topologicalOrder(nodes, upstreamOf)).toEqual(['extract', 'audit', 'transform', 'load']);
  });

  it.each([
    [{ a: ['b'], b: ['c'], c: ['a'] }, ['a', 'b', 'c', 'a']],
    [{ a: ['a'] }, ['a', 'a']],
    [{ x: [], a: ['x', 'b'], b: ['a'] }, ['a', 'b', 'a']],
  ])('finds the cycle in %j', (edges, cycle) => {
    const { nodes, upstreamOf } = graph(edges);
    expect(findCycle(nodes, upstreamOf)).toEqual(cycle);
    expect(() => topologicalOrder(nodes, upstreamOf)).toThrow(/cycle/);
  });

  it('finds no cycle in a diamond, and handles deep chains without recursion', () => {
    expect(
      findCycle(
        ...(Object.values(graph({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'] })) as [
          string[],
          (n: string) => string[],
        ]),
      ),
    ).toBeUndefined();
    const chain = Array.from({ length: 20_000 }, (_, i) => `n${i}`);
    const upstreamOf = (n: string) => (n === 'n0' ? [] : [`n${Number(n.slice(1)) - 1}`]);
    expect(findCycle(chain, upstreamOf)).toBeUndefined();
    expect(topologicalOrder([...chain].reverse(), upstreamOf)[0]).toBe('n0');
  });

  it('lists references to unknown nodes', () => {
    const { nodes, upstreamOf } = graph({ a: ['ghost'], b: ['a', 'phantom'] });
    expect(unknownReferences(nodes, upstreamOf)).toEqual([
      ['a', 'ghost'],
      ['b', 'phantom'],
    ]);
  });
});

const step = (id: string, dependsOn: string[] = [], extra: Partial<PipelineStep> = {}): PipelineStep =>
  PipelineStepSchema.parse({ id, type: 'work', dependsOn, ...extra });

describe('pipelineGraphIssues', () => {
  it('accepts a valid DAG', () => {
    expect(pipelineGraphIssues([step('a'), step('b', ['a'], { input: { fromStep: 'a' } })])).toEqual([]);
  });

  it('names the steps of a cycle', () => {
    const issues = pipelineGraphIssues([step('a', ['c']), step('b', ['a']), step('c', ['b']), step('d')]);
    expect(issues).toEqual([
      expect.objectContaining({ code: 'DependencyCycle', steps: expect.arrayContaining(['a', 'b', 'c']) }),
    ]);
    expect(issues[0]?.steps).toHaveLength(3);
    expect(issues[0]?.message).toMatch(/a → c → b → a/);
  });

  it('names unknown references, duplicates and inputs from steps that are not upstream, all at once', () => {
    const issues = pipelineGraphIssues([
      step('a'),
      step('a'),
      step('b', ['ghost']),
      step('c', [], { input: { fromStep: 'a' } }),
      step('d', [], { input: { fromStep: 'nowhere' } }),
    ]);
    expect(issues.map((i) => [i.code, i.steps])).toEqual([
      ['DuplicateStepId', ['a']],
      ['UnknownStepReference', ['ghost', 'nowhere']],
      ['InputNotUpstream', ['c']],
    ]);
  });

  it('reports a step that depends on itself as a cycle', () => {
    expect(pipelineGraphIssues([step('a', ['a'])])).toEqual([
      expect.objectContaining({ code: 'DependencyCycle', steps: ['a'] }),
    ]);
  });
});

describe('pipelineState', () => {
  const steps = [
    { ...step('extract'), jobId: 'J1' },
    { ...step('audit', ['extract']), jobId: 'J2' },
    { ...step('load', ['extract'], { triggerRule: 'all_done' }), jobId: 'J3' },
  ];
  const jobs = (states: Record<string, string>) =>
    new Map(Object.entries(states).map(([id, state]) => [id, { state: state as 'SUCCEEDED' }]));

  it.each([
    [false, undefined, { J1: 'QUEUED' }, 'CREATING'],
    [true, undefined, { J1: 'RUNNING', J2: 'WAITING', J3: 'WAITING' }, 'RUNNING'],
    [true, undefined, { J1: 'SUCCEEDED', J2: 'SUCCEEDED', J3: 'SUCCEEDED' }, 'SUCCEEDED'],
    [true, undefined, { J1: 'SUCCEEDED', J2: 'FAILED', J3: 'SUCCEEDED' }, 'FAILED'],
    [true, true, { J1: 'CANCELLED', J2: 'CANCELLED', J3: 'CANCELLED' }, 'CANCELLED'],
  ])('created=%s cancel=%s %j → %s', (created, cancelRequested, states, expected) => {
    expect(
      pipelineState({ created, steps, ...(cancelRequested ? { cancelRequested } : {}) }, jobs(states)),
    ).toBe(expected);
  });

  it('judges by the leaves: a failed step whose continue-on-error dependent succeeded does not fail it', () => {
    const chain = [
      { ...step('extract'), jobId: 'J1' },
      { ...step('load', ['extract'], { triggerRule: 'all_done' }), jobId: 'J3' },
    ];
    expect(pipelineState({ created: true, steps: chain }, jobs({ J1: 'FAILED', J3: 'SUCCEEDED' }))).toBe(
      'SUCCEEDED',
    );
  });
});
