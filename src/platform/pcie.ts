/**
 * The PCIe link between the GPU and system memory, and the data rate a copy can get from it.
 * Everything here follows from the link's generation and width and the TLP payload size: no
 * constant in this file was fitted to a timing.
 */

/** A profile's PCIe link: generation (1–5), lanes, and the negotiated Max_Payload_Size. */
export interface PcieLink {
  gen: 1 | 2 | 3 | 4 | 5;
  lanes: 1 | 2 | 4 | 8 | 16;
  /** Max_Payload_Size in bytes (128 … 4096): the data one TLP carries at most. */
  maxPayloadBytes: number;
}

/** Transfer rate per lane, GT/s, by generation (PCIe Base Specification 1.0a … 5.0). */
const GT_PER_S: Record<PcieLink["gen"], number> = { 1: 2.5, 2: 5, 3: 8, 4: 16, 5: 32 };

/**
 * Bytes a TLP adds around its payload on the wire, with 128b/130b encoding (gen 3+): the 4-byte
 * framing token (STP, carrying the sequence number), a 4-DW header (64-bit addresses) and the
 * 4-byte LCRC; no ECRC. With 8b/10b (gen 1–2) it is the same 24: 1-byte STP, 2-byte sequence
 * number, 16-byte header, LCRC, 1-byte END.
 */
export const TLP_OVERHEAD_BYTES = 24;

/** Line encoding: 8b/10b for gen 1–2, 128b/130b from gen 3. */
export function encodingEfficiency(gen: PcieLink["gen"]): number {
  return gen <= 2 ? 8 / 10 : 128 / 130;
}

/** The link's raw data rate in one direction, bytes per second, after line encoding. */
export function pcieRawBytesPerSec(link: PcieLink): number {
  return (GT_PER_S[link.gen] * 1e9 * link.lanes * encodingEfficiency(link.gen)) / 8;
}

/** The share of the wire that is payload when every TLP is full: MPS / (MPS + TLP overhead). */
export function tlpEfficiency(maxPayloadBytes: number): number {
  return maxPayloadBytes / (maxPayloadBytes + TLP_OVERHEAD_BYTES);
}

/**
 * The payload rate a bulk copy gets: raw rate × TLP efficiency. Flow-control and ACK DLLPs, and
 * read completions split below MPS at the root port's completion boundary, would take a few
 * per cent more; they are not counted, so this is an upper bound for the copy.
 */
export function pcieLinkBytesPerSec(link: PcieLink): number {
  return pcieRawBytesPerSec(link) * tlpEfficiency(link.maxPayloadBytes);
}
