import { ENGINE_EVENT_KINDS, EXEC_CONTEXTS, type EngineEventKind } from "../engine/index.ts";
import { PAGEMAP_FUNCTIONS } from "../pagemap/events.ts";
import type { ModelState } from "../pagemap/state.ts";
import { GPU_FAULT_STAGES } from "../platform/events.ts";
import { STEP_OPS, type RunEvent, type RunEventKind } from "../machine/run-events.ts";

/**
 * The event log's columns. Every event has five (seq, t_ns, kind, thread, ctx), the fields its
 * kind needs, and two the recorder adds: the refcount after the change (kinds that move one), and
 * a checksum of the row. events.arrow stores each kind's fields in its own union member
 * (FIELDS_MEMBERS below); events.sqlite keeps one wide table. docs/events.md is generated from here.
 */
export type ColumnType = "i32" | "u32" | "i64" | "bool" | "enum" | "text" | "i64list";

export interface ColumnDef {
  readonly name: string;
  readonly type: ColumnType;
  readonly doc: string;
  /** For enum columns: the dictionary, fixed so every file of every run has the same one. */
  readonly values?: readonly string[];
}

const VMA_KINDS = ["anon-private", "anon-shared", "file"] as const;
const MEMORY_KINDS = ["system", "device"] as const;
const PTE_KINDS = ["present", "device-private", "migration"] as const;

