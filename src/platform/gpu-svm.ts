import { Server, sleep, spin, type ProcessBody } from "../engine/index.ts";
import { Errno, PAGE_SIZE } from "../kernel/constants.ts";
import { handleMmFault, pteWriteProtected } from "../kernel/fault.ts";
import { folioGet, folioPut } from "../kernel/folio.ts";
import { mmuIntervalNotifierInsertSeq, mmuIntervalReadBegin, mmuIntervalReadRetry, type MmuNotifier, type MmuNotifierRange } from "../kernel/mmu-notifier.ts";
import { vmaIsAnonymous, vmaLookup, type MmState } from "../kernel/state.ts";
import type { PageTable, PteState } from "../kernel/page-table.ts";
import type { PagemapContext } from "../pagemap/context.ts";
import { populateMm } from "../pagemap/populate-mm.ts";
import type { GpuAccess, GpuFaultStage, PlatformEvent, SvmRangeState, WorldState } from "./events.ts";
import type { PlatformProfile } from "./profile.ts";
import { svmRangeIndexOf } from "./svm-range-index.ts";
import { hmmEntryOrders, xePtLeaves } from "./pt-entries.ts";
import type { GpuFaultDecision, MigrationPolicy } from "./policy.ts";
import type { XeDevice } from "./xe-device.ts";
import { NO_TIMESLICE_MS, xeRetryTimesliceMs } from "./timeslice.ts";

/** What get_pages found: every page's folio, and where the range lives. */
interface RangePages {
  folios: number[];
  /** The order of each entry hmm_range_fault returned, in address order (hmmEntryOrders). */
  entryOrders: number[];
  memory: "system" | "device";
  devmem: number;
  /** Every page was writable (HMM_PFN_WRITE): false when a read found a copy-on-write page. */
  writable: boolean;
}

/** Device-page references held by GPU work and dropped by a completion interrupt. */
export interface IrqFrees {
  /** Chance that a GPU access to a device page holds such a reference. */
  probability: number;
  /** How long until the interrupt drops it. */
  delayNs: number;
}

/** Retries of one fault beyond which the handler gives up (Xe loops while it makes progress). */
const MAX_FAULT_ATTEMPTS = 16;
/** Throttles of one access beyond which the GPU thread gives up (-EAGAIN): a policy that never lets go. */
const MAX_THROTTLES = 100_000;
/** HMM_RANGE_DEFAULT_TIMEOUT: how long range eviction keeps re-faulting before -ETIME. */
const HMM_TIMEOUT_NS = 1_000_000_000;

/**
 * The GPU side of shared virtual memory, after Xe's xe_svm.c on drm_gpusvm: GPU accesses, GPU
 * page faults served by the driver's fault workers, and the handler __xe_svm_handle_pagefault
 * with its stages (garbage collection, range lookup with chunk fallback, migration to VRAM with
 * the atomic timeslice and its doubling, get_pages, bind) each timed and recorded.
 *
 * The GPU mirrors CPU page tables through an MMU notifier: whatever moves, unmaps, write-protects
 * or migrates pages of a bound range invalidates its GPU mapping first, in the changing thread.
 */
export class GpuSvm implements MmuNotifier {
  private readonly workers: Server;
  /** GPU accesses that found a bound range whose pages had moved: missed invalidations (model bugs). */
  staleMappings = 0;
  private readonly irqRandom: () => number;

  constructor(
    private readonly p: PagemapContext,
    private readonly dev: XeDevice,
    private readonly profile: PlatformProfile,
    private readonly commit: (ev: PlatformEvent) => void,
    private readonly irqFrees: IrqFrees = { probability: 0, delayNs: 0 },
    /** The simulated migration policy; null: the kernel's own behaviour (Xe's timeslice). */
    private readonly policy: MigrationPolicy | null = null,
  ) {
    const stream = p.k.engine.random.stream("irq-frees");
    this.irqRandom = () => stream.uniform();
    this.workers = new Server(p.k.engine, "gpu-fault-workers", profile.gpu.faultWorkers);
    p.k.mmuNotifiers.push(this); // mmu_interval_notifier_insert for the GPU's SVM
  }

  private get state(): WorldState {
    return this.p.state as WorldState;
  }

