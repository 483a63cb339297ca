/**
 * Refuses schemas whose names clash once mapped to protobuf. Messages, enums, services
 * and enum values all live in the package scope shared by the generated files, so a node
 * type named `WriteReceipt` or `TaskNode`, or two enum values that upper-case alike, would
 * produce `.proto` files that protoc and buf reject; two types whose file names are equal
 * would overwrite each other's file. The schema compiler cannot know the
 * generated names, so this check lives here and runs before anything is built.
 */

import type { Schema } from "../../schema/index.ts";
import { CodegenError } from "../codegen-error.ts";
import {
  edgeTypeNames,
  enumValueName,
  enumZeroValueName,
  FILTER_OPS,
  nodeTypeNames,
  protoFilePath,
  protoJsonName,
  protoTypeFilePath,
  SHARED_NAMES,
} from "./proto-names.ts";

/** Who a generated package-scope symbol belongs to. */
interface GeneratedSymbol {
  readonly name: string;
  /** The schema declaration it comes from, e.g. `node type 'Task'`; absent for shared ones. */
  readonly owner?: string;
  /** What it is, e.g. `the message 'TaskNode'`. */
  readonly what: string;
}

/**
 * Throws a `CodegenError` with code `name-collision` listing every clash (package-scope
 * names, enum values that protobuf treats as equal, fields with the same JSON name).
 */
export function checkProtoNames(schema: Schema): void {
  const problems: string[] = [];
  const seen = new Map<string, GeneratedSymbol>();
  const add = (symbol: GeneratedSymbol): void => {
    const first = seen.get(symbol.name);
    if (first === undefined) {
      seen.set(symbol.name, symbol);
      return;
    }
    problems.push(describeClash(first, symbol));
  };

  for (const name of Object.values(SHARED_NAMES)) {
    add({ name, what: `the shared definition '${name}'` });
  }
  add({ name: "FILTER_OP_UNSPECIFIED", what: "the shared enum value 'FILTER_OP_UNSPECIFIED'" });
  for (const op of FILTER_OPS) {
    add({ name: `FILTER_OP_${op}`, what: `the shared enum value 'FILTER_OP_${op}'` });
  }

  for (const e of schema.enums) {
    const owner = `enum '${e.name}'`;
    add({ name: e.name, owner, what: `the enum '${e.name}'` });
    const zero = enumZeroValueName(e.name);
    add({ name: zero, owner, what: `its zero value '${zero}'` });
    const pascal = new Map<string, string>();
    for (const v of e.values) {
      const name = enumValueName(e.name, v.name);
      add({ name, owner, what: `the value '${name}' (from '${v.name}')` });
      // protoc also rejects values that only differ in case or underscores once the
      // enum prefix is stripped, because their JSON spellings would be ambiguous.
      const key = pascalKey(v.name);
      const other = pascal.get(key);
      if (other !== undefined && other.toUpperCase() !== v.name.toUpperCase()) {
        problems.push(
          `Values '${other}' and '${v.name}' of enum '${e.name}' differ only in case or underscores, which protobuf treats as the same name. Rename one of them.`,
        );
      } else if (other === undefined) {
        pascal.set(key, v.name);
      }
    }
  }

  for (const n of schema.nodes) {
    const owner = `node type '${n.name}'`;
    for (const [role, name] of Object.entries(nodeTypeNames(n.name))) {
      add({ name, owner, what: `${role === "service" ? "the service" : "the message"} '${name}'` });
    }
    problems.push(...jsonClashes(owner, n.fields));
  }

  for (const e of schema.edges) {
    const owner = `edge type '${e.name}'`;
    for (const [role, name] of Object.entries(edgeTypeNames(e.name))) {
      add({ name, owner, what: `${role === "service" ? "the service" : "the message"} '${name}'` });
    }
    problems.push(...jsonClashes(owner, e.fields));
  }

  problems.push(...fileClashes(schema));

  if (problems.length > 0) {
    const summary =
      problems.length === 1
        ? problems[0]!
        : `${problems.length} names clash in the generated .proto:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
    throw new CodegenError("name-collision", summary, { details: problems });
  }
}

function describeClash(first: GeneratedSymbol, second: GeneratedSymbol): string {
  const rename = "a rename is safe because ids, not names, are identity";
  if (first.owner === undefined && second.owner !== undefined) {
    return `${capitalize(second.owner)} clashes with ${first.what} that the shared schema.proto declares: ${second.what} would be declared twice. Rename ${second.owner} (for example to '${suggestion(second.owner)}'); ${rename}.`;
  }
  if (first.owner !== undefined && second.owner !== undefined) {
    if (first.owner === second.owner) {
      return `${capitalize(first.owner)} generates '${first.name}' twice: ${first.what} and ${second.what}. Rename one of them; ${rename}.`;
    }
    return `The generated name '${first.name}' is used twice: ${first.what} of ${first.owner} and ${second.what} of ${second.owner}. Rename ${first.owner} or ${second.owner}; ${rename}.`;
  }
  // Two shared symbols cannot clash; reaching this is a bug in the shared definitions.
  return `The shared definition '${first.name}' is declared twice.`;
}

/**
 * Types whose `.proto` files would share a path: two type names that snake-case alike
 * (`HTTPCode`, `HttpCode`), or a type named for the shared file (`Schema`).
 */
function fileClashes(schema: Schema): string[] {
  const problems: string[] = [];
  const shared = protoFilePath(schema.package);
  const byPath = new Map<string, string>([[shared, "the shared file"]]);
  const types = [
    ...schema.nodes.map((n) => ({ name: n.name, owner: `node type '${n.name}'` })),
    ...schema.edges.map((e) => ({ name: e.name, owner: `edge type '${e.name}'` })),
  ];
  for (const { name, owner } of types) {
    const path = protoTypeFilePath(schema.package, name);
    const other = byPath.get(path);
    if (other === undefined) {
      byPath.set(path, owner);
    } else {
      problems.push(
        `${capitalize(owner)} would be generated into '${path}', which is already ${other === "the shared file" ? other : `the file of ${other}`}. Rename ${owner}; a rename is safe because ids, not names, are identity.`,
      );
    }
  }
  return problems;
}

/** A rename hint for `node type 'WriteReceipt'` → `WriteReceiptItem`. */
function suggestion(owner: string): string {
  const name = /'([^']*)'/.exec(owner)?.[1] ?? "";
  return `${name}Item`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** protoc's comparison key for enum values: `IN__PROGRESS` and `in_progress` are equal. */
function pascalKey(value: string): string {
  return value
    .split("_")
    .filter((part) => part.length > 0)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
    .join("");
}

function jsonClashes(
  owner: string,
  fields: readonly { readonly name: string; readonly id: number }[],
): string[] {
  const problems: string[] = [];
  const byJson = new Map<string, string>();
  for (const f of fields) {
    const json = protoJsonName(f.name);
    const other = byJson.get(json);
    if (other === undefined) {
      byJson.set(json, f.name);
    } else {
      problems.push(
        `Fields '${other}' and '${f.name}' of ${owner} have the same JSON name '${json}' in protobuf. Rename one of them; a rename is safe because ids, not names, are identity.`,
      );
    }
  }
  return problems;
}
