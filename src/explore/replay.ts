import { readFinding } from "./findings.ts";
import { diagnose } from "./probe.ts";

/**
 * `pagesim explore --replay DIR/findings/NNN`: runs the finding's workload with explore's checks
 * and says whether it fails with the signature recorded (reproduced), otherwise or not at all.
 */
export function replayFinding(dir: string): { reproduced: boolean; text: string } {
  const { input, signature } = readFinding(dir);
  const found = diagnose(input);
  if (found === undefined) return { reproduced: false, text: `${dir}: the workload now runs clean: the finding does not reproduce (signature was: ${signature})` };
  const same = found.signature === signature;
  const verdict = same ? "reproduced: the same signature" : `fails, with another signature than recorded (${signature})`;
  return { reproduced: same, text: `${dir}: ${verdict}\n${found.paragraph}\n\n${found.excerpt.join("\n")}\nsignature: ${found.signature}` };
}