  /**
   * One GPU access by the running GPU thread: completes through a valid mapping, or faults and
   * replays. Returns 0 and the page's data version after the access, or an errno; and the GPU
   * faults this access took (its own: other GPU threads fault concurrently), and how long it
   * stalled: from its first fault to its end (0 if it did not fault).
   */
  *access(mm: number, addr: number, access: GpuAccess): ProcessBody<{ ret: number; version: number; faults: number; stallNs: number }> {
    const g = this.profile.gpu;
    const engine = this.p.k.engine;
    let firstFaultNs = -1;
    const stalled = () => (firstFaultNs >= 0 ? engine.nowNs - firstFaultNs : 0);
    let throttles = 0;
    let faults = 0;
    for (let attempt = 0; attempt < MAX_FAULT_ATTEMPTS; attempt++) {
      const range = this.rangeAt(mm, addr);
      if (range !== undefined && (yield* this.mappingUsable(range, access, addr))) {
        const seen = yield* this.accessThrough(mm, addr, access);
        return { ret: 0, version: seen, faults, stallNs: stalled() };
      }
      if (firstFaultNs < 0) firstFaultNs = engine.nowNs;
      yield sleep(g.faultDeliveryNs); // the fault message reaches the driver
      yield this.workers.acquire();
      const decision = this.policy?.gpuFault({ mm, addr, access, needVram: access === "atomic", nowNs: engine.nowNs }) ?? null;
      if (decision?.kind === "throttle") {
        // Not serviced: the worker moves on, the GPU replays the access later.
        this.workers.release();
        this.commit({ kind: "gpu_fault.throttle", mm, addr, durationNs: decision.delayNs });
        if (++throttles > MAX_THROTTLES) break;
        yield sleep(decision.delayNs);
        attempt--; // a throttle is not a failed attempt
        continue;
      }
      faults++;
      const ret = yield* this.handlePagefault(mm, addr, access, decision);
      this.workers.release();
      if (ret !== 0) return { ret, version: -1, faults, stallNs: stalled() };
      yield sleep(g.faultReplayNs);
    }
    return { ret: -Errno.EAGAIN, version: -1, faults, stallNs: stalled() };
  }

  /**
   * The access through a bound mapping that needs no fault, if there is one now: as access()
   * does it on its first try, without the fault path. Returns the data version after it, or -1
   * with nothing done (not even a stale mapping's invalidation), so that a caller may ask first
   * and only then go through access() (the workload marks only accesses that fault:
   * src/machine/events.ts).
   */
  *accessMapped(mm: number, addr: number, access: GpuAccess): ProcessBody<number> {
    const range = this.rangeAt(mm, addr);
    if (range === undefined || this.mappingState(range, access, addr) !== "usable") return -1;
    return yield* this.accessThrough(mm, addr, access);
  }

  /**
   * The access takes effect through the translation just checked, then its latency passes: an
   * invalidation starting meanwhile completes only once the accesses in flight have drained (its
   * TLB flush), so what it protects (a fork's copy) comes after this one. Returns the version seen.
   */
  private *accessThrough(mm: number, addr: number, access: GpuAccess): ProcessBody<number> {
    const vpn = Math.floor(addr / PAGE_SIZE);
    const pte = this.state.mms.get(mm)!.ptes.get(vpn)!;
    const version = this.state.folios.version(pte.folio, pte.index);
    if (pte.kind === "device-private") this.maybeIrqFree(pte.folio);
    const seen = access === "read" ? version : version + 1;
    if (access === "read") this.p.commit({ kind: "page.read", mm, vpn, folio: pte.folio, index: pte.index, version });
    else this.p.commit({ kind: "page.write", mm, vpn, folio: pte.folio, index: pte.index, version: seen });
    yield sleep(this.profile.gpu.accessNs);
    return seen;
  }

  /**
   * With probability irqFrees.probability, the access holds a reference to the device page that
   * a completion interrupt drops irqFrees.delayNs later. If everything else let go of the page
   * meanwhile (an munmap, say), that put is the last one and page_free runs in IRQ context.
   */
  private maybeIrqFree(folio: number): void {
    if (this.irqFrees.probability <= 0 || this.irqRandom() >= this.irqFrees.probability) return;
    const k = this.p.k;
    folioGet(k, folio);
    const self = this;
    k.engine.spawn(`irq-timer:folio${folio}`, (function* (): ProcessBody<void> {
      yield sleep(self.irqFrees.delayNs);
      self.commit({ kind: "gpu.irq_put", folio });
      k.engine.spawn(`irq:folio${folio}`, folioPut(k, folio), "irq");
    })());
  }

