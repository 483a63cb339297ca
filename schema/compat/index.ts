/**
 * Schema compatibility: `checkCompat(old, new)` and the catalog of rules it applies.
 */

export { checkCompat, hasBreaking } from "./check-compat.ts";
export { describeType } from "./compare-fields.ts";
export {
  COMPAT_RULE_IDS,
  COMPAT_RULES,
  type CompatCategory,
  type CompatRule,
  type CompatRuleId,
  isCompatRuleId,
  ruleCategory,
} from "./compat-rules.ts";
export type { Finding } from "./finding.ts";
