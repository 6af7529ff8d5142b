// Regenerates the docs that are generated from code: `npm run docs`.
import { writeFileSync } from "node:fs";
import { eventsMarkdown } from "../src/record/events-doc.ts";
import { workloadJsonSchema } from "../src/workload/json-schema.ts";

writeFileSync(new URL("../docs/events.md", import.meta.url), eventsMarkdown());
writeFileSync(new URL("../workloads/workload.schema.json", import.meta.url), `${JSON.stringify(workloadJsonSchema(), null, 2)}\n`);
console.log("docs/events.md and workloads/workload.schema.json written");
