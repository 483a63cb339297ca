/** The bounds of reads, and their defaults. */

/** Bounds of reads. */
export interface ReadLimits {
  /** Page size when the request says 0. */
  readonly defaultPageSize: number;
  /** Largest page; larger requests are clamped. */
  readonly maxPageSize: number;
  /** Most ids one `getNodes` takes; more is a `too-many` error. */
  readonly maxGetNodes: number;
  /** Deepest traversal; deeper requests are clamped. */
  readonly maxTraverseDepth: number;
  /** Most nodes one traversal returns; larger requests are clamped. */
  readonly maxTraverseNodes: number;
}

/** The default bounds. */
export const READ_LIMITS: ReadLimits = {
  defaultPageSize: 100,
  maxPageSize: 1_000,
  maxGetNodes: 1_000,
  maxTraverseDepth: 16,
  maxTraverseNodes: 10_000,
};
