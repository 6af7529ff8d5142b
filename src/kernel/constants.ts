/** Page geometry, as on x86-64 with 4 KiB base pages. */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** A PMD-sized THP folio: 2 MiB, order 9, 512 pages. */
export const HPAGE_PMD_ORDER = 9;
export const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;
export const HPAGE_PMD_SIZE = HPAGE_PMD_NR * PAGE_SIZE;

/** Folio orders the model allocates: a base page or a PMD THP. */
export type FolioOrder = 0 | 9;

/** Pages in a folio of `order` (the kernel's NR_PAGES / folio_nr_pages). */
export function nrPages(order: number): number {
  return 1 << order;
}

/**
 * The errno values drm_pagemap returns, as positive numbers; functions return them negated,
 * as the kernel does (0 is success).
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ETIME: 62,
  EOPNOTSUPP: 95,
} as const;

export type ErrnoName = keyof typeof Errno;

/** "-EBUSY" for -16, "0" for 0: how logs and reports print a return value. */
export function errnoName(ret: number): string {
  if (ret === 0) return "0";
  for (const [name, value] of Object.entries(Errno)) if (-value === ret) return `-${name}`;
  return String(ret);
}

/**
 * ALIGN_DOWN(x, a) exactly as the kernel's mask arithmetic computes it: x & ~(a - 1). For a
 * power-of-two `a` this is rounding down; for any other `a` it is what the kernel does anyway.
 * BigInt because addresses exceed JavaScript's 32-bit bitwise operators.
 */
export function alignDown(x: number, a: number): number {
  return Number(BigInt(x) & ~(BigInt(a) - 1n));
}

/** ALIGN(x, a): (x + a - 1) & ~(a - 1). */
export function alignUp(x: number, a: number): number {
  return alignDown(x + a - 1, a);
}