export const COLUMNS = [
  { name: "seq", type: "i64", doc: "0, 1, 2, … in the order events happened (model and engine events share it)" },
  { name: "t_ns", type: "i64", doc: "simulated time in nanoseconds" },
  { name: "kind", type: "enum", doc: "what happened, named after the kernel function or step (see below)" },
  { name: "thread", type: "i32", doc: "uid of the simulated thread (CPU thread, GPU thread, IRQ, worker) that made the change; -1 for set-up. Names are in run.json and the SQLite `threads` table" },
  { name: "ctx", type: "enum", doc: "that thread's execution context", values: EXEC_CONTEXTS },
  { name: "mm", type: "i32", doc: "address space (mm_struct) id" },
  { name: "parent_mm", type: "i32", doc: "fork: the parent's address space id" },
  { name: "vma", type: "i32", doc: "VMA id" },
  { name: "start", type: "i64", doc: "start address in bytes (a range's start, or the faulting address)" },
  { name: "end", type: "i64", doc: "end address in bytes (exclusive)" },
  { name: "new_start", type: "i64", doc: "mremap: where the range's data now starts, in bytes" },
  { name: "vma_kind", type: "enum", doc: "anonymous private, anonymous shared, or file-backed", values: VMA_KINDS },
  { name: "read", type: "bool", doc: "the VMA is readable" },
  { name: "write", type: "bool", doc: "the VMA is writable (svm_range.bind: the GPU mapping is writable)" },
  { name: "pgoff", type: "i64", doc: "the VMA's vm_pgoff in pages (private anonymous: the page number it was first mapped at; otherwise the offset into its file)" },
  { name: "file", type: "i32", doc: "the file a VMA maps (a shared anonymous mapping's own shmem file); -1 for private anonymous memory" },
  { name: "anon_vma", type: "i32", doc: "the VMA's anon_vma as merging tells them apart: -1, or the one fork gave a copied VMA" },
  { name: "folio", type: "i32", doc: "folio id (for a copy: the source folio)" },
  { name: "index", type: "i32", doc: "page index inside the folio (for a copy: in the source)" },
  { name: "dst_folio", type: "i32", doc: "a copy's destination folio" },
  { name: "dst_index", type: "i32", doc: "page index inside the destination folio" },
  { name: "order", type: "i32", doc: "folio order: 2^order pages" },
  { name: "memory", type: "enum", doc: "system RAM or device memory", values: MEMORY_KINDS },
  { name: "pagemap", type: "i32", doc: "dev_pagemap id of a device folio (-1 for system folios)" },
  { name: "pfn", type: "i64", doc: "device page frame number (-1 for system folios)" },
  { name: "first_new", type: "i32", doc: "split: id of the folio that page 1 becomes (page i becomes first_new + i - 1)" },
  { name: "lock_owner", type: "i32", doc: "uid of the thread that took the folio lock" },
  { name: "zdd", type: "i32", doc: "drm_pagemap_zdd id" },
  { name: "vpn", type: "i64", doc: "virtual page number (address / 4096)" },
  { name: "pte_kind", type: "enum", doc: "what the page table entry holds", values: PTE_KINDS },
  { name: "freeze", type: "bool", doc: "pmd.split: the PMD becomes migration entries (freeze) rather than 512 mapped PTEs" },
  { name: "version", type: "i32", doc: "the page's data version a write left or a read saw (verify checks every read against the last write its process could see)" },
  { name: "dpagemap", type: "i32", doc: "drm_pagemap id" },
  { name: "owner", type: "i32", doc: "device-private page owner token" },
  { name: "devmem", type: "i32", doc: "drm_pagemap_devmem allocation id" },
  { name: "size_bytes", type: "i64", doc: "size in bytes" },
  { name: "pfns", type: "i64list", doc: "device page frames backing an allocation, in order" },
  { name: "expiration", type: "i64", doc: "timeslice expiry in jiffies" },
  { name: "jiffies", type: "i64", doc: "jiffies when the timeslice was checked" },
  { name: "holder", type: "enum", doc: "whose zdd reference goes: the migrating thread's (creator) or a device page's (page)", values: ["creator", "page"] },
  { name: "ret", type: "i32", doc: "a function's return value: 0 or a negative errno" },
  { name: "dir", type: "enum", doc: "DMA direction", values: ["to_device", "from_device"] },
  { name: "fn", type: "enum", doc: "the drm_pagemap function", values: PAGEMAP_FUNCTIONS },
  { name: "what", type: "text", doc: "kernel.bug: what the modelled kernel would have done wrong; a drm_pagemap function's .end: the exit it left by (its goto label and why, as src/pagemap/exits.ts lists them)" },
  { name: "access", type: "enum", doc: "the faulting access, or the one access.begin starts", values: ["read", "write", "atomic"] },
  { name: "range", type: "i32", doc: "GPU SVM range id" },
  { name: "folios", type: "i64list", doc: "the folios a GPU mapping points at, page by page" },
  { name: "notifier_seq", type: "i64", doc: "a GPU SVM range notifier's sequence (mmu_interval_notifier's invalidate_seq)" },
  { name: "nap_thread", type: "i32", doc: "uid of the thread a nap is for (the faulting thread, the same as `thread`): the state keeps naps by thread" },
  { name: "job", type: "i32", doc: "copy-engine job id, in arrival order" },
  { name: "channels", type: "i32", doc: "how many channels the copy engine has" },
  { name: "placement", type: "enum", doc: "which end of VRAM the buddy allocator takes blocks from (high: drm_buddy's)", values: ["low", "high"] },
  { name: "at_ns", type: "i64", doc: "a time the driver keeps (when the GPU last used a VRAM allocation: TTM's LRU order), in simulated nanoseconds" },
  { name: "stage", type: "enum", doc: "a stage of the GPU fault handler", values: GPU_FAULT_STAGES },
  { name: "duration_ns", type: "i64", doc: "how long it took, in simulated nanoseconds" },
  { name: "queued_ns", type: "i64", doc: "how long it waited for a channel before it ran" },
  { name: "attempt", type: "i32", doc: "the handler's retry number, from 0" },
  { name: "timeslice_ms", type: "i32", doc: "the timeslice stamped, in ms as drm_pagemap_migrate_to_devmem was given it (expiration has it in jiffies)" },
  { name: "timeslice_asked_ms", type: "i32", doc: "the timeslice a GPU fault asked for, in ms, before Xe doubled it on any retry" },
  { name: "timeslice_stamped_ms", type: "i32", doc: "the timeslice a GPU fault's successful migration was stamped with, in ms (asked, doubled per retry before it); -1: no migration succeeded" },
  { name: "bytes", type: "i64", doc: "bytes moved" },
  { name: "outcome", type: "enum", doc: "what handle_mm_fault told the thread: retry the access (ok) or a signal", values: ["ok", "SIGSEGV", "SIGBUS", "OOM"] },
  { name: "op", type: "enum", doc: "the workload step's operation", values: STEP_OPS },
  { name: "step", type: "i32", doc: "the step's index in its thread's script" },
  { name: "result", type: "text", doc: "what the step returned (\"0\", \"-EBUSY\", \"ok v3\", \"SIGBUS\", …)" },
  { name: "ok", type: "bool", doc: "a page access completed (false: it failed: a signal for a CPU access, an errno for a GPU access)" },
  { name: "object", type: "i32", doc: "the engine primitive (lock, completion, queue, channel); names in run.json and the SQLite `objects` table" },
  { name: "arg", type: "i64", doc: "an engine event's number (see its kind: a duration in ns, a count, a flag)" },
  { name: "refcount", type: "i32", doc: "added by the recorder: the folio's refcount, the zdd's refcount or the mm's users after the event (replay checks it)" },
  { name: "check", type: "u32", doc: "added by the recorder: a checksum of the row's other values, so verify can name a row that was altered" },
] as const satisfies readonly ColumnDef[];

