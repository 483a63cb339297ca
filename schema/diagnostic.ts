/**
 * A diagnostic: one problem found in a schema source. Messages come only from the
 * catalog in `messages.ts`; rendering (text with a caret, or JSON) is in
 * `render-diagnostics.ts`.
 */

import type { Span } from "./span.ts";

export type Severity = "error" | "warning";

/** One problem, located by byte span. */
export interface Diagnostic {
  /** Stable code, e.g. `E0301`; documented in docs/schema-language.md. */
  readonly code: string;
  readonly severity: Severity;
  /** A full sentence with quoted names, e.g. "Field id 3 is already used by 'title'." */
  readonly message: string;
  readonly span: Span;
  /** Short text printed under the caret. */
  readonly label?: string;
  /** Extra lines, e.g. "did you mean 'Status'?" or where the first definition is. */
  readonly notes?: readonly string[];
}
