import * as z from "zod";
import { WorkloadSchema } from "./schema.ts";

export { closest } from "./did-you-mean.ts";

/**
 * The workload format as JSON Schema (draft 2020-12), for editors: `pagesim schema >
 * workload.schema.json`. Generated from the zod schema the loader validates with, so the two
 * cannot disagree; sizes, times and addresses accept numbers or strings with units, as files do.
 */
export function workloadJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(WorkloadSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, title: "pagesim workload", description: "A pagesim workload file (workloads/*.yaml). See workloads/README.md." };
}

type JsonNode = { properties?: Record<string, JsonNode>; items?: JsonNode; anyOf?: JsonNode[]; oneOf?: JsonNode[]; allOf?: JsonNode[] };

/** The property names the schema allows at a key path (for "did you mean"). */
export function keysAt(path: readonly PropertyKey[]): string[] {
  let nodes: JsonNode[] = [workloadJsonSchema() as JsonNode];
  for (const key of path) {
    const next: JsonNode[] = [];
    for (const n of expandAlternatives(nodes)) {
      if (typeof key === "number" && n.items !== undefined) next.push(n.items);
      else if (typeof key === "string" && n.properties?.[key] !== undefined) next.push(n.properties[key]!);
    }
    nodes = next;
  }
  return [...new Set(expandAlternatives(nodes).flatMap((n) => Object.keys(n.properties ?? {})))];
}

function expandAlternatives(nodes: JsonNode[]): JsonNode[] {
  const out: JsonNode[] = [];
  const visit = (n: JsonNode): void => {
    out.push(n);
    for (const alt of [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])]) visit(alt);
  };
  nodes.forEach(visit);
  return out;
}