  /**
   * A bound range (in VRAM for an atomic). Its pages must still be where the bind put them: the
   * MMU notifier invalidates a range before the CPU side moves anything, so a bound range whose
   * pages moved is a missed invalidation, a model bug, counted in staleMappings and reported.
   */
  private *mappingUsable(range: SvmRangeState, access: GpuAccess, addr: number): ProcessBody<boolean> {
    const state = this.mappingState(range, access, addr);
    if (state === "stale") {
      this.staleMappings++;
      yield* this.invalidateRange(range);
    }
    return state === "usable";
  }

  /** Whether `range`'s mapping serves the access, or is stale (a model bug), or must fault; changes nothing. */
  private mappingState(range: SvmRangeState, access: GpuAccess, addr: number): "usable" | "stale" | "fault" {
    if (range.boundTo === null) return "fault";
    // Only the accessed page is checked: this runs on every GPU access.
    if (!this.pageUnchanged(range, Math.floor(addr / PAGE_SIZE))) return "stale";
    // A read-only GPU mapping (a copy-on-write page after fork) takes a write fault.
    if (access !== "read" && range.readOnly) return "fault";
    return access !== "atomic" || range.boundTo === "device" ? "usable" : "fault";
  }

  /**
   * xe_svm_invalidate, the MMU notifier: ranges of the mm overlapping the change lose their GPU
   * mapping (PTE zap and TLB invalidation, paid by the thread making the change). An unmapped
   * range is left for the garbage collector, which the next GPU fault runs first.
   */
  *invalidate(range: MmuNotifierRange, curSeq: number): ProcessBody<void> {
    if (range.event === "migrate" && this.policy !== null) yield* this.notifierBlock(range);
    // Taken after any hold, so ranges inserted during it are zapped too.
    const overlapping = [...svmRangeIndexOf(this.state).overlapping(range.mm, range.start, range.end)];
    // mmu_interval_set_seq: a fault between its get_pages and its bind must see this (mmu_interval_read_retry),
    // and one beginning a read of the range waits until the invalidation ends (mmu_interval_read_begin).
    for (const r of overlapping) if (r.notifierSeq !== curSeq) this.commit({ kind: "svm_range.notifier_seq", range: r.id, notifierSeq: curSeq });
    for (const r of overlapping) if (r.boundTo !== null) yield* this.invalidateRange(r);
  }

  /**
   * notifier-block: a migration back of a device-resident range waits, in the migrating thread,
   * for the range's hold to end. It waits before the callback takes the sequence, as a driver
   * blocking for a timeslice must: during the hold the GPU's own faults still read and bind the
   * range (their read_begin does not wait, their read_retry does not fire); the CPU has changed
   * nothing yet, and the mapping they bind is zapped right after.
   */
  private *notifierBlock(range: MmuNotifierRange): ProcessBody<void> {
    for (const r of [...svmRangeIndexOf(this.state).overlapping(range.mm, range.start, range.end)]) {
      const vpn = Math.max(r.start, range.start) / PAGE_SIZE;
      if (this.state.svmRanges.get(r.id) !== r || this.state.mms.get(r.mm)?.ptes.get(vpn)?.kind !== "device-private") continue;
      const blockNs = this.policy!.notifierBlockNs({ mm: r.mm, start: r.start, end: r.end, nowNs: this.p.k.engine.nowNs });
      if (blockNs <= 0) continue;
      this.commit({ kind: "mmu_notifier.block", range: r.id, durationNs: blockNs });
      yield sleep(blockNs);
    }
  }

  private *invalidateRange(r: SvmRangeState): ProcessBody<void> {
    yield spin(this.profile.gpu.invalidateNs); // zap the GPU PTEs, invalidate the GPU TLB
    if (r.boundTo === null || this.state.svmRanges.get(r.id) !== r) return; // another invalidation won the race
    this.commit({ kind: "svm_range.invalidate", range: r.id });
  }

  /** The range's notifier sequence, set when findOrInsert made the range (0 once it is removed). */
  private intervalSeq(r: SvmRangeState): number {
    return r.notifierSeq;
  }

