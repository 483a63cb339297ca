/**
 * Option lists (`[required, default = 1]`): which names exist where, which take a
 * value, and the common checks (unknown, given twice, value missing or unexpected).
 * What a value means is checked by the step that owns the option.
 */

import type { OptionItem } from "./ast.ts";
import {
  duplicateOption,
  optionNeedsValue,
  optionTakesNoArguments,
  optionTakesNoValue,
  unknownOption,
  unknownOptionArgument,
} from "./messages.ts";
import { closestName } from "./suggest.ts";
import type { ValidationContext } from "./validate-context.ts";

/**
 * One option: a flag, or a name that needs `= value` (`example` shows the form). A flag
 * with `args` may also be written with named arguments in parentheses:
 * `searchable(weight = 3)`.
 */
export interface OptionSpec {
  readonly name: string;
  readonly example?: string;
  readonly args?: readonly string[];
}

/** Options of a node type. */
export const NODE_OPTIONS: readonly OptionSpec[] = [
  { name: "visibility", example: "visibility = tenant" },
  { name: "deprecated" },
];

/** Options of a field or an edge property. */
export const FIELD_OPTIONS: readonly OptionSpec[] = [
  { name: "required" },
  { name: "unique" },
  { name: "index" },
  { name: "searchable", args: ["weight"] },
  { name: "inherit_access" },
  { name: "default", example: "default = value" },
  { name: "deprecated" },
];

/** Options of an edge type. */
export const EDGE_OPTIONS: readonly OptionSpec[] = [
  { name: "unique_per_from" },
  { name: "inverse", example: "inverse = name" },
  { name: "mailbox", example: "mailbox = field" },
  { name: "deprecated" },
];

/** Options of an enum value. */
export const ENUM_VALUE_OPTIONS: readonly OptionSpec[] = [{ name: "deprecated" }];

/**
 * Checks an option list against `specs` and returns the usable options by name.
 * An option with a problem is left out, so later steps do not report it again.
 */
export function readOptions(
  items: readonly OptionItem[],
  specs: readonly OptionSpec[],
  where: string,
  ctx: ValidationContext,
): ReadonlyMap<string, OptionItem> {
  const usable = new Map<string, OptionItem>();
  const seen = new Set<string>();
  for (const item of items) {
    const name = item.name.name;
    const spec = specs.find((s) => s.name === name);
    if (spec === undefined) {
      const names = specs.map((s) => s.name);
      ctx.report(unknownOption(name, where, names, item.name.span, closestName(name, names)));
      continue;
    }
    if (seen.has(name)) {
      ctx.report(duplicateOption(name, item.span));
      continue;
    }
    seen.add(name);
    if (spec.example !== undefined && item.value === undefined) {
      ctx.report(optionNeedsValue(name, spec.example, item.span));
      continue;
    }
    if (spec.example === undefined && item.value !== undefined) {
      ctx.report(optionTakesNoValue(name, item.value.span));
      continue;
    }
    if (item.args !== undefined && !checkArgs(item, spec, ctx)) continue;
    usable.set(name, item);
  }
  return usable;
}

/** Checks the `(name = value, ...)` of an option; false when the option is unusable. */
function checkArgs(item: OptionItem, spec: OptionSpec, ctx: ValidationContext): boolean {
  const name = item.name.name;
  if (spec.args === undefined) {
    ctx.report(optionTakesNoArguments(name, item.span));
    return false;
  }
  const seen = new Set<string>();
  let ok = true;
  for (const arg of item.args ?? []) {
    const argName = arg.name.name;
    const known = spec.args.includes(argName);
    if (!known || seen.has(argName)) {
      const suggestion = known ? undefined : closestName(argName, spec.args);
      ctx.report(unknownOptionArgument(name, argName, spec.args, arg.span, known, suggestion));
      ok = false;
    }
    seen.add(argName);
  }
  return ok;
}
