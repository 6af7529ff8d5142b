import { runWorkload, type RunReport } from "../../src/workload/run.ts";
import type { Workload } from "../../src/workload/schema.ts";

/**
 * What many tests share: the 2 MiB range at 0x40000000 on the default platform, written whole by
 * the CPU (512 pages), then one GPU access at 1 ms; `cpuAfter` and `gpuAfter` add later steps to
 * each thread (YAML flow maps). `model` is the body of the workload's `model:` map, if any.
 */
export function twoMibFaultYaml(o: { description: string; model?: string; gpu: "read" | "write"; gpuPages?: number; cpuAfter?: string[]; gpuAfter?: string[] }): string {
  const model = o.model === undefined ? "" : `model: { ${o.model} }\n`;
  const steps = (list: string[] | undefined) => (list ?? []).map((step) => `      - ${step}\n`).join("");
  const pages = o.gpuPages === undefined ? "" : `, pages: ${o.gpuPages}`;
  return `description: ${o.description}
seed: 1
platform: xe-pcie4x8-iommu
${model}mappings:
  - { addr: 0x40000000, size: 2MiB }
threads:
  - name: cpu0
    steps:
      - { op: write, addr: 0x40000000, pages: 512 }
${steps(o.cpuAfter)}  - name: gpu0
    ctx: gpu
    steps:
      - { op: ${o.gpu}, addr: 0x40000000${pages}, at: 1ms }
${steps(o.gpuAfter)}`;
}

/** A model event as a test reads it: its kind and its fields. */
export type LoggedEvent = { kind: string } & Record<string, unknown>;

/** Runs a workload and keeps every model event it logged, in order. */
export function runLogged(workload: Workload): { report: RunReport; events: LoggedEvent[] } {
  const events: LoggedEvent[] = [];
  const { report } = runWorkload(workload, undefined, {
    onLog: (log) => log.subscribe({ onModelEvent: (_s, _t, _th, _c, ev) => void events.push(ev as unknown as LoggedEvent) }),
  });
  return { report, events };
}