  /** The page at vpn is still the one the bind mapped. */
  private pageUnchanged(range: SvmRangeState, vpn: number): boolean {
    const folio = range.boundTo === null ? undefined : range.folios[vpn - range.start / PAGE_SIZE];
    const pte = this.state.mms.get(range.mm)?.ptes.get(vpn);
    return folio !== undefined && pte !== undefined && pte.kind !== "migration" && pte.folio === folio;
  }

  private pagesUnchanged(range: SvmRangeState): boolean {
    const folios = range.folios;
    const ptes = this.state.mms.get(range.mm)?.ptes;
    if (range.boundTo === null || ptes === undefined) return false;
    const first = range.start / PAGE_SIZE;
    for (let i = 0; i < folios.length; i++) {
      const pte = ptes.get(first + i);
      if (pte === undefined || pte.kind === "migration" || pte.folio !== folios[i]) return false;
    }
    return true;
  }

  private rangeAt(mm: number, addr: number): SvmRangeState | undefined {
    return svmRangeIndexOf(this.state).at(mm, addr);
  }

  /**
   * __xe_svm_handle_pagefault. Returns 0 or the errno the GPU thread sees. A migration policy's
   * decision, if any, sets the timeslice (Xe's: atomic_svm_timeslice_ms for need_vram faults, 0
   * otherwise) or keeps the range where it is.
   */
  *handlePagefault(mm: number, addr: number, access: GpuAccess, decision: GpuFaultDecision | null = null): ProcessBody<number> {
    const g = this.profile.gpu;
    this.commit({ kind: "gpu_fault.begin", mm, addr, access });
    // need_vram: atomics on a discrete GPU without device atomics on system memory.
    const devmemOnly = access === "atomic";
    if (devmemOnly && decision?.kind === "stay") throw new Error(`policy ${this.policy?.name}: a fault that needs VRAM cannot stay in system memory (throttle it instead)`);
    const askedTimesliceMs = decision?.kind === "migrate" ? decision.timesliceMs : devmemOnly ? g.atomicTimesliceMs : NO_TIMESLICE_MS;
    let timesliceMs = askedTimesliceMs;
    let stampedTimesliceMs = -1; // no migration has succeeded yet
    let migrateTries = devmemOnly ? g.atomicMigrateTries : 1;
    const end = (ret: number): number => {
      this.commit({ kind: "gpu_fault.end", ret, askedTimesliceMs, stampedTimesliceMs });
      return ret;
    };
    const self = this;
    yield* this.stage("gc", 0, this.garbageCollect(mm));
    let found: SvmRangeState | number = -Errno.EINVAL;
    yield* this.stage("find_range", 0, (function* (): ProcessBody<number> {
      yield spin(g.findRangeNs);
      found = self.findOrInsert(mm, addr, access);
      return typeof found === "number" ? found : 0;
    })());
    if (typeof found === "number") return end(found);
    const r: SvmRangeState = found;
    // drm_gpusvm_range_find_or_insert: a write fault on a VMA without VM_WRITE (after mprotect, say).
    const vmaNow = vmaLookup(this.state.mms.get(mm)!, addr);
    if (access !== "read" && vmaNow !== undefined && !vmaNow.write) return end(-Errno.EPERM);
    const migratable = this.migratable(r);
    if (devmemOnly && !migratable) return end(-Errno.EACCES);

    for (let attempt = 0; attempt < MAX_FAULT_ATTEMPTS; attempt++) {
      const writeOk = access === "read" || !r.readOnly;
      if (r.boundTo !== null && writeOk && this.pagesUnchanged(r) && (!devmemOnly || r.boundTo === "device")) return end(0); // xe_svm_range_is_valid
      const wantVram = migratable && (devmemOnly || g.migrateNonAtomic) && decision?.kind !== "stay";
      if (wantVram && migrateTries > 0 && !this.inVram(r)) {
        migrateTries--;
        const ts = timesliceMs;
        const err = yield* this.stage("migrate", attempt, populateMm(this.p, this.dev.dpagemap, r.start, r.end, mm, ts));
        timesliceMs = xeRetryTimesliceMs(timesliceMs); // after every VRAM allocation attempt
        if (err !== 0) {
          if (migrateTries > 0 || !devmemOnly) continue;
          return end(err);
        }
        stampedTimesliceMs = ts;
      }
      let pages: RangePages | number = -Errno.EFAULT;
      // mmu_interval_read_begin: waits while an invalidation of the range (a fork's write-protect) is in progress.
      const seq = yield* mmuIntervalReadBegin(this.p.k, r.mm, () => this.intervalSeq(r));
      const got = yield* this.stage("get_pages", attempt, (function* (): ProcessBody<number> {
        pages = yield* self.getPages(r, devmemOnly, access);
        return typeof pages === "number" ? pages : 0;
      })());
      if (got !== 0) {
        timesliceMs = xeRetryTimesliceMs(timesliceMs);
        if (got === -Errno.EOPNOTSUPP) yield* this.evictRange(r); // mixed placement: back to RAM, then retry
        if (migrateTries > 0 || !devmemOnly) continue;
        return end(got);
      }
      const rp = pages as unknown as RangePages;
      // The pages got are stale if an invalidation (a migration, a fork's write-protect) came since: fault again.
      if ((yield* this.stage("bind", attempt, this.bind(r, rp, seq))) === -Errno.EAGAIN) continue;
      return end(0);
    }
    return end(-Errno.EAGAIN);
  }

