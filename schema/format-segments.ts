/**
 * Splits declarations and members into the pieces `entdb fmt` prints on one line. A
 * comment inside an item is printed after the piece it follows in the source, so each
 * piece carries where it ends.
 */

import type { CompositeDecl, EnumValueDecl, FieldDecl, OptionItem, ReservedDecl } from "./ast.ts";
import { optionText, reservedItemText, typeText } from "./format-literals.ts";

/** A piece of a declaration's text; comments inside the declaration are printed after the piece they follow. */
export interface Segment {
  /** Printed before `text` unless the piece starts a continuation line. */
  readonly sep: string;
  readonly text: string;
  /** Source byte offset where the piece ends, or undefined for punctuation with no span. */
  readonly end?: number;
}

/** The pieces of a member, its `;` included. */
export function memberSegments(
  m: FieldDecl | CompositeDecl | ReservedDecl | EnumValueDecl,
): Segment[] {
  switch (m.kind) {
    case "FieldDecl":
      return fieldSegments(m);
    case "CompositeDecl":
      return compositeSegments(m);
    case "ReservedDecl":
      return reservedSegments(m);
    case "EnumValueDecl":
      return [
        { sep: "", text: m.name.name, end: m.name.span.end },
        { sep: " ", text: `= ${m.number.value}`, end: m.number.span.end },
        ...optionSegments(m.options),
        { sep: "", text: ";" },
      ];
  }
}

/** `reserved a, b;` as one piece per item. */
export function reservedSegments(decl: ReservedDecl): Segment[] {
  const segs: Segment[] = [{ sep: "", text: "reserved" }];
  decl.items.forEach((item, i) => {
    const comma = i < decl.items.length - 1 ? "," : "";
    segs.push({ sep: " ", text: reservedItemText(item) + comma, end: item.span.end });
  });
  segs.push({ sep: "", text: ";" });
  return segs;
}

function fieldSegments(f: FieldDecl): Segment[] {
  return [
    { sep: "", text: `${f.name.name}:`, end: f.name.span.end },
    { sep: " ", text: typeText(f.type), end: f.type.span.end },
    { sep: " ", text: `= ${f.id.value}`, end: f.id.span.end },
    ...optionSegments(f.options),
    { sep: "", text: ";" },
  ];
}

function compositeSegments(c: CompositeDecl): Segment[] {
  const segs: Segment[] = [{ sep: "", text: c.constraint }];
  c.fields.forEach((f, i) => {
    const open = i === 0 ? "(" : "";
    const close = i === c.fields.length - 1 ? ")" : ",";
    segs.push({ sep: " ", text: open + f.name + close, end: f.span.end });
  });
  if (c.fields.length === 0) segs.push({ sep: " ", text: "()" });
  segs.push({ sep: "", text: ";" });
  return segs;
}

/** `[a, b = c]` as one segment per option, so a comment can follow the option it follows in the source. */
export function optionSegments(options: readonly OptionItem[]): Segment[] {
  return options.map((o, i) => {
    const open = i === 0 ? "[" : "";
    const close = i === options.length - 1 ? "]" : ",";
    return { sep: " ", text: open + optionText(o) + close, end: o.span.end };
  });
}
