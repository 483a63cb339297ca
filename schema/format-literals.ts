/**
 * The canonical text of the smallest pieces `entdb fmt` prints: string literals, option
 * values, type expressions, reserved ids and names.
 */

import type { Literal, OptionItem, ReservedItem, TypeExpr } from "./ast.ts";

/** `name`, `name = value` or `name(arg = value, ...)`. */
export function optionText(o: OptionItem): string {
  if (o.args !== undefined) {
    const args = o.args.map((a) => `${a.name.name} = ${literalText(a.value)}`).join(", ");
    return `${o.name.name}(${args})`;
  }
  return o.value === undefined ? o.name.name : `${o.name.name} = ${literalText(o.value)}`;
}

/** `T`, `ref<T>`, `list<T>`. */
export function typeText(t: TypeExpr): string {
  switch (t.kind) {
    case "NamedType":
      return t.name.name;
    case "RefType":
      return `ref<${t.target.name}>`;
    case "ListType":
      return `list<${typeText(t.element)}>`;
  }
}

/** `"name"`, `n` or `n to m`. */
export function reservedItemText(item: ReservedItem): string {
  if (item.kind === "ReservedName") return quoteString(item.name.value);
  return item.last === undefined
    ? `${item.first.value}`
    : `${item.first.value} to ${item.last.value}`;
}

function literalText(v: Literal): string {
  switch (v.kind) {
    case "StringLiteral":
      return quoteString(v.value);
    case "IntLiteral":
      return v.value.toString();
    case "FloatLiteral":
      return v.raw;
    case "BoolLiteral":
      return v.value ? "true" : "false";
    case "NameLiteral":
      return v.name;
  }
}

/**
 * A string literal in canonical form: `"` and `\` escaped, `\n` `\t` `\r` by name, other
 * control and invisible characters as `\u{HEX}`, everything else as itself.
 */
export function quoteString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (isInvisible(cp)) out += `\\u{${cp.toString(16).toUpperCase()}}`;
    else out += ch;
  }
  return `${out}"`;
}

function isInvisible(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xd800 && cp <= 0xdfff) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0xfeff
  );
}
