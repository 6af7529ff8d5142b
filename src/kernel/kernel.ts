import type { MmuNotifier } from "./mmu-notifier.ts";
import { RwSemaphore, WaitQueueHead, type Engine, type ProcessBody } from "../engine/index.ts";
import type { KernelEvent } from "./events.ts";
import type { KernelState } from "./state.ts";

/** Where kernel code commits its changes: an EventLog over a state that contains KernelState. */
export interface KernelLog {
  readonly state: KernelState;
  commit(ev: KernelEvent): void;
}

/** What the CPU fault handler passes to dev_pagemap_ops.migrate_to_ram (struct vm_fault). */
export interface VmFault {
  mm: number;
  vma: number;
  /** The faulting address. */
  addr: number;
  /** The device folio and page index the entry names (vmf->page). */
  folio: number;
  index: number;
}

/** VM_FAULT_SIGBUS: the faulting thread gets SIGBUS. 0 means "return and retry the access". */
export const VM_FAULT_SIGBUS = 0x2;

/** struct dev_pagemap_ops: how mm calls back into the driver that owns device pages. */
export interface DevPagemapOps {
  /** page_free: the last reference to a device folio dropped, in whatever context dropped it. */
  pageFree(folio: number): ProcessBody<void>;
  /** migrate_to_ram: a CPU touched a device-private entry; returns 0 or VM_FAULT_SIGBUS. */
  migrateToRam(fault: VmFault): ProcessBody<number>;
  /**
   * folio_split (device THP): a large device folio split into `orig` (its page 0) and new
   * folios; called once per new folio so the driver can give it its own zone_device_data.
   * Absent in pagemaps that never make large folios.
   */
  folioSplit?(orig: number, newFolio: number): void;
}

/** Time the mm's own steps take. Defaults are sourced in docs; platform costs come elsewhere. */
export interface KernelCosts {
  /** Kernel entry, handle_mm_fault and return for a minor fault (median ≈1.0 µs, Linux 6.6). */
  faultEntryNs: number;
  /** Clearing a freshly allocated 4 KiB page on first touch. */
  pageZeroNs: number;
  /** migrate_vma_setup / migrate_device_pfns per entry walked (collect, lock, unmap, flush; a compound entry is one); 0 unless a platform sets it. */
  migrateSetupNsPerEntry: number;
  /** migrate_vma_pages / migrate_device_pages per entry walked. */
  migratePagesNsPerEntry: number;
  /** migrate_vma_finalize / migrate_device_finalize per entry walked. */
  migrateFinalizeNsPerEntry: number;
}

export const DEFAULT_KERNEL_COSTS: KernelCosts = { faultEntryNs: 1000, pageZeroNs: 250, migrateSetupNsPerEntry: 0, migratePagesNsPerEntry: 0, migrateFinalizeNsPerEntry: 0 };

/** Decides allocation failures (fault injection plugs in here); the default never fails. */
export type AllocFailure = (what: "folio_alloc", order: number, memory: "system" | "device") => boolean;

/**
 * The simulated kernel's shared context: the engine, the event log holding mm state, the
 * sleeping locks and wait queues that live in the engine rather than in the state, and the
 * registered device pagemaps. Kernel functions take it as their first argument.
 */
export class Kernel {
  readonly costs: KernelCosts;
  /** Secondary MMUs mirroring CPU page tables (mmu_interval_notifier registrations). */
  readonly mmuNotifiers: MmuNotifier[] = [];
  allocFailure: AllocFailure = () => false;
  /**
   * /sys/kernel/mm/transparent_hugepage/enabled for anonymous memory: "always" makes a first
   * touch of an empty, 2 MiB aligned block inside a private anonymous VMA allocate a THP.
   */
  thp: "always" | "never" = "never";
  /**
   * The mm's version seam: true for the mm with device-private THP (v6.19+, the newest variant):
   * migrate_vma_collect_huge_pmd instead of v6.15's split-on-collection (and its reference leak).
   * Compound collection still needs the caller's SELECT_COMPOUND.
   */
  deviceThpMm = false;
  private readonly mmapLocks = new Map<number, RwSemaphore>();
  private readonly folioWaitQueues = new Map<number, WaitQueueHead>();
  private readonly pagemapOps: DevPagemapOps[] = [];
  /** dev_pagemap->owner of each registered pagemap: migrate_vma's pgmap_owner is compared with it. */
  private readonly pagemapOwners: number[] = [];

  constructor(
    readonly engine: Engine,
    readonly log: KernelLog,
    costs: Partial<KernelCosts> = {},
  ) {
    this.costs = { ...DEFAULT_KERNEL_COSTS, ...costs };
  }

  get state(): KernelState {
    return this.log.state;
  }

  commit(ev: KernelEvent): void {
    this.log.commit(ev);
  }

  /** The uid of the simulated thread running now, or -1 outside any. */
  get currentThread(): number {
    return this.engine.current?.uid ?? -1;
  }

  /**
   * The nap a driver asked for during the running thread's last fault (0 if none; KernelState.napsNs,
   * a throttled fault: NVIDIA UVM's CPU nap), taken now: the caller sleeps it outside every lock.
   */
  takeNap(): number {
    const thread = this.currentThread;
    const ns = this.state.napsNs.get(thread);
    if (ns === undefined) return 0;
    this.commit({ kind: "fault.nap", thread, durationNs: ns });
    return ns;
  }

  /** mm->mmap_lock. */
  mmapLock(mm: number): RwSemaphore {
    let sem = this.mmapLocks.get(mm);
    if (sem === undefined) {
      sem = new RwSemaphore(this.engine, `mmap_lock:mm${mm}`);
      this.mmapLocks.set(mm, sem);
    }
    return sem;
  }

  /**
   * The wait queue of a folio's lock bit (the kernel hashes folios onto a shared table; here each
   * contended folio gets its own queue, dropped again once nobody sleeps on it).
   */
  folioWaitQueue(folio: number): WaitQueueHead {
    let wq = this.folioWaitQueues.get(folio);
    if (wq === undefined) {
      wq = new WaitQueueHead(this.engine, `folio:${folio}`);
      this.folioWaitQueues.set(folio, wq);
    }
    return wq;
  }

  /** Wakes everyone sleeping on the folio's lock bit. */
  wakeFolioWaiters(folio: number): void {
    const wq = this.folioWaitQueues.get(folio);
    if (wq === undefined) return;
    wq.wakeUpAll();
    this.folioWaitQueues.delete(folio);
  }

  /**
   * devm_memremap_pages: a driver registers its device memory; returns the pagemap id. `owner`
   * stands for dev_pagemap->owner (drivers sharing an owner may migrate each other's pages);
   * by default each pagemap is its own owner.
   */
  registerPagemap(ops: DevPagemapOps, owner?: number): number {
    const id = this.pagemapOps.length;
    this.pagemapOps.push(ops);
    this.pagemapOwners.push(owner ?? id);
    return id;
  }

  /** page_pgmap(page)->owner for a device folio of pagemap `id`. */
  pagemapOwner(id: number): number {
    const owner = this.pagemapOwners[id];
    if (owner === undefined) throw new Error(`no device pagemap ${id}`);
    return owner;
  }

  pagemap(id: number): DevPagemapOps {
    const ops = this.pagemapOps[id];
    if (ops === undefined) throw new Error(`no device pagemap ${id}`);
    return ops;
  }
}
