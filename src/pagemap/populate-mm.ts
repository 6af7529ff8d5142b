import type { ProcessBody } from "../engine/index.ts";
import { Errno } from "../kernel/constants.ts";
import { mmgetNotZero, mmput } from "../kernel/mm.ts";
import type { PagemapContext } from "./context.ts";
import { driverExit } from "./exits.ts";

/**
 * drm_pagemap_populate_mm: with a reference on the mm and its mmap lock held for read, ask the
 * driver to allocate device memory and migrate [start, end) into it. -EFAULT once the process
 * has exited; the driver's -ENODEV once the device is unbound.
 */
export function* populateMm(p: PagemapContext, dpagemap: number, start: number, end: number, mm: number, timesliceMs: number): ProcessBody<number> {
  p.commit({ kind: "populate_mm.begin", mm, start, end });
  if (!mmgetNotZero(p.k, mm)) return end_(p, -Errno.EFAULT, "mmget_failed");
  const lock = p.k.mmapLock(mm);
  yield lock.downRead();
  const err = yield* p.dpagemapOps(dpagemap).populateMm(dpagemap, start, end, mm, timesliceMs);
  lock.upRead();
  yield* mmput(p.k, mm);
  return end_(p, err, driverExit(err));
}

function end_(p: PagemapContext, ret: number, exit: string): number {
  p.commit({ kind: "populate_mm.end", ret, exit });
  return ret;
}