  /** Runs one stage of the handler as the thread's own work and records how long it took. */
  private *stage(stage: GpuFaultStage, attempt: number, body: ProcessBody<number>): ProcessBody<number> {
    const engine = this.p.k.engine;
    const t0 = engine.nowNs;
    const ret = yield* body;
    this.commit({ kind: "gpu_fault.stage", stage, durationNs: engine.nowNs - t0, ret, attempt });
    return ret;
  }

  /**
   * xe_svm_garbage_collector: ranges whose memory was unmapped are destroyed before anything
   * else. A range unmapped only in part first has its remaining device pages evicted to system
   * memory (they would otherwise keep the VRAM allocation alive for the part that is gone).
   */
  private *garbageCollect(mm: number): ProcessBody<number> {
    const mmState = this.state.mms.get(mm);
    for (const r of [...this.state.svmRanges.values()]) {
      if (r.mm !== mm) continue;
      if (mmState !== undefined && this.coveredByVmas(mmState, r.start, r.end)) continue;
      if (mmState !== undefined && this.partlyMapped(mmState, r.start, r.end)) yield* this.evictRange(r);
      this.commit({ kind: "svm_range.remove", range: r.id });
    }
    return 0;
  }

  private coveredByVmas(mm: MmState, start: number, end: number): boolean {
    for (let addr = start; addr < end; ) {
      const vma = vmaLookup(mm, addr);
      if (vma === undefined) return false;
      addr = vma.endAddr;
    }
    return true;
  }

  private partlyMapped(mm: MmState, start: number, end: number): boolean {
    for (let addr = start; addr < end; addr += PAGE_SIZE) if (vmaLookup(mm, addr) !== undefined) return true;
    return false;
  }

  /**
   * drm_gpusvm_range_find_or_insert with drm_gpusvm_range_chunk_size: the largest chunk, aligned,
   * inside the VMA, overlapping no existing range, and (at or below the check-pages threshold)
   * with every CPU page already faulted in; 4 KiB is always allowed.
   */
  findOrInsert(mm: number, addr: number, access: GpuAccess): SvmRangeState | number {
    const existing = this.rangeAt(mm, addr);
    if (existing !== undefined) return existing;
    const mmState = this.state.mms.get(mm);
    if (mmState === undefined || mmState.users === 0) return -Errno.EFAULT;
    const vma = vmaLookup(mmState, addr);
    if (vma === undefined) return -Errno.ENOENT;
    if (access !== "read" && !vma.write) return -Errno.EPERM;
    const sizes = this.profile.gpu.chunkSizes;
    for (const [i, size] of sizes.entries()) {
      const start = addr - (addr % size);
      const end = start + size;
      const last = i === sizes.length - 1;
      if (start < vma.startAddr || end > vma.endAddr) continue;
      if (this.overlaps(mm, start, end)) continue;
      if (!last && size <= this.profile.gpu.checkPagesThresholdBytes && !this.allFaultedIn(mmState.ptes, start, end)) continue;
      const range = this.state.nextSvmRangeId;
      // mmu_interval_notifier_insert: the range's notifier starts at the mm's sequence.
      this.commit({ kind: "svm_range.insert", range, mm, start, end, notifierSeq: mmuIntervalNotifierInsertSeq(this.p.k, mm) });
      return this.state.svmRanges.get(range)!;
    }
    return -Errno.EINVAL;
  }

