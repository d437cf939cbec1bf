import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  buildFactGraph,
  layoutGraph,
  type FactGraph,
  type GraphEdge,
  type GraphNode,
  type Point,
} from "./memory-graph-layout.js";
import type { FactJson } from "./wire.js";

/** Most entities drawn: the layout costs O(nodes²) a round, and more would not be readable anyway. */
export const maxGraphNodes = 150;
/** Room each node gets, in square pixels: the box grows taller with the node count. */
const areaPerNode = 20_000;
const minHeight = 420;
const maxHeight = 4000;
/** Longest label shown, in characters; less on a narrow screen, where nodes stand closer. */
const maxLabel = { wide: 24, narrow: 16 };
/** A little over the width of a character, in pixels, in the labels' fonts (13px bold and 12px, DejaVu Sans). */
const charWidth = { node: 8.5, edge: 7.5 };

/** A label cut to `limit` characters; the full text stays in the node's title and accessible name. */
function shorten(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** Where a centred label of `text` can sit near `x` with none of it outside a box `width` wide. */
function labelX(x: number, text: string, width: number, perChar: number): number {
  const half = Math.min(width / 2, (text.length * perChar) / 2 + 4);
  return round(Math.min(width - half, Math.max(half, x)));
}

function radiusOf(node: GraphNode): number {
  return 9 + Math.min(9, node.degree);
}

/** The width of an element's content box, followed as it resizes; `initial` until it is measured. */
function useWidth(ref: { current: HTMLElement | null }, initial: number): number {
  const [width, setWidth] = useState(initial);
  // Before the first paint: the graph is not drawn at `initial` and then again at the real width.
  useLayoutEffect(() => {
    const element = ref.current;
    if (element === null) return undefined;
    // Whole tens: a pixel of change does not lay the graph out again.
    const measure = (value: number) => setWidth(Math.max(280, Math.round(value / 10) * 10));
    measure(element.clientWidth);
    const observer = new ResizeObserver((entries) => {
      const entry = entries[entries.length - 1];
      if (entry !== undefined) measure(entry.contentRect.width);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

interface DrawnEdge {
  edge: GraphEdge;
  path: string;
  label: Point;
}

/**
 * The edges' geometry: straight between two nodes, bowed apart when several facts join the same pair (so their
 * labels do not overlap), a loop above the node for a fact about itself. Ends stop at the circles' rims.
 */
function drawEdges(graph: FactGraph, at: Map<string, Point>, radius: Map<string, number>): DrawnEdge[] {
  const pairs = new Map<string, GraphEdge[]>();
  for (const edge of graph.edges) {
    const key = [edge.source, edge.target].sort().join("\u0000");
    const group = pairs.get(key) ?? [];
    group.push(edge);
    pairs.set(key, group);
  }
  const drawn: DrawnEdge[] = [];
  for (const group of pairs.values())
    group.forEach((edge, index) => {
      const s = at.get(edge.source);
      const t = at.get(edge.target);
      if (s === undefined || t === undefined) return;
      const rs = radius.get(edge.source) ?? 10;
      const rt = radius.get(edge.target) ?? 10;
      if (edge.source === edge.target) {
        const lift = 44 + index * 18;
        const path =
          `M ${s.x - rs * 0.7} ${s.y - rs * 0.7} ` +
          `C ${s.x - 36} ${s.y - lift - 12} ${s.x + 36} ${s.y - lift - 12} ${s.x + rs * 0.7} ${s.y - rs * 0.7}`;
        drawn.push({ edge, path, label: { x: s.x, y: s.y - lift - 6 } });
        return;
      }
      // The bend is measured against one direction per pair, so A→B and B→A bow to opposite sides.
      const [first] = [edge.source, edge.target].sort();
      const sign = first === edge.source ? 1 : -1;
      const length = Math.max(1, Math.hypot(t.x - s.x, t.y - s.y));
      const normal = { x: (-(t.y - s.y) / length) * sign, y: ((t.x - s.x) / length) * sign };
      const bend = (index - (group.length - 1) / 2) * 30;
      const control = { x: (s.x + t.x) / 2 + normal.x * bend, y: (s.y + t.y) / 2 + normal.y * bend };
      const from = towards(s, control, rs);
      const to = towards(t, control, rt + 3);
      const path =
        bend === 0
          ? `M ${from.x} ${from.y} L ${to.x} ${to.y}`
          : `M ${from.x} ${from.y} Q ${round(control.x)} ${round(control.y)} ${to.x} ${to.y}`;
      // The curve's midpoint (t = ½ of the quadratic).
      const label = {
        x: round(0.25 * s.x + 0.5 * control.x + 0.25 * t.x),
        y: round(0.25 * s.y + 0.5 * control.y + 0.25 * t.y),
      };
      drawn.push({ edge, path, label });
    });
  return drawn;
}

/** The point `distance` from `from` in the direction of `to`. */
function towards(from: Point, to: Point, distance: number): Point {
  const length = Math.max(1, Math.hypot(to.x - from.x, to.y - from.y));
  return {
    x: round(from.x + ((to.x - from.x) / length) * distance),
    y: round(from.y + ((to.y - from.y) / length) * distance),
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * The facts as an inline SVG: one node per entity, one arrow per fact from subject to object, labelled with the
 * relation (dashed for a negated fact). The box is as wide as the page, so text keeps its size on a phone.
 * Every text is a text node; a node is a button (click, Enter or Space) that calls `onSelect`.
 */
export function MemoryGraph({
  facts,
  onSelect,
}: {
  facts: readonly FactJson[];
  onSelect: (node: GraphNode) => void;
}) {
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap, 960);
  const [active, setActive] = useState<string | undefined>(undefined);
  const graph = useMemo(() => buildFactGraph(facts, maxGraphNodes), [facts]);
  const height = Math.round(
    Math.min(maxHeight, Math.max(minHeight, (graph.nodes.length * areaPerNode) / width)),
  );
  const positions = useMemo(
    () => layoutGraph(graph.nodes, graph.edges, { width, height, padding: 56 }),
    [graph, width, height],
  );
  const at = new Map(graph.nodes.map((node, i) => [node.id, positions[i] ?? { x: 0, y: 0 }]));
  const radius = new Map(graph.nodes.map((node) => [node.id, radiusOf(node)]));
  const labels = new Map(graph.nodes.map((node) => [node.id, node.label]));
  const limit = width < 560 ? maxLabel.narrow : maxLabel.wide;
  const edges = drawEdges(graph, at, radius);
  // Tab order follows the picture: rows of about 80 units top to bottom, left to right within a row.
  const ordered = graph.nodes
    .map((node) => ({ node, point: at.get(node.id) ?? { x: 0, y: 0 } }))
    .sort((a, b) => Math.round(a.point.y / 80) - Math.round(b.point.y / 80) || a.point.x - b.point.x);

  return (
    <div class="graph-wrap" ref={wrap}>
      {graph.truncated ? (
        <p class="graph-note" data-testid="graph-truncated">
          Showing the {graph.nodes.length} most connected of {graph.totalNodes} entities. Filter the facts to
          see the others.
        </p>
      ) : null}
      {graph.nodes.length === 0 ? (
        <p class="empty">No facts to draw.</p>
      ) : (
        <svg
          class="memory-graph"
          viewBox={`0 0 ${width} ${height}`}
          role="group"
          aria-labelledby="memory-graph-title"
          aria-describedby="memory-graph-help"
          data-testid="memory-graph"
        >
          <title id="memory-graph-title">
            Graph of {graph.nodes.length} entities and {graph.edges.length} facts
          </title>
          <defs>
            <ArrowHead id="graph-arrow" class="graph-arrow-head" />
            <ArrowHead id="graph-arrow-negated" class="graph-arrow-head negated" />
          </defs>
          <g aria-hidden="true">
            {edges.map(({ edge, path }) => (
              <path
                key={edge.factId}
                d={path}
                class={edgeClass("graph-edge-line", edge, active)}
                marker-end={edge.negated ? "url(#graph-arrow-negated)" : "url(#graph-arrow)"}
              />
            ))}
          </g>
          {edges.map(({ edge, label }) => (
            <g
              key={edge.factId}
              class={edgeClass("graph-edge", edge, active)}
              data-testid="graph-edge"
              data-fact-id={edge.factId}
            >
              <title>{describeEdge(edge, labels)}</title>
              <text
                x={labelX(
                  label.x,
                  `${edge.negated ? "not " : ""}${shorten(edge.relation, limit)}`,
                  width,
                  charWidth.edge,
                )}
                y={label.y}
                class="graph-edge-label"
              >
                {edge.negated ? "not " : ""}
                {shorten(edge.relation, limit)}
              </text>
            </g>
          ))}
          {ordered.map(({ node, point }) => (
            <g
              key={node.id}
              class={node.id === active ? "graph-node active" : "graph-node"}
              role="button"
              tabIndex={0}
              aria-label={`${node.label}: ${node.degree} ${node.degree === 1 ? "fact" : "facts"}. Show them in the table`}
              data-testid="graph-node"
              onClick={() => onSelect(node)}
              onKeyDown={(event) => {
                if (event.key !== "Enter" && event.key !== " ") return;
                event.preventDefault();
                onSelect(node);
              }}
              onFocus={() => setActive(node.id)}
              onBlur={() => setActive(undefined)}
              onMouseEnter={() => setActive(node.id)}
              onMouseLeave={() => setActive(undefined)}
            >
              <title>{node.label}</title>
              <circle cx={point.x} cy={point.y} r={radiusOf(node)} />
              <text
                x={labelX(point.x, shorten(node.label, limit), width, charWidth.node)}
                y={point.y + radiusOf(node) + 15}
                class="graph-node-label"
              >
                {shorten(node.label, limit)}
              </text>
            </g>
          ))}
        </svg>
      )}
      <p id="memory-graph-help" class="muted small">
        Each circle is a person, place or thing SARAi knows of; each arrow is a fact from its subject to its
        object, labelled with the relation (dashed: SARAi knows it is not so). Choose an entity (click it, or
        Tab to it and press Enter) to list its facts in the table.
      </p>
    </div>
  );
}

function edgeClass(base: string, edge: GraphEdge, active: string | undefined): string {
  const classes = [base];
  if (edge.negated) classes.push("negated");
  if (active !== undefined && (edge.source === active || edge.target === active)) classes.push("active");
  return classes.join(" ");
}

/** The fact an edge stands for, in words, with the entities as first spelled. */
function describeEdge(edge: GraphEdge, labels: Map<string, string>): string {
  const label = (id: string) => labels.get(id) ?? id;
  return `${label(edge.source)} ${edge.negated ? "not " : ""}${edge.relation} ${label(edge.target)}`;
}

/** The arrowhead an edge's `marker-end` points at; negated edges use their own, coloured by its class. */
function ArrowHead({ id, class: className }: { id: string; class: string }) {
  return (
    <marker id={id} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
      <path d="M 0 0 L 10 5 L 0 10 z" class={className} />
    </marker>
  );
}
