/**
 * What the comparers share while checking one pair of schemas: both models, where
 * findings go, and the enum links found through fields (enums carry no id, so the
 * fields that use them are what ties an old enum to a new one).
 */

import type { Schema } from "../model.ts";
import type { Span } from "../span.ts";
import type { FindingDraft } from "./finding.ts";

/** The state of one `checkCompat` run. */
export interface CompatContext {
  readonly oldSchema: Schema;
  readonly newSchema: Schema;
  /** Records a finding located in the new file (`undefined` when the thing is gone). */
  report(draft: FindingDraft, span: Span | undefined): void;
  /** Records that a field which held values of old enum `oldName` now holds new enum `newName`. */
  linkEnums(oldName: string, newName: string): void;
}
