// Regenerates the docs that are generated from code: `npm run docs`.
import { writeFileSync } from "node:fs";
import { eventsMarkdown } from "../src/record/events-doc.ts";

writeFileSync(new URL("../docs/events.md", import.meta.url), eventsMarkdown());
console.log("docs/events.md written");
