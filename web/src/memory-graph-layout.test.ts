import { describe, expect, it } from "vitest";
import { buildFactGraph, layoutGraph, type GraphFact, type Point } from "./memory-graph-layout.js";

const box = { width: 800, height: 500, padding: 40 };

function distance(a: Point | undefined, b: Point | undefined): number {
  if (a === undefined || b === undefined) throw new Error("missing position");
  return Math.hypot(a.x - b.x, a.y - b.y);
}

const ids = (...names: string[]) => names.map((id) => ({ id }));
const link = (source: string, target: string) => ({ source, target });

function fact(id: number, subject: string, relation: string, object: string, negated = false): GraphFact {
  return { id, subject, relation, object, negated };
}

describe("web", () => {
  describe("layoutGraph", () => {
    it("gives the same positions for the same input, and other ones for another seed", () => {
      const nodes = ids("a", "b", "c", "d", "e", "f");
      const edges = [link("a", "b"), link("b", "c"), link("c", "a"), link("d", "e")];
      const first = layoutGraph(nodes, edges, box);
      const second = layoutGraph(nodes, edges, box);
      expect(second).toEqual(first);
      expect(first).toHaveLength(6);
      expect(layoutGraph(nodes, edges, { ...box, seed: 2 })).not.toEqual(first);
    });

    it("keeps every position inside the box, padding included, even for many nodes", () => {
      const nodes = Array.from({ length: 150 }, (_, i) => ({ id: `n${i}` }));
      const edges = nodes.slice(1).map((node, i) => link(`n${i % 7}`, node.id));
      const positions = layoutGraph(nodes, edges, box);
      expect(positions).toHaveLength(150);
      for (const { x, y } of positions) {
        expect(x).toBeGreaterThanOrEqual(box.padding);
        expect(x).toBeLessThanOrEqual(box.width - box.padding);
        expect(y).toBeGreaterThanOrEqual(box.padding);
        expect(y).toBeLessThanOrEqual(box.height - box.padding);
        expect(Number.isFinite(x) && Number.isFinite(y)).toBe(true);
      }
      // Spread out, not piled up: no two nodes on top of each other.
      const distinct = new Set(positions.map(({ x, y }) => `${Math.round(x)},${Math.round(y)}`));
      expect(distinct.size).toBe(150);
    });

    it("ends connected nodes closer together than unconnected ones", () => {
      const nodes = ids("a", "b", "c", "d", "e", "f");
      // Two triangles, nothing between them.
      const edges = [link("a", "b"), link("b", "c"), link("c", "a"), link("d", "e"), link("e", "f")];
      edges.push(link("f", "d"));
      const [a, b, c, d, e, f] = layoutGraph(nodes, edges, box);
      const connected = [distance(a, b), distance(b, c), distance(c, a), distance(d, e), distance(e, f)];
      const unconnected = [distance(a, d), distance(a, e), distance(b, f), distance(c, d), distance(c, f)];
      expect(Math.max(...connected)).toBeLessThan(Math.min(...unconnected));
    });

    it("puts a lone node in the centre and returns nothing for no nodes", () => {
      expect(layoutGraph([], [], box)).toEqual([]);
      expect(layoutGraph(ids("solo"), [], box)).toEqual([{ x: 400, y: 250 }]);
    });

    it("ignores self-loops and edges to unknown nodes", () => {
      const nodes = ids("a", "b");
      const plain = layoutGraph(nodes, [], box);
      expect(layoutGraph(nodes, [link("a", "a"), link("a", "ghost")], box)).toEqual(plain);
    });
  });

  describe("buildFactGraph", () => {
    it("merges entities case-insensitively and keeps one edge per fact", () => {
      const graph = buildFactGraph([
        fact(1, "Lucía", "likes", "el chocolate"),
        fact(2, "lucía ", "lives_in", "Sevilla"),
        fact(3, "LUCÍA", "likes", "El Chocolate", true),
      ]);
      expect(graph.nodes).toEqual([
        { id: "lucía", label: "Lucía", degree: 3 },
        { id: "el chocolate", label: "el chocolate", degree: 2 },
        { id: "sevilla", label: "Sevilla", degree: 1 },
      ]);
      expect(graph.edges).toEqual([
        { factId: 1, source: "lucía", target: "el chocolate", relation: "likes", negated: false },
        { factId: 2, source: "lucía", target: "sevilla", relation: "lives_in", negated: false },
        { factId: 3, source: "lucía", target: "el chocolate", relation: "likes", negated: true },
      ]);
      expect(graph.truncated).toBe(false);
    });

    it("labels an entity with its most common spelling", () => {
      const graph = buildFactGraph([
        fact(1, "marta", "likes", "el jazz"),
        fact(2, "Marta", "works_at", "Acme"),
        fact(3, "Acme", "employs", "Marta"),
      ]);
      expect(graph.nodes.map((node) => node.label)).toEqual(["Marta", "el jazz", "Acme"]);
    });

    it("keeps the most connected entities over the cap, and only edges between kept nodes", () => {
      const facts = [
        fact(1, "hub", "knows", "a"),
        fact(2, "hub", "knows", "b"),
        fact(3, "a", "likes", "b"),
        fact(4, "x", "likes", "y"),
      ];
      const graph = buildFactGraph(facts, 3);
      expect(graph.nodes.map((node) => [node.id, node.degree])).toEqual([
        ["hub", 2],
        ["a", 2],
        ["b", 2],
      ]);
      expect(graph.edges.map((edge) => edge.factId)).toEqual([1, 2, 3]);
      expect(graph).toMatchObject({ totalNodes: 5, truncated: true });
    });
  });
});