export type ColumnName = (typeof COLUMNS)[number]["name"];
export const COLUMN_INDEX: Readonly<Record<ColumnName, number>> = Object.fromEntries(COLUMNS.map((c, i) => [c.name, i])) as Record<ColumnName, number>;

/** The fields of the run event of kind K (its union member, minus `kind`). */
type FieldsOf<K extends RunEventKind> = RunEvent extends infer E ? (E extends { kind: infer Q } ? (K extends Q ? Omit<E, "kind"> : never) : never) : never;

/**
 * Every model and workload event kind: what it records and where each field goes. The mapped
 * type makes the compiler insist on every kind and every field.
 */
export const RUN_EVENT_SPECS: { readonly [K in RunEventKind]: { readonly doc: string; readonly fields: { readonly [F in keyof FieldsOf<K>]-?: ColumnName } } } = {
  "mm.create": { doc: "a process's address space comes to exist, with one user", fields: { mm: "mm" } },
  mmget: { doc: "mmget / mmget_not_zero succeeded: one more user", fields: { mm: "mm" } },
  mmput: { doc: "mmput: one user fewer; at 0 the address space is torn down", fields: { mm: "mm" } },
  "vma.insert": { doc: "a VMA is created (mmap, or one made by a split or a merge in munmap/mprotect/mremap)", fields: { mm: "mm", vma: "vma", startAddr: "start", endAddr: "end", vmaKind: "vma_kind", read: "read", write: "write", pgoff: "pgoff", file: "file", anonVma: "anon_vma" } },
  "vma.remove": { doc: "a VMA is gone", fields: { mm: "mm", vma: "vma" } },
  "folio.alloc": { doc: "a folio is allocated with one reference; a device folio is the ZONE_DEVICE page at pfn coming into use", fields: { folio: "folio", order: "order", memory: "memory", pagemap: "pagemap", pfn: "pfn" } },
  "folio.get": { doc: "folio_get / get_page", fields: { folio: "folio" } },
  "folio.put": { doc: "folio_put / put_page", fields: { folio: "folio" } },
  "folio.free": { doc: "the folio returns to its allocator (refcount 0)", fields: { folio: "folio" } },
  "folio.lock": { doc: "folio_lock / folio_trylock succeeded", fields: { folio: "folio", owner: "lock_owner" } },
  "folio.unlock": { doc: "folio_unlock", fields: { folio: "folio" } },
  "folio.pin": { doc: "pin_user_pages(FOLL_LONGTERM): a reference and a pin", fields: { folio: "folio" } },
  "folio.unpin": { doc: "unpin_user_page: the pin and its reference go", fields: { folio: "folio" } },
  "folio.split": { doc: "split_folio of a locked large folio (system or device) into order-0 folios", fields: { folio: "folio", firstNew: "first_new" } },
  "folio.set_zdd": { doc: "a device page's zone_device_data is set (drm_pagemap_get_devmem_page)", fields: { folio: "folio", zdd: "zdd" } },
  "pte.set": { doc: "a page table entry is written", fields: { mm: "mm", vpn: "vpn", pteKind: "pte_kind", folio: "folio", index: "index" } },
  "pte.clear": { doc: "a page table entry is cleared", fields: { mm: "mm", vpn: "vpn" } },
  "pmd.set": { doc: "a PMD leaf is written over the 2 MiB block starting at vpn: one entry (one mapping, one reference unless a migration entry) for a whole order-9 folio", fields: { mm: "mm", vpn: "vpn", pteKind: "pte_kind", folio: "folio" } },
  "pmd.clear": { doc: "the PMD leaf of the block at vpn is cleared (its reference is put separately)", fields: { mm: "mm", vpn: "vpn" } },
  "pmd.split": { doc: "__split_huge_pmd_locked: the PMD leaf at vpn becomes 512 PTEs of its folio (+511 references), or 512 migration entries with freeze", fields: { mm: "mm", vpn: "vpn", freeze: "freeze" } },
  "page.write": { doc: "a write by process mm at page vpn through a mapping: the page's data version advances to version. Outside an access.begin/access.end pair of its thread it is a whole access of its own that needed no fault (a write or atomic, as its step's op says): ok, begun now, and ended now on a CPU thread, at the thread's next event on a GPU thread", fields: { mm: "mm", vpn: "vpn", folio: "folio", index: "index", version: "version" } },
  "page.read": { doc: "a read by process mm at page vpn through a mapping saw data version version (changes nothing). Outside an access.begin/access.end pair of its thread it is a whole access of its own that needed no fault: ok, begun now, and ended now on a CPU thread, at the thread's next event on a GPU thread", fields: { mm: "mm", vpn: "vpn", folio: "folio", index: "index", version: "version" } },
  "mm.fork": { doc: "dup_mmap: the child mm starts with what parent_mm sees at this event; afterwards each sees its own writes, except through shared mappings (changes nothing)", fields: { mm: "mm", parent: "parent_mm" } },
  "mmu_notifier.begin": { doc: "mmu_notifier_invalidate_range_start: one more invalidation of mm in progress; its notifier sequence (invalidate_seq) turns odd", fields: { mm: "mm" } },
  "mmu_notifier.end": { doc: "mmu_notifier_invalidate_range_end: one invalidation of mm fewer; with none left the sequence turns even and readers waiting in mmu_interval_read_begin wake", fields: { mm: "mm" } },
  "mm.unmap": { doc: "[start, end) of mm is unmapped (munmap, or mremap clearing its target): its data is gone (changes nothing)", fields: { mm: "mm", start: "start", end: "end" } },
  "mm.move": { doc: "mremap's move_page_tables: the data of [start, end) of mm is now at new_start (changes nothing)", fields: { mm: "mm", start: "start", end: "end", newStart: "new_start" } },
  "page.copy": { doc: "a copy engine or CPU copy of one page", fields: { srcFolio: "folio", srcIndex: "index", dstFolio: "dst_folio", dstIndex: "dst_index" } },
  "handle_mm_fault.begin": { doc: "a CPU page fault enters handle_mm_fault (after the exception entry cost)", fields: { mm: "mm", addr: "start", access: "access" } },
  "handle_mm_fault.end": { doc: "handle_mm_fault returns", fields: { outcome: "outcome" } },
  "fault.nap": { doc: "after its fault, its locks dropped, the thread sleeps the duration_ns a driver (a migration policy's hold) asked for", fields: { thread: "nap_thread", durationNs: "duration_ns" } },
  "dpagemap.create": { doc: "a device's drm_pagemap is registered", fields: { dpagemap: "dpagemap", pagemap: "pagemap", owner: "owner" } },
  "dpagemap.unbind": { doc: "the device is unbound: new populations fail with -ENODEV", fields: { dpagemap: "dpagemap" } },
  "devmem.init": { doc: "drm_pagemap_devmem_init: a device-memory allocation", fields: { devmem: "devmem", dpagemap: "dpagemap", mm: "mm", sizeBytes: "size_bytes", pfns: "pfns" } },
  "devmem.timeslice": { doc: "the timeslice stamp in drm_pagemap_migrate_to_devmem (after a successful migration)", fields: { devmem: "devmem", expiration: "expiration", timesliceMs: "timeslice_ms" } },
  "devmem.detach": { doc: "complete_all(&devmem->detached): no device page of the allocation is left", fields: { devmem: "devmem" } },
  "devmem.release": { doc: "devmem_release: the allocation's device memory is given back", fields: { devmem: "devmem" } },
  "zdd.alloc": { doc: "drm_pagemap_zdd_alloc, refcount 1", fields: { zdd: "zdd", owner: "owner" } },
  "zdd.get": { doc: "a device page's zone_device_data takes a zdd reference", fields: { zdd: "zdd" } },
  "zdd.put": { doc: "a zdd reference goes", fields: { zdd: "zdd", holder: "holder" } },
  "zdd.bind": { doc: "zdd->devmem_allocation = devmem: the zdd now owns the allocation", fields: { zdd: "zdd", devmem: "devmem" } },
  "zdd.destroy": { doc: "drm_pagemap_zdd_destroy (refcount reached 0)", fields: { zdd: "zdd" } },
  "migrate_to_devmem.begin": { doc: "entry to drm_pagemap's migrate_to_devmem for [start, end) of mm", fields: { mm: "mm", start: "start", end: "end" } },
  "migrate_to_devmem.end": { doc: "migrate_to_devmem returns ret (0 or a negative errno); what: the exit it left by, the kernel's label and why (err_out:no_vma, ok)", fields: { ret: "ret", exit: "what" } },
  "migrate_to_ram.begin": { doc: "entry to drm_pagemap's migrate_to_ram for [start, end) of mm", fields: { mm: "mm", start: "start", end: "end" } },
  "migrate_to_ram.end": { doc: "migrate_to_ram returns ret (0 or a negative errno); what: the exit it left by, the kernel's label and why (err_finalize:copy_to_ram, ok)", fields: { ret: "ret", exit: "what" } },
  "evict_to_ram.begin": { doc: "entry to drm_pagemap's evict_to_ram for [start, end) of mm", fields: { mm: "mm", start: "start", end: "end" } },
  "evict_to_ram.end": { doc: "evict_to_ram returns ret (0 or a negative errno); what: the exit each attempt left by, then the outcome, joined with ; (ok;detached, err_finalize:copy_to_ram;ok;detached)", fields: { ret: "ret", exit: "what" } },
  "populate_mm.begin": { doc: "entry to drm_pagemap's populate_mm for [start, end) of mm", fields: { mm: "mm", start: "start", end: "end" } },
  "populate_mm.end": { doc: "populate_mm returns ret (0 or a negative errno); what: its exit: ok, mmget_failed, or the driver's errno (driver:ENODEV)", fields: { ret: "ret", exit: "what" } },
  "dma.map": { doc: "dma_map_page of a system folio for a migration copy; duration_ns: what the mapping cost the migrating thread", fields: { folio: "folio", order: "order", dir: "dir", durationNs: "duration_ns" } },
  "dma.unmap": { doc: "dma_unmap_page; duration_ns: what it cost the migrating thread", fields: { folio: "folio", order: "order", dir: "dir", durationNs: "duration_ns" } },
  "dma.iova_alloc": { doc: "dma_iova_try_alloc (IOMMU mode iova): one IOVA range of size_bytes for the whole migration; duration_ns: its cost to the migrating thread", fields: { sizeBytes: "size_bytes", dir: "dir", durationNs: "duration_ns" } },
  "dma.iova_link": { doc: "dma_iova_link of one physically contiguous piece, a system folio, into the migration's IOVA range; duration_ns: its cost", fields: { folio: "folio", order: "order", dir: "dir", durationNs: "duration_ns" } },
  "dma.iova_sync": { doc: "dma_iova_sync: one IOTLB sync for the size_bytes linked; duration_ns: its cost", fields: { sizeBytes: "size_bytes", dir: "dir", durationNs: "duration_ns" } },
  "dma.iova_unlink": { doc: "dma_iova_unlink of the size_bytes linked, with one IOTLB invalidation; duration_ns: its cost", fields: { sizeBytes: "size_bytes", dir: "dir", durationNs: "duration_ns" } },
  "dma.iova_free": { doc: "dma_iova_free: the migration's IOVA range of size_bytes goes back; duration_ns: its cost", fields: { sizeBytes: "size_bytes", dir: "dir", durationNs: "duration_ns" } },
  "kernel.bug": { doc: "the model reached a step where the modelled kernel would oops or corrupt memory; the run goes on", fields: { fn: "fn", what: "what" } },
  "cpu_fault.policy_hold": { doc: "not a kernel step: the migration policy held a CPU fault on a device page off; the CPU faults again at once, or after sleeping duration_ns", fields: { devmem: "devmem", durationNs: "duration_ns", thread: "nap_thread" } },
  "cpu_fault.timeslice_spin": { doc: "__drm_pagemap_migrate_to_ram returned early: the timeslice has not expired, the CPU will fault again", fields: { devmem: "devmem", jiffies: "jiffies", expiration: "expiration" } },
  "svm_range.insert": { doc: "drm_gpusvm_range_find_or_insert created a GPU SVM range (the chunk chosen for the fault); its notifier starts at notifier_seq", fields: { range: "range", mm: "mm", start: "start", end: "end", notifierSeq: "notifier_seq" } },
  "svm_range.bind": { doc: "the range's GPU page-table entries were written for its current pages: folios, page by page, each the one its CPU page-table entry maps, for notifier_seq, still the range's (replay checks both); write false: mapped read-only", fields: { range: "range", memory: "memory", folios: "folios", writable: "write", notifierSeq: "notifier_seq" } },
  "svm_range.notifier_seq": { doc: "mmu_interval_set_seq: an invalidation overlapping the range stored its sequence in the range's notifier (a bind after it retries)", fields: { range: "range", notifierSeq: "notifier_seq" } },
  "svm_range.invalidate": { doc: "the range's GPU mapping is gone (its pages moved); the next GPU access faults", fields: { range: "range" } },
  "svm_range.remove": { doc: "the range is destroyed (garbage collection after an unmap)", fields: { range: "range" } },
  "gpu_fault.begin": { doc: "a GPU access found no valid mapping: __xe_svm_handle_pagefault starts", fields: { mm: "mm", addr: "start", access: "access" } },
  "gpu_fault.stage": { doc: "one stage of the GPU fault handler and how long it took", fields: { stage: "stage", durationNs: "duration_ns", ret: "ret", attempt: "attempt" } },
  "gpu_fault.throttle": { doc: "not a kernel step: the migration policy throttled a GPU fault; the GPU replays it after duration_ns", fields: { mm: "mm", addr: "start", durationNs: "duration_ns" } },
  "mmu_notifier.block": { doc: "not a kernel step: the notifier-block policy held a migration of a device-resident range in the GPU's MMU notifier for duration_ns", fields: { range: "range", durationNs: "duration_ns" } },
  "gpu_fault.end": { doc: "the GPU fault handler returns: what timeslice it asked for and what its successful migration stamped", fields: { ret: "ret", askedTimesliceMs: "timeslice_asked_ms", stampedTimesliceMs: "timeslice_stamped_ms" } },
  "vram.init": { doc: "the VRAM manager's buddy allocator is set up: size_bytes of VRAM, roots of 2^order pages, blocks taken from the placement end", fields: { sizeBytes: "size_bytes", maxOrder: "order", placement: "placement" } },
  "vram.alloc": { doc: "VRAM blocks for allocation devmem (populate_mm, before devmem.init): size_bytes asked for, pfns the pages handed out (replay checks the allocator gives exactly these); it joins the LRU at at_ns", fields: { devmem: "devmem", owner: "owner", sizeBytes: "size_bytes", pfns: "pfns", atNs: "at_ns" } },
  "vram.touch": { doc: "the GPU used the allocation (a bind of its pages) at at_ns: it moves to the LRU's tail", fields: { devmem: "devmem", atNs: "at_ns" } },
  "vram.evict": { doc: "the allocation is the LRU's eviction victim (VRAM full): off the LRU while its pages are evicted", fields: { devmem: "devmem" } },
  "vram.free": { doc: "the allocation's VRAM blocks go back to the allocator (devmem_release's BO put)", fields: { devmem: "devmem" } },
  "copy.init": { doc: "the copy engine is set up with its channels", fields: { channels: "channels" } },
  "copy.submit": { doc: "a copy-engine job arrives (xe_svm_copy submits it) and queues for a channel, in arrival order", fields: { job: "job", bytes: "bytes", dir: "dir" } },
  "copy.start": { doc: "the job at the head of the copy engine's queue got a channel and runs", fields: { job: "job" } },
  "copy.job": { doc: "a copy-engine job completed: its bytes, its wait for a channel and its run time; its channel is free", fields: { job: "job", bytes: "bytes", queuedNs: "queued_ns", durationNs: "duration_ns", dir: "dir" } },
  "gpu.irq_put": { doc: "not a kernel step: a GPU access's completion interrupt drops the device-page reference the access took (irqFrees); the put itself follows from an IRQ thread", fields: { folio: "folio" } },
  "access.begin": { doc: "not a kernel step: a workload thread's page access that faults starts (a CPU load or store, or a GPU access when ctx is gpu) at address start of mm; an access that needs no fault has no markers, only its page.read or page.write", fields: { mm: "mm", addr: "start", access: "access" } },
  "access.end": { doc: "not a kernel step: the thread's marked page access ends, completed (ok) or failed; duration_ns: a GPU access's time from its first fault (its first translation that failed) to its end; 0 for a CPU access", fields: { ok: "ok", stallNs: "duration_ns" } },
  "step.begin": { doc: "a workload step starts", fields: { op: "op", step: "step" } },
  "step.end": { doc: "a workload step returns", fields: { op: "op", step: "step", result: "result" } },
};

