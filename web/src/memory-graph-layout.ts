/** The entity graph of the Memory page as data, and its force-directed layout. Pure: no DOM, no randomness. */

/** A fact as the graph reads it (a subset of the wire's `FactJson`). */
export interface GraphFact {
  id: number;
  subject: string;
  relation: string;
  object: string;
  negated: boolean;
}

export interface GraphNode {
  /** The entity's key: its trimmed, lower-cased text, so "Lucía" and "lucía" are one node. */
  id: string;
  /** The spelling most facts use (the first seen of equally common ones). */
  label: string;
  /** How many of the graph's edges touch this node. */
  degree: number;
}

export interface GraphEdge {
  factId: number;
  source: string;
  target: string;
  relation: string;
  negated: boolean;
}

export interface FactGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Entities in the facts, before the cap. */
  totalNodes: number;
  /** Whether nodes (and the edges that touch them) were left out to stay within the cap. */
  truncated: boolean;
}

/** The key that merges spellings of one entity. */
export function entityKey(text: string): string {
  return text.trim().normalize("NFC").toLocaleLowerCase();
}

/**
 * One node per entity (the subjects and objects of the facts, merged case-insensitively) and one edge per fact.
 * Over `maxNodes` entities, the most connected ones are kept (ties: first seen), with the edges between them.
 */
export function buildFactGraph(facts: readonly GraphFact[], maxNodes = 150): FactGraph {
  const nodes = new Map<string, GraphNode>();
  // Per node, how often each spelling occurs; a Map keeps first-seen order for ties.
  const spellings = new Map<string, Map<string, number>>();
  const edges: GraphEdge[] = [];
  const nodeOf = (text: string): GraphNode => {
    const id = entityKey(text);
    const label = text.trim();
    let node = nodes.get(id);
    if (node === undefined) {
      node = { id, label, degree: 0 };
      nodes.set(id, node);
      spellings.set(id, new Map());
    }
    const counts = spellings.get(id) as Map<string, number>;
    counts.set(label, (counts.get(label) ?? 0) + 1);
    return node;
  };
  for (const fact of facts) {
    const source = nodeOf(fact.subject);
    const target = nodeOf(fact.object);
    source.degree++;
    if (target !== source) target.degree++;
    edges.push({
      factId: fact.id,
      source: source.id,
      target: target.id,
      relation: fact.relation,
      negated: fact.negated,
    });
  }
  for (const node of nodes.values()) {
    let best = 0;
    for (const [label, seen] of spellings.get(node.id) ?? [])
      if (seen > best) {
        best = seen;
        node.label = label;
      }
  }
  const all = [...nodes.values()];
  if (all.length <= maxNodes) return { nodes: all, edges, totalNodes: all.length, truncated: false };
  // A stable sort keeps first-seen order among equals.
  const kept = all
    .map((node, order) => ({ node, order }))
    .sort((a, b) => b.node.degree - a.node.degree || a.order - b.order)
    .slice(0, Math.max(0, maxNodes))
    .sort((a, b) => a.order - b.order)
    .map(({ node }) => node);
  const keptIds = new Set(kept.map((node) => node.id));
  const keptEdges = edges.filter((edge) => keptIds.has(edge.source) && keptIds.has(edge.target));
  const degrees = new Map<string, number>();
  for (const edge of keptEdges) {
    degrees.set(edge.source, (degrees.get(edge.source) ?? 0) + 1);
    if (edge.target !== edge.source) degrees.set(edge.target, (degrees.get(edge.target) ?? 0) + 1);
  }
  return {
    nodes: kept.map((node) => ({ ...node, degree: degrees.get(node.id) ?? 0 })),
    edges: keptEdges,
    totalNodes: all.length,
    truncated: true,
  };
}

export interface Point {
  x: number;
  y: number;
}

export interface LayoutOptions {
  /** The box, in user units: every position ends inside it, `padding` away from its edges. */
  width: number;
  height: number;
  /** Distance kept from the box's edges, for the node's circle and label. Default: 40. */
  padding?: number;
  /** Rounds of the simulation; more settles better and costs O(nodes²) each. Default: 300. */
  iterations?: number;
  /** Picks the small offsets of the initial circle: the same seed gives the same layout. Default: 1. */
  seed?: number;
}

/**
 * Fruchterman–Reingold: every pair of nodes repels, every edge pulls its ends together, a weak pull to the
 * centre keeps separate components in view, and the step size cools linearly to zero over a fixed number of
 * rounds. Nodes start on a circle (angle by index, radius nudged by a seeded generator so symmetric graphs do
 * not stay balanced on a ridge), so the same input always gives the same positions, one per node, in order.
 */
