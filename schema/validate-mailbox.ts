/**
 * The `mailbox = field` edge option: the field it names must be a `string` field of the
 * edge's `to` node type, since it holds the recipient's principal (docs/mailbox.md).
 */

import type { EdgeDecl, NodeDecl } from "./ast.ts";
import { invalidOptionValue, mailboxFieldNotString, unknownMailboxField } from "./messages.ts";
import type { EdgeType, NodeType } from "./model.ts";
import { closestName } from "./suggest.ts";
import { typeText, type ValidationContext } from "./validate-context.ts";

/** Returns `edges` with `mailboxFieldId` set where the option resolves; reports the rest. */
export function resolveMailboxes(
  edgeDecls: readonly EdgeDecl[],
  edges: readonly (EdgeType | undefined)[],
  nodeDecls: readonly NodeDecl[],
  nodes: readonly NodeType[],
  ctx: ValidationContext,
): (EdgeType | undefined)[] {
  return edgeDecls.map((decl, i) => {
    const edge = edges[i];
    const value = decl.options.find((o) => o.name.name === "mailbox")?.value;
    if (edge === undefined || value === undefined) return edge;
    if (value.kind !== "NameLiteral") {
      const found = value.kind === "StringLiteral" ? "a string" : "a literal";
      ctx.report(invalidOptionValue("mailbox", "a field name", found, value.span));
      return edge;
    }
    const target = nodes.find((n) => n.id === edge.toId);
    const targetDecl = nodeDecls.find((n) => Number(n.id.value) === edge.toId);
    if (target === undefined || targetDecl === undefined) return edge;
    const field = target.fields.find((f) => f.name === value.name);
    if (field === undefined) {
      const names = target.fields.map((f) => f.name);
      ctx.report(
        unknownMailboxField(value.name, target.name, value.span, closestName(value.name, names)),
      );
      return edge;
    }
    if (field.type.kind !== "string") {
      const fieldDecl = targetDecl.members.find(
        (m) => m.kind === "FieldDecl" && m.name.name === value.name,
      );
      const shown = fieldDecl?.kind === "FieldDecl" ? typeText(fieldDecl.type) : field.type.kind;
      ctx.report(mailboxFieldNotString(value.name, shown, value.span));
      return edge;
    }
    return { ...edge, mailboxFieldId: field.id };
  });
}