/** Every kind the log can hold, in dictionary order: run events, then the engine's. */
export const EVENT_KINDS: readonly string[] = [...Object.keys(RUN_EVENT_SPECS), ...Object.keys(ENGINE_EVENT_KINDS)];
export const KIND_INDEX: ReadonlyMap<string, number> = new Map(EVENT_KINDS.map((k, i) => [k, i]));
export const ENGINE_KIND_FIELDS = { object: "object", arg: "arg" } as const satisfies Record<string, ColumnName>;

export function isEngineKind(kind: string): kind is EngineEventKind {
  return Object.hasOwn(ENGINE_EVENT_KINDS, kind);
}

/**
 * The refcount the recorder stores with an event, read from the state just after it was applied:
 * a folio's refcount, a zdd's, or an mm's users. null for kinds that move no count.
 */
export function refcountAfter(state: ModelState, ev: RunEvent): number | null {
  switch (ev.kind) {
    case "folio.alloc":
    case "folio.get":
    case "folio.put":
    case "folio.pin":
    case "folio.unpin":
      return state.folios.has(ev.folio) ? state.folios.refcount(ev.folio) : null;
    case "zdd.alloc":
    case "zdd.get":
    case "zdd.put":
      return state.zdds.get(ev.zdd)?.refcount ?? null;
    case "mm.create":
    case "mmget":
    case "mmput":
      return state.mms.get(ev.mm)?.users ?? null;
    default:
      return null;
  }
}