  private overlaps(mm: number, start: number, end: number): boolean {
    return svmRangeIndexOf(this.state).overlapping(mm, start, end).length > 0;
  }

  private allFaultedIn(ptes: PageTable, start: number, end: number): boolean {
    for (let vpn = start / PAGE_SIZE; vpn < end / PAGE_SIZE; vpn++) if (!ptes.has(vpn)) return false;
    return true;
  }

  /** drm_gpusvm's migrate_devmem: anonymous memory only, and not below the VRAM minimum size. */
  private migratable(r: SvmRangeState): boolean {
    const vma = vmaLookup(this.state.mms.get(r.mm)!, r.start);
    return vma !== undefined && vmaIsAnonymous(vma) && vma.kind === "anon-private" && r.end - r.start >= this.profile.gpu.minMigrateBytes;
  }

  private inVram(r: SvmRangeState): boolean {
    const ptes = this.state.mms.get(r.mm)!.ptes;
    for (let vpn = r.start / PAGE_SIZE; vpn < r.end / PAGE_SIZE; vpn++) if (ptes.get(vpn)?.kind !== "device-private") return false;
    return true;
  }

  /**
   * hmm_pte_need_fault for an entry (no entry always faults): a migration entry, or a write
   * requested (HMM_PFN_REQ_WRITE) through a write-protected one: a copy-on-write page after fork,
   * present or device-private (copy_nonpresent_pte made the latter read-only in both processes).
   */
  private hmmPteNeedFault(vmaKind: string, pte: PteState, access: GpuAccess): boolean {
    if (pte.kind === "migration") return true;
    return access !== "read" && pteWriteProtected(this.p.k, vmaKind, pte.folio, pte.index);
  }

  /**
   * drm_gpusvm_range_get_pages: hmm_range_fault over the range (faulting in what is missing),
   * then every page must be in one place: all system pages, or all device pages of one
   * allocation (-EOPNOTSUPP otherwise); with devmem_only a system page is -EFAULT.
   */
  private *getPages(r: SvmRangeState, devmemOnly: boolean, access: GpuAccess): ProcessBody<RangePages | number> {
    const k = this.p.k;
    const npages = (r.end - r.start) / PAGE_SIZE;
    // The walk costs per entry: one for a PMD-mapped THP, one per page elsewhere.
    yield spin(Math.round(this.hmmEntries(r, npages).length * this.profile.gpu.getPagesNsPerEntry));
    const faulted = yield* this.hmmRangeFault(r, access);
    if (faulted !== 0) return faulted;
    const folios: number[] = [];
    let memory: "system" | "device" | null = null;
    let zdd = -1;
    let writable = true;
    const mm = this.state.mms.get(r.mm)!;
    for (let i = 0; i < npages; i++) {
      const addr = r.start + i * PAGE_SIZE;
      const pte = mm.ptes.get(addr / PAGE_SIZE);
      // A later page's fault changed this one (mmu_interval_read_retry): try again.
      if (pte === undefined || pte.kind === "migration") return -Errno.EBUSY;
      // HMM_PFN_WRITE in the output: a read maps a write-protected page read-only on the GPU.
      if (pteWriteProtected(k, vmaLookup(mm, addr)?.kind ?? "anon-private", pte.folio, pte.index)) writable = false;
      const where = pte.kind === "device-private" ? "device" : "system";
      if (where === "device") {
        const z = this.state.folios.get(pte.folio)!.zdd;
        if (zdd !== -1 && z !== zdd) return -Errno.EOPNOTSUPP;
        zdd = z;
      }
      if (memory !== null && memory !== where) return -Errno.EOPNOTSUPP;
      if (devmemOnly && where === "system") return -Errno.EFAULT;
      memory = where;
      folios.push(pte.folio);
    }
    const devmem = zdd === -1 ? -1 : this.state.zdds.get(zdd)?.devmem ?? -1;
    return { folios, entryOrders: this.hmmEntries(r, npages), memory: memory ?? "system", devmem, writable };
  }