export function layoutGraph(
  nodes: readonly { id: string }[],
  edges: readonly { source: string; target: string }[],
  options: LayoutOptions,
): Point[] {
  const count = nodes.length;
  const padding = Math.max(0, Math.min(options.padding ?? 40, options.width / 2, options.height / 2));
  const minX = padding;
  const maxX = options.width - padding;
  const minY = padding;
  const maxY = options.height - padding;
  const centre = { x: options.width / 2, y: options.height / 2 };
  if (count === 0) return [];
  if (count === 1) return [centre];

  const random = createRandom(options.seed ?? 1);
  const radius = Math.min(maxX - minX, maxY - minY) / 2;
  const x = new Float64Array(count);
  const y = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const angle = (2 * Math.PI * i) / count;
    const r = radius * (0.8 + 0.2 * random());
    x[i] = centre.x + r * Math.cos(angle);
    y[i] = centre.y + r * Math.sin(angle);
  }

  const index = new Map(nodes.map((node, i) => [node.id, i]));
  const links: [number, number][] = [];
  for (const edge of edges) {
    const a = index.get(edge.source);
    const b = index.get(edge.target);
    if (a !== undefined && b !== undefined && a !== b) links.push([a, b]);
  }

  // The ideal edge length: the box's area shared out among the nodes.
  const k = Math.sqrt(((maxX - minX) * (maxY - minY)) / count);
  const iterations = Math.max(1, Math.trunc(options.iterations ?? 300));
  const startTemperature = (maxX - minX) / 10;
  // A spring to each axis's centre line, about as strong as the nodes' summed repulsion (k² · n, the box's area)
  // near the box's edge: much weaker and nodes are pressed against the walls, much stronger and they crowd the
  // middle. It pulls harder across the box's short side and less along its long one, so the graph spreads to the
  // box's shape instead of a circle in its middle with the rest against the short side's walls.
  const gravity = 2;
  const aspect = Math.sqrt((maxX - minX) / Math.max(1, maxY - minY));
  const gravityX = gravity / aspect;
  const gravityY = gravity * aspect;
  const dx = new Float64Array(count);
  const dy = new Float64Array(count);
  for (let round = 0; round < iterations; round++) {
    dx.fill(0);
    dy.fill(0);
    for (let i = 0; i < count; i++)
      for (let j = i + 1; j < count; j++) {
        let ox = (x[i] as number) - (x[j] as number);
        let oy = (y[i] as number) - (y[j] as number);
        // Math.hypot is several times slower than this in V8, and this loop runs nodes² times a round.
        let distance = Math.sqrt(ox * ox + oy * oy);
        if (distance < 0.01) {
          // Coincident nodes: push apart along a direction fixed by their indices.
          const angle = i * 2.399963 + j;
          ox = Math.cos(angle) * 0.01;
          oy = Math.sin(angle) * 0.01;
          distance = 0.01;
        }
        const force = (k * k) / distance;
        const fx = (ox / distance) * force;
        const fy = (oy / distance) * force;
        dx[i] = (dx[i] as number) + fx;
        dy[i] = (dy[i] as number) + fy;
        dx[j] = (dx[j] as number) - fx;
        dy[j] = (dy[j] as number) - fy;
      }
    for (const [a, b] of links) {
      const ox = (x[a] as number) - (x[b] as number);
      const oy = (y[a] as number) - (y[b] as number);
      const distance = Math.max(0.01, Math.sqrt(ox * ox + oy * oy));
      const force = (distance * distance) / k;
      const fx = (ox / distance) * force;
      const fy = (oy / distance) * force;
      dx[a] = (dx[a] as number) - fx;
      dy[a] = (dy[a] as number) - fy;
      dx[b] = (dx[b] as number) + fx;
      dy[b] = (dy[b] as number) + fy;
    }
    const temperature = startTemperature * (1 - round / iterations);
    for (let i = 0; i < count; i++) {
      const gx = (dx[i] as number) + (centre.x - (x[i] as number)) * gravityX;
      const gy = (dy[i] as number) + (centre.y - (y[i] as number)) * gravityY;
      const length = Math.sqrt(gx * gx + gy * gy);
      if (length === 0) continue;
      const step = Math.min(length, temperature);
      x[i] = clamp((x[i] as number) + (gx / length) * step, minX, maxX);
      y[i] = clamp((y[i] as number) + (gy / length) * step, minY, maxY);
    }
  }
  return Array.from(x, (value, i) => ({ x: round2(value), y: round2(y[i] as number) }));
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Two decimals: enough for an SVG, and short attributes. */
function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** mulberry32: a tiny seeded generator of numbers in [0, 1). */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