/** Kinds whose rows carry the refcount after the event (refcountAfter gives null when the object is gone). */
export const REFCOUNT_KINDS: ReadonlySet<string> = new Set(["folio.alloc", "folio.get", "folio.put", "folio.pin", "folio.unpin", "zdd.alloc", "zdd.get", "zdd.put", "mm.create", "mmget", "mmput"]);

/**
 * One member of the `fields` union: the columns one kind's rows hold (every engine kind shares
 * the member `engine`), in column order, which is the order the row checksum folds them in.
 */
export interface FieldsMember {
  /** The union member's name: the run event kind, or "engine". */
  readonly name: string;
  /** Its Arrow type id in the union (the member's position). */
  readonly typeId: number;
  /** Column indices (into COLUMNS), ascending. */
  readonly columns: readonly number[];
  /** Of those, the ones that may be null in a row of this member (refcount, an engine event's object). */
  readonly nullable: ReadonlySet<number>;
}

/**
 * The on-disk layout of events.arrow: the header columns every row has, then `fields`, a dense
 * union with one member per kind, so a row stores only its own kind's values (no null columns).
 */
export const HEADER_COLUMNS = ["seq", "t_ns", "kind", "thread", "ctx"] as const satisfies readonly ColumnName[];
export const FIELDS_MEMBERS: readonly FieldsMember[] = [
  ...Object.entries(RUN_EVENT_SPECS).map(([kind, spec], typeId): FieldsMember => {
    const columns = Object.values(spec.fields as Record<string, ColumnName>).map((c) => COLUMN_INDEX[c]);
    if (REFCOUNT_KINDS.has(kind)) columns.push(COLUMN_INDEX.refcount);
    return { name: kind, typeId, columns: columns.sort((a, b) => a - b), nullable: new Set(REFCOUNT_KINDS.has(kind) ? [COLUMN_INDEX.refcount] : []) };
  }),
  { name: "engine", typeId: Object.keys(RUN_EVENT_SPECS).length, columns: [COLUMN_INDEX[ENGINE_KIND_FIELDS.object], COLUMN_INDEX[ENGINE_KIND_FIELDS.arg]], nullable: new Set([COLUMN_INDEX[ENGINE_KIND_FIELDS.object]]) },
];
/** Kind index (in EVENT_KINDS) → its union member's type id. */
export const MEMBER_OF_KIND: readonly number[] = EVENT_KINDS.map((kind) => (kind in RUN_EVENT_SPECS ? FIELDS_MEMBERS.findIndex((m) => m.name === kind) : FIELDS_MEMBERS.length - 1));
