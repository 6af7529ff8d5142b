import cliProgress from "cli-progress";
import type { SweepProgress } from "../sweep/runner.ts";

/**
 * The sweep's progress: a bar with runs done/total, events/s and ETA on a terminal; one plain
 * line per finished run otherwise (CI logs, pipes). Wall-clock only: it never touches a run.
 */
export function sweepProgress(): { update: (p: SweepProgress) => void; stop: () => void } {
  if (process.stderr.isTTY !== true) {
    return {
      update: (p) => console.error(`[${p.done}/${p.total}] ${p.last ?? ""} (${(p.eventsPerSec / 1e6).toFixed(2)} M events/s, ETA ${Math.round(p.etaSec)} s)`),
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: "sweep [{bar}] {value}/{total} runs | {eps} M events/s | ETA {eta_formatted} | {failed} failed", stream: process.stderr, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (p) => {
      if (!started) {
        bar.start(p.total, 0, { eps: "0.00", failed: 0 });
        started = true;
      }
      bar.update(p.done, { eps: (p.eventsPerSec / 1e6).toFixed(2), failed: p.failed });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
