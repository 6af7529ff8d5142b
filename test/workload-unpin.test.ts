import { describe, expect, it } from "vitest";
import { parseWorkload } from "../src/workload/load.ts";
import { runLogged } from "./support/fault-workload.ts";

/**
 * `unpin` releases the folio its `pin` pinned, as unpin_user_page does with the page it was
 * handed, even when the address no longer maps it (found for issue #18: docs/design/explore.md
 * finding 1). The pin's reference is then the last one, so the folio is freed, not leaked.
 */
function run(text: string) {
  return runLogged(parseWorkload(text, "workloads/inline.yaml"));
}

const PIN_THEN_MUNMAP = `description: pin a page, unmap it, unpin it
seed: 1
mappings:
  - { addr: 0x4000000, size: 64KiB }
threads:
  - name: cpu0
    steps:
      - { op: write, addr: 0x4000000 }
      - { op: pin, addr: 0x4000000 }
      - { op: munmap, addr: 0x4000000, size: 64KiB }
      - { op: unpin, addr: 0x4000000 }
`;

describe("the unpin step", () => {
  it("unpins the folio it pinned after a munmap, and the last reference frees it", () => {
    const { report, events } = run(PIN_THEN_MUNMAP);
    const pinned = events.find((e) => e.kind === "folio.pin")!.folio;
    expect(report.steps.slice(1).map((st) => st.ret)).toEqual(["0", "0", "0"]); // pin, munmap, unpin
    expect(events.filter((e) => e.kind === "folio.unpin").map((e) => e.folio)).toEqual([pinned]);
    expect(events.filter((e) => e.kind === "folio.free" && e.folio === pinned)).toHaveLength(1);
    expect(report.invariants).toEqual([]);
  });

  it("with no pin held at that address, says so", () => {
    const { report } = run(PIN_THEN_MUNMAP.replace("      - { op: pin, addr: 0x4000000 }\n", ""));
    expect(report.steps.at(-1)!.ret).toBe("no pin held (use pin first)");
  });
});