  /** The entries hmm_range_fault finds over the range as it is mapped now (hmmEntryOrders). */
  private hmmEntries(r: SvmRangeState, npages: number): number[] {
    const ptes = this.state.mms.get(r.mm)!.ptes;
    const first = r.start / PAGE_SIZE;
    return hmmEntryOrders(r.start, {
      count: npages,
      folioAt: (i) => ptes.folio(first + i), // -1 where nothing is mapped
      indexAt: (i) => ptes.index(first + i),
      orderOf: (folio) => this.state.folios.get(folio)!.order,
      pmdLeafAt: (i) => ptes.pmd(first + i) !== undefined,
    });
  }

  /**
   * hmm_range_fault over the whole range before get_pages looks at any page: every entry that
   * needs a fault (hmmPteNeedFault) is faulted, and walked again after each fault (-EBUSY;
   * drm_gpusvm retries until its timeout), so a read-only device-private entry's write fault,
   * which only brings the page back to RAM still shared, is followed by the write fault that
   * copies it (do_wp_page). Returns 0 or the errno get_pages fails with.
   */
  private *hmmRangeFault(r: SvmRangeState, access: GpuAccess): ProcessBody<number> {
    const k = this.p.k;
    const deadline = k.engine.nowNs + HMM_TIMEOUT_NS;
    for (let addr = r.start; addr < r.end; addr += PAGE_SIZE) {
      let pte = this.state.mms.get(r.mm)!.ptes.get(addr / PAGE_SIZE);
      const vmaKind = vmaLookup(this.state.mms.get(r.mm)!, addr)?.kind ?? "anon-private";
      for (let faults = 0; pte === undefined || this.hmmPteNeedFault(vmaKind, pte, access); faults++) {
        if (faults > 0 && k.engine.nowNs >= deadline) return -Errno.ETIME;
        const outcome = yield* handleMmFault(k, r.mm, addr, access === "read" ? "read" : "write"); // HMM_PFN_REQ_FAULT
        if (outcome !== "ok") return -Errno.EFAULT;
        pte = this.state.mms.get(r.mm)!.ptes.get(addr / PAGE_SIZE);
        if (pte === undefined || pte.kind === "migration") return -Errno.EBUSY;
      }
    }
    return 0;
  }

  /** xe_svm_range_bind: write the GPU page-table entries for the pages get_pages found (a 2 MiB PTE where an entry allows). */
  private *bind(r: SvmRangeState, pages: RangePages, seq: number): ProcessBody<number> {
    const g = this.profile.gpu;
    yield spin(Math.round(g.bindNs + xePtLeaves(pages.entryOrders) * g.bindNsPerPte));
    // Under the notifier lock, drm_gpusvm_range_pages_valid: the invalidation sequence moved since get_pages.
    if (mmuIntervalReadRetry(this.intervalSeq(r), seq)) return -Errno.EAGAIN;
    this.commit({ kind: "svm_range.bind", range: r.id, memory: pages.memory, folios: pages.folios, writable: pages.writable, notifierSeq: seq });
    if (pages.devmem !== -1) this.dev.touch(pages.devmem);
    return 0;
  }

  /**
   * drm_gpusvm_range_evict: hmm_range_fault with no device owner, so every device page of the
   * range takes the CPU-fault path (migrate_to_ram), timeslice and all, until none is left or
   * the HMM timeout passes (-ETIME). It retries only hmm_range_fault's -EBUSY (a fault that was
   * handled: the walk restarts); a fault that fails (VM_FAULT_SIGBUS from a migrate_to_ram that
   * could not allocate, map or copy) is -EFAULT from hmm_vma_fault, and the evict gives up with it.
   * (Issue #18: explore found the model retrying a failing fault until the timeout instead.)
   */
  *evictRange(r: SvmRangeState): ProcessBody<number> {
    const k = this.p.k;
    const deadline = k.engine.nowNs + HMM_TIMEOUT_NS;
    for (let vpn = r.start / PAGE_SIZE; vpn < r.end / PAGE_SIZE; vpn++) {
      while (this.state.mms.get(r.mm)?.ptes.get(vpn)?.kind === "device-private") {
        if (k.engine.nowNs >= deadline) return -Errno.ETIME;
        const outcome = yield* handleMmFault(k, r.mm, vpn * PAGE_SIZE, "read");
        if (outcome !== "ok") return -Errno.EFAULT;
        const nap = k.takeNap(); // a policy throttling the CPU-fault path sleeps here too
        if (nap > 0) yield sleep(nap);
      }
    }
    return 0;
  }
}
