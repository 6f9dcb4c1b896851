/**
 * Pure graph helpers for dependency DAGs (pipelines, follow-up chains). Nodes are ids; `edges` maps each node to the
 * nodes it depends on (its upstream).
 */

/** Edges naming a node that is not in the graph, as `[from, to]`. */
export function unknownReferences(
  nodes: readonly string[],
  upstreamOf: (node: string) => readonly string[],
): Array<readonly [string, string]> {
  const known = new Set(nodes);
  const unknown: Array<readonly [string, string]> = [];
  for (const node of nodes) {
    for (const upstream of upstreamOf(node)) if (!known.has(upstream)) unknown.push([node, upstream]);
  }
  return unknown;
}

/**
 * One cycle of the graph, as the ids along it with the first repeated at the end (`['a', 'b', 'a']`), or undefined
 * when the graph is acyclic. Iterative depth-first search, so deep graphs cannot overflow the stack. Edges to unknown
 * nodes are ignored (report them with {@link unknownReferences}).
 */
export function findCycle(
  nodes: readonly string[],
  upstreamOf: (node: string) => readonly string[],
): string[] | undefined {
  const known = new Set(nodes);
  const state = new Map<string, 'open' | 'done'>();
  for (const start of nodes) {
    if (state.has(start)) continue;
    const path: string[] = [];
    const stack: Array<{ node: string; next: number }> = [{ node: start, next: 0 }];
    state.set(start, 'open');
    path.push(start);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as { node: string; next: number };
      const upstream = upstreamOf(frame.node).filter((n) => known.has(n));
      if (frame.next >= upstream.length) {
        state.set(frame.node, 'done');
        stack.pop();
        path.pop();
        continue;
      }
      const child = upstream[frame.next++] as string;
      const seen = state.get(child);
      if (seen === 'open') return [...path.slice(path.indexOf(child)), child];
      if (seen === undefined) {
        state.set(child, 'open');
        path.push(child);
        stack.push({ node: child, next: 0 });
      }
    }
  }
  return undefined;
}

/**
 * The nodes in dependency order (every node after all its upstream nodes), ties kept in input order.
 * @throws Error when the graph has a cycle (check with {@link findCycle} first).
 */
export function topologicalOrder(
  nodes: readonly string[],
  upstreamOf: (node: string) => readonly string[],
): string[] {
  const known = new Set(nodes);
  const remaining = new Map<string, number>();
  const downstream = new Map<string, string[]>();
  for (const node of nodes) {
    const upstream = [...new Set(upstreamOf(node).filter((n) => known.has(n)))];
    remaining.set(node, upstream.length);
    for (const u of upstream) downstream.set(u, [...(downstream.get(u) ?? []), node]);
  }
  const ready = nodes.filter((n) => remaining.get(n) === 0);
  const order: string[] = [];
  for (let i = 0; i < ready.length; i++) {
    const node = ready[i] as string;
    order.push(node);
    for (const d of downstream.get(node) ?? []) {
      const left = (remaining.get(d) ?? 0) - 1;
      remaining.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length !== nodes.length) throw new Error('graph has a cycle');
  return order;
}
