/**
 * The one catalog of schema diagnostics. Every diagnostic the lexer, parser and
 * validator report is built here by a named constructor, so wording, codes and
 * severities stay consistent and the code table in `docs/schema-language.md` can be
 * checked against {@link DIAGNOSTIC_CATALOG}.
 *
 * Conventions: messages are full sentences with quoted names; the label is a short
 * phrase printed under the caret; notes start with `note: ` (a fact) or `help: ` (what
 * to do), and the renderer prints them as `= note: …` / `= help: …`.
 *
 * Codes: E01xx lexical, E02xx syntax, E03xx package and names, E04xx field types,
 * E05xx ids and reservations, E06xx options and defaults, E07xx composite
 * constraints, E08xx enums, E09xx edges. A code never changes meaning.
 */

import type { Diagnostic, Severity } from "./diagnostic.ts";
import { INT64_MAX, INT64_MIN, MAX_ENUM_NUMBER, MAX_ID, PROTO_RESERVED_RANGE } from "./model.ts";
import type { Span } from "./span.ts";

/** One catalog entry: its stable code, its severity and a one-line meaning for the docs. */
export interface CatalogEntry {
  readonly code: string;
  readonly severity: Severity;
  readonly summary: string;
}

/** Every diagnostic the schema compiler can report, keyed by constructor name. */
export const DIAGNOSTIC_CATALOG = {
  unexpectedCharacter: {
    code: "E0101",
    severity: "error",
    summary: "A character that cannot start any token.",
  },
  unterminatedString: {
    code: "E0102",
    severity: "error",
    summary: "A string literal without its closing quote on the same line.",
  },
  invalidEscape: {
    code: "E0103",
    severity: "error",
    summary: "An unknown or malformed escape sequence in a string.",
  },
  unterminatedComment: {
    code: "E0104",
    severity: "error",
    summary: "A `/*` comment that is never closed.",
  },
  invalidNumber: {
    code: "E0105",
    severity: "error",
    summary: "A malformed number, such as `12abc`.",
  },
  nonAsciiName: {
    code: "E0106",
    severity: "error",
    summary: "A name with characters other than ASCII letters, digits and `_`.",
  },

  unexpectedToken: {
    code: "E0201",
    severity: "error",
    summary: "The parser expected something else at this point.",
  },
  missingSemicolon: {
    code: "E0202",
    severity: "error",
    summary: "A declaration or member does not end with `;`.",
  },
  unclosedBody: {
    code: "E0203",
    severity: "error",
    summary: "A `{` body without its closing `}`.",
  },
  expectedDeclaration: {
    code: "E0204",
    severity: "error",
    summary:
      "Something other than `node`, `edge`, `enum`, `reserved` or `package` at the top level.",
  },
  expectedMember: {
    code: "E0205",
    severity: "error",
    summary:
      "Something other than a field, composite constraint, enum value or `reserved` inside a body.",
  },
  packageNotFirst: {
    code: "E0206",
    severity: "error",
    summary: "The `package` declaration comes after other declarations.",
  },
  mixedReserved: {
    code: "E0207",
    severity: "error",
    summary: "One `reserved` statement mixes ids and names.",
  },

  missingPackage: {
    code: "E0301",
    severity: "error",
    summary: "The file has no `package` declaration.",
  },
  duplicatePackage: {
    code: "E0302",
    severity: "error",
    summary: "The file declares `package` more than once.",
  },
  invalidPackageName: {
    code: "E0303",
    severity: "error",
    summary: "A package name part is not lowercase.",
  },
  typeNameNotUppercase: {
    code: "E0304",
    severity: "error",
    summary: "A node, edge or enum name does not start with an uppercase letter.",
  },
  fieldNameNotLowercase: {
    code: "E0305",
    severity: "error",
    summary: "A field name does not start with a lowercase letter.",
  },
  fieldNamedId: {
    code: "E0306",
    severity: "error",
    summary: "A node field is named `id`, which every node already has.",
  },
  duplicateTypeName: {
    code: "E0307",
    severity: "error",
    summary: "Two nodes, edges or enums share a name.",
  },
  duplicateFieldName: {
    code: "E0308",
    severity: "error",
    summary: "Two fields of one type share a name.",
  },
  duplicateEnumValueName: {
    code: "E0309",
    severity: "error",
    summary: "Two values of one enum share a name.",
  },

  refTargetNotNode: {
    code: "E0401",
    severity: "error",
    summary: "`ref<T>` names an enum, edge type or scalar kind instead of a node type.",
  },
  unknownType: {
    code: "E0402",
    severity: "error",
    summary: "A field type names no scalar kind, enum or node type.",
  },
  listOfList: { code: "E0403", severity: "error", summary: "A list holds another list." },
  nodeTypeAsFieldType: {
    code: "E0404",
    severity: "error",
    summary: "A node type is used as a field type without `ref<…>`.",
  },
  edgeTypeAsFieldType: {
    code: "E0405",
    severity: "error",
    summary: "An edge type is used as a field type.",
  },

  typeIdOutOfRange: {
    code: "E0501",
    severity: "error",
    summary: "A node or edge type id is outside 1 to 536870911.",
  },
  fieldIdOutOfRange: {
    code: "E0502",
    severity: "error",
    summary: "A field id is outside 1 to 536870911.",
  },
  fieldIdInProtoRange: {
    code: "E0503",
    severity: "error",
    summary: "A field id is in 19000 to 19999, which protobuf keeps for itself.",
  },
  enumNumberOutOfRange: {
    code: "E0504",
    severity: "error",
    summary: "An enum value number is outside 1 to 2147483647.",
  },
  duplicateTypeId: {
    code: "E0505",
    severity: "error",
    summary: "Two node or edge types share an id.",
  },
  duplicateFieldId: {
    code: "E0506",
    severity: "error",
    summary: "Two fields of one type share an id.",
  },
  duplicateEnumNumber: {
    code: "E0507",
    severity: "error",
    summary: "Two values of one enum share a number.",
  },
  reservedIdUsed: {
    code: "E0508",
    severity: "error",
    summary: "A type id, field id or enum number is reserved.",
  },
  reservedNameUsed: {
    code: "E0509",
    severity: "error",
    summary: "A type, field or enum value name is reserved.",
  },
  invalidReservedRange: {
    code: "E0510",
    severity: "error",
    summary: "A reserved range whose first id is larger than its last.",
  },
  overlappingReservedRanges: {
    code: "E0511",
    severity: "error",
    summary: "Two reserved ranges overlap.",
  },
  reservedIdOutOfRange: {
    code: "E0512",
    severity: "error",
    summary: "A reserved id is outside the id range of where it appears.",
  },
  duplicateReservedName: {
    code: "E0513",
    severity: "warning",
    summary: "A name is reserved twice.",
  },

  unknownOption: {
    code: "E0601",
    severity: "error",
    summary: "An option name that does not exist where it is used.",
  },
  duplicateOption: {
    code: "E0602",
    severity: "error",
    summary: "An option given twice in one list.",
  },
  optionNeedsValue: {
    code: "E0603",
    severity: "error",
    summary: "An option that needs `= value` is given without one.",
  },
  optionTakesNoValue: {
    code: "E0604",
    severity: "error",
    summary: "A flag option is given a value.",
  },
  invalidOptionValue: {
    code: "E0605",
    severity: "error",
    summary: "An option value of the wrong form.",
  },
  unknownVisibility: {
    code: "E0606",
    severity: "error",
    summary: "A `visibility` other than `private`, `tenant` or `public`.",
  },
  uniqueNotAllowed: {
    code: "E0607",
    severity: "error",
    summary: "`unique` on a field kind that cannot be unique.",
  },
  indexNotAllowed: {
    code: "E0608",
    severity: "error",
    summary: "`index` on a field kind that cannot be indexed.",
  },
  searchableNotString: {
    code: "E0609",
    severity: "error",
    summary: "`searchable` on a field that is not a `string`.",
  },
  defaultNotAllowed: {
    code: "E0610",
    severity: "error",
    summary: "`default` on a field kind that cannot have one.",
  },
  defaultMismatch: {
    code: "E0611",
    severity: "error",
    summary: "A default value that does not match the field's kind.",
  },
  defaultOutOfRange: {
    code: "E0612",
    severity: "error",
    summary: "An `int` default outside 64 bits, or a `float` default that is not finite.",
  },
  invalidTimestampDefault: {
    code: "E0613",
    severity: "error",
    summary: "A `timestamp` default that is not an RFC 3339 timestamp.",
  },
  unknownEnumDefault: {
    code: "E0614",
    severity: "error",
    summary: "An enum default that names no value of the enum.",
  },
  optionNotAllowedOnEdge: {
    code: "E0615",
    severity: "error",
    summary: "`unique`, `searchable` or `inherit_access` on an edge property.",
  },
  deprecatedRequired: {
    code: "E0616",
    severity: "warning",
    summary: "A field is both `required` and `deprecated`.",
  },
  redundantIndex: {
    code: "E0617",
    severity: "warning",
    summary: "`index` on a field that is already `unique` (and so indexed).",
  },
  inheritAccessNotRef: {
    code: "E0618",
    severity: "error",
    summary: "`inherit_access` on a field that is not a single `ref`.",
  },
  uniqueWithDefault: {
    code: "E0619",
    severity: "warning",
    summary: "A `unique` field with a `default`: every create that leaves it out collides.",
  },
  optionTakesNoArguments: {
    code: "E0620",
    severity: "error",
    summary: "Parentheses after an option that takes no arguments.",
  },
  unknownOptionArgument: {
    code: "E0621",
    severity: "error",
    summary: "An argument an option does not take, or one given twice.",
  },
  invalidSearchWeight: {
    code: "E0622",
    severity: "error",
    summary: "A `searchable(weight = ...)` that is not a number from 0.01 to 1000.",
  },

  compositeUnknownField: {
    code: "E0701",
    severity: "error",
    summary: "A composite constraint names a field the type does not have.",
  },
  compositeTooFewFields: {
    code: "E0702",
    severity: "error",
    summary: "A composite constraint with fewer than two fields.",
  },
  compositeRepeatedField: {
    code: "E0703",
    severity: "error",
    summary: "A composite constraint names the same field twice.",
  },
  compositeFieldKind: {
    code: "E0704",
    severity: "error",
    summary: "A composite constraint includes a field whose kind cannot be unique or indexed.",
  },
  compositeOnEdge: {
    code: "E0705",
    severity: "error",
    summary: "A composite constraint inside an edge type.",
  },
  duplicateComposite: {
    code: "E0706",
    severity: "warning",
    summary: "A composite constraint repeats an earlier one.",
  },

  emptyEnum: { code: "E0801", severity: "error", summary: "An enum without values." },

  unknownEdgeEndpoint: {
    code: "E0901",
    severity: "error",
    summary: "An edge's `from` or `to` names no declared type.",
  },
  edgeEndpointNotNode: {
    code: "E0902",
    severity: "error",
    summary: "An edge's `from` or `to` is an enum or edge type.",
  },
  duplicateInverseName: {
    code: "E0903",
    severity: "error",
    summary: "Two edges to the same node type declare the same `inverse` name.",
  },
  invalidInverseName: {
    code: "E0904",
    severity: "error",
    summary: "An `inverse` name that does not start with a lowercase letter.",
  },
  unknownMailboxField: {
    code: "E0905",
    severity: "error",
    summary: "`mailbox = field` names no field of the edge's `to` node type.",
  },
  mailboxFieldNotString: {
    code: "E0906",
    severity: "error",
    summary: "`mailbox = field` names a field that is not a single `string`.",
  },
} as const satisfies Record<string, CatalogEntry>;

/** The name of a catalog entry (and of its constructor). */
export type DiagnosticName = keyof typeof DIAGNOSTIC_CATALOG;

/** Extra parts of a diagnostic besides its message and span. */
interface Extra {
  readonly label?: string;
  readonly notes?: readonly (string | undefined)[];
}

function make(name: DiagnosticName, message: string, span: Span, extra: Extra = {}): Diagnostic {
  const entry: CatalogEntry = DIAGNOSTIC_CATALOG[name];
  const notes = (extra.notes ?? []).filter((n): n is string => n !== undefined);
  return {
    code: entry.code,
    severity: entry.severity,
    message,
    span,
    ...(extra.label !== undefined ? { label: extra.label } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
}

function note(text: string): string {
  return `note: ${text}`;
}

function help(text: string): string {
  return `help: ${text}`;
}

function didYouMean(suggestion: string | undefined): string | undefined {
  return suggestion === undefined ? undefined : help(`did you mean '${suggestion}'?`);
}

/** Where something else is, for "first declared …" notes. */
function onLine(line: number): string {
  return `line ${line}`;
}

/** Shows characters that are invisible or confusing as `\u{…}`. */
function showChars(text: string): string {
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    out +=
      cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp === 0xad || cp === 0xfeff || /\p{Z}/u.test(ch)
        ? `\\u{${cp.toString(16).toUpperCase()}}`
        : ch;
  }
  return out;
}

// ---------------------------------------------------------------- lexical (E01xx)

/** A run of characters that cannot start any token. */
export function unexpectedCharacter(text: string, span: Span): Diagnostic {
  const plural = [...text].length > 1 ? "characters" : "character";
  return make("unexpectedCharacter", `Unexpected ${plural} '${showChars(text)}'.`, span, {
    label: "not part of the language",
  });
}

/** A `#` where a `//` comment was meant; the rest of the line is skipped. */
export function hashComment(span: Span): Diagnostic {
  return make("unexpectedCharacter", "Unexpected character '#'.", span, {
    label: "not part of the language",
    notes: [help("comments start with '//'")],
  });
}

/** A string that reaches the end of its line or of the file without a closing quote. */
export function unterminatedString(span: Span): Diagnostic {
  return make("unterminatedString", "This string is never closed.", span, {
    label: "missing a closing '\"' before the end of the line",
    notes: [note("strings cannot span lines; write a line break as \\n")],
  });
}

/** An unknown escape like `\q`, or a `\u{…}` that is not a Unicode scalar value. */
export function invalidEscape(sequence: string, reason: string, span: Span): Diagnostic {
  return make("invalidEscape", `Invalid escape '${sequence}' in a string.`, span, {
    label: reason,
    notes: [note('the escapes are \\", \\\\, \\n, \\t, \\r and \\u{1F600}')],
  });
}

/** A `/*` without `*\/`. */
export function unterminatedComment(span: Span): Diagnostic {
  return make("unterminatedComment", "This block comment is never closed.", span, {
    label: "no '*/' after this '/*'",
  });
}

/** A number immediately followed by letters or another dot, like `12abc` or `1.2.3`. */
export function invalidNumber(text: string, span: Span): Diagnostic {
  return make("invalidNumber", `Invalid number '${text}'.`, span, {
    label: "not an integer or a float",
  });
}

/** A name with non-ASCII letters. */
export function nonAsciiName(name: string, span: Span): Diagnostic {
  return make(
    "nonAsciiName",
    `The name '${name}' has characters other than ASCII letters, digits and '_'.`,
    span,
    { label: "names are ASCII only" },
  );
}

// ---------------------------------------------------------------- syntax (E02xx)

/** The parser expected `expected` (e.g. "'=' after the node name") but found `found`. */
export function unexpectedToken(
  expected: string,
  found: string,
  span: Span,
  label?: string,
): Diagnostic {
  return make("unexpectedToken", `Expected ${expected}, found ${found}.`, span, {
    label: label ?? "unexpected here",
  });
}

/** A missing `;` at the end of `what` (e.g. "the field 'email'"); the span is where it belongs. */
export function missingSemicolon(what: string, span: Span): Diagnostic {
  return make("missingSemicolon", `Expected ';' after ${what}.`, span, { label: "add ';' here" });
}

/** A `{` of `what` (e.g. "node type 'User'") never closed; `reached` says where parsing stopped. */
export function unclosedBody(what: string, openBrace: Span, reached: string): Diagnostic {
  return make("unclosedBody", `The body of ${what} is not closed.`, openBrace, {
    label: "this '{' has no matching '}'",
    notes: [note(`reached ${reached} before a closing '}'`)],
  });
}

/** Something at the top level that starts no declaration. */
export function expectedDeclaration(found: string, span: Span, suggestion?: string): Diagnostic {
  return make(
    "expectedDeclaration",
    `Expected a declaration ('node', 'edge', 'enum' or 'reserved'), found ${found}.`,
    span,
    { label: "not a declaration", notes: [didYouMean(suggestion)] },
  );
}

/** Something inside a body that starts no member. */
export function expectedMember(
  owner: "node" | "edge" | "enum",
  ownerName: string,
  found: string,
  span: Span,
): Diagnostic {
  const expected =
    owner === "enum"
      ? "an enum value or 'reserved'"
      : "a field, 'unique (…)', 'index (…)' or 'reserved'";
  const where = owner === "enum" ? `enum '${ownerName}'` : `${owner} type '${ownerName}'`;
  return make("expectedMember", `Expected ${expected} in ${where}, found ${found}.`, span, {
    label: "not a member",
    notes: owner === "enum" ? [] : [help("a field is written 'name: type = id;'")],
  });
}

/** `package` after other declarations. */
export function packageNotFirst(span: Span): Diagnostic {
  return make(
    "packageNotFirst",
    "The package declaration must come before all other declarations.",
    span,
    {
      label: "move this to the top of the file",
    },
  );
}

/** `reserved 1, "a";` */
export function mixedReserved(span: Span): Diagnostic {
  return make(
    "mixedReserved",
    "A 'reserved' statement lists either ids or names, not both.",
    span,
    {
      label: "this item is of the other kind",
      notes: [help("split it into two statements, e.g. 'reserved 4;' and 'reserved \"old\";'")],
    },
  );
}

// ---------------------------------------------------------------- package and names (E03xx)

/** A file without `package`; the span is where it should go. */
export function missingPackage(span: Span): Diagnostic {
  return make("missingPackage", "The schema has no package declaration.", span, {
    label: "expected 'package' before this",
    notes: [help("start the file with a package, e.g. 'package acme.tracker;'")],
  });
}

/** A second `package`. */
export function duplicatePackage(span: Span, firstLine: number): Diagnostic {
  return make("duplicatePackage", "The package is declared more than once.", span, {
    label: "second package declaration",
    notes: [note(`the first is on ${onLine(firstLine)}`)],
  });
}

/** A package part that is not `[a-z][a-z0-9_]*`. */
export function invalidPackageName(part: string, span: Span, suggestion?: string): Diagnostic {
  return make("invalidPackageName", `Package name part '${part}' must be lowercase.`, span, {
    label: "letters a-z, digits and '_', starting with a letter",
    notes: [didYouMean(suggestion)],
  });
}

/** A type name that does not start with `A`–`Z`. */
export function typeNameNotUppercase(name: string, span: Span, suggestion?: string): Diagnostic {
  return make(
    "typeNameNotUppercase",
    `Type name '${name}' must start with an uppercase letter.`,
    span,
    {
      label: "node, edge and enum names start with A-Z",
      notes: [didYouMean(suggestion)],
    },
  );
}

/** A field name that does not start with `a`–`z`. */
export function fieldNameNotLowercase(name: string, span: Span, suggestion?: string): Diagnostic {
  return make(
    "fieldNameNotLowercase",
    `Field name '${name}' must start with a lowercase letter.`,
    span,
    {
      label: "field names start with a-z",
      notes: [didYouMean(suggestion)],
    },
  );
}

/** A node field named `id`. */
export function fieldNamedId(span: Span): Diagnostic {
  return make("fieldNamedId", "A node type cannot have a field named 'id'.", span, {
    label: "'id' is taken",
    notes: [note("every node already has an 'id', minted by the server")],
  });
}

/** Two types (nodes, edges, enums) with one name. */
export function duplicateTypeName(
  name: string,
  firstKind: string,
  span: Span,
  firstLine: number,
): Diagnostic {
  return make("duplicateTypeName", `There is already a ${firstKind} named '${name}'.`, span, {
    label: "second use of the name",
    notes: [
      note(`the first '${name}' is declared on ${onLine(firstLine)}`),
      note("nodes, edges and enums share one namespace"),
    ],
  });
}

/** Two fields of one type with one name. */
export function duplicateFieldName(
  name: string,
  owner: string,
  span: Span,
  firstLine: number,
): Diagnostic {
  return make("duplicateFieldName", `There is already a field named '${name}' in ${owner}.`, span, {
    label: "second field with this name",
    notes: [note(`the first '${name}' is declared on ${onLine(firstLine)}`)],
  });
}

/** Two values of one enum with one name. */
export function duplicateEnumValueName(
  name: string,
  enumName: string,
  span: Span,
  firstLine: number,
): Diagnostic {
  return make(
    "duplicateEnumValueName",
    `There is already a value named '${name}' in enum '${enumName}'.`,
    span,
    {
      label: "second value with this name",
      notes: [note(`the first '${name}' is declared on ${onLine(firstLine)}`)],
    },
  );
}

// ---------------------------------------------------------------- field types (E04xx)

/** `ref<X>` where X is not a node type; `actual` describes X, e.g. "an enum". */
export function refTargetNotNode(name: string, actual: string, span: Span): Diagnostic {
  return make("refTargetNotNode", `'${name}' is ${actual}, not a node type.`, span, {
    label: "ref<…> needs a node type",
  });
}

/** A type name that resolves to nothing. */
export function unknownType(
  name: string,
  span: Span,
  label: string,
  suggestion?: string,
): Diagnostic {
  return make("unknownType", `Unknown type '${name}'.`, span, {
    label,
    notes: [didYouMean(suggestion)],
  });
}

/** `list<list<…>>` */
export function listOfList(span: Span): Diagnostic {
  return make("listOfList", "A list cannot hold another list.", span, {
    label: "nested list",
    notes: [note("lists hold scalars, enums or refs")],
  });
}

/** A node type used directly as a field type. */
export function nodeTypeAsFieldType(name: string, span: Span): Diagnostic {
  return make(
    "nodeTypeAsFieldType",
    `Type '${name}' is a node type and cannot be a field's type.`,
    span,
    {
      label: "a node type",
      notes: [help(`use 'ref<${name}>' to refer to a node of that type`)],
    },
  );
}

/** An edge type used as a field type. */
export function edgeTypeAsFieldType(name: string, span: Span): Diagnostic {
  return make(
    "edgeTypeAsFieldType",
    `Type '${name}' is an edge type and cannot be a field's type.`,
    span,
    {
      label: "an edge type",
      notes: [note("edges link nodes; to point at a node, use 'ref<Node>'")],
    },
  );
}

// ---------------------------------------------------------------- ids and reservations (E05xx)

/** A node or edge type id outside 1..MAX_ID. */
export function typeIdOutOfRange(id: bigint, span: Span): Diagnostic {
  return make("typeIdOutOfRange", `Type id ${showInt(id)} is out of range.`, span, {
    label: `type ids are 1 to ${MAX_ID}`,
  });
}

/** A field id outside 1..MAX_ID. */
export function fieldIdOutOfRange(id: bigint, span: Span): Diagnostic {
  return make("fieldIdOutOfRange", `Field id ${showInt(id)} is out of range.`, span, {
    label: `field ids are 1 to ${MAX_ID}`,
  });
}

/** A field id in protobuf's own range. */
export function fieldIdInProtoRange(id: bigint, span: Span): Diagnostic {
  const { first, last } = PROTO_RESERVED_RANGE;
  return make(
    "fieldIdInProtoRange",
    `Field id ${id} is in the range ${first} to ${last}, which protobuf keeps for itself.`,
    span,
    { label: "pick another id", notes: [note("field ids are protobuf field numbers")] },
  );
}

/** An enum number outside 1..MAX_ENUM_NUMBER. */
export function enumNumberOutOfRange(value: bigint, span: Span): Diagnostic {
  return make("enumNumberOutOfRange", `Enum number ${showInt(value)} is out of range.`, span, {
    label: `enum numbers are 1 to ${MAX_ENUM_NUMBER}`,
    notes: [value === 0n ? note("0 is kept for 'unset' in protobuf") : undefined],
  });
}

/** A type id used twice. */
export function duplicateTypeId(
  id: bigint,
  firstKind: string,
  firstName: string,
  span: Span,
  firstLine: number,
): Diagnostic {
  return make(
    "duplicateTypeId",
    `Type id ${id} is already used by ${firstKind} '${firstName}'.`,
    span,
    {
      label: "duplicate type id",
      notes: [
        note(`'${firstName}' is declared on ${onLine(firstLine)}`),
        note("node and edge types share one id space"),
      ],
    },
  );
}

/** A field id used twice within `owner` (e.g. "node type 'Task'"). */
export function duplicateFieldId(
  id: bigint,
  firstName: string,
  owner: string,
  span: Span,
  firstLine: number,
): Diagnostic {
  return make(
    "duplicateFieldId",
    `Field id ${id} is already used by '${firstName}' in ${owner}.`,
    span,
    {
      label: "duplicate field id",
      notes: [note(`'${firstName}' is declared on ${onLine(firstLine)}`)],
    },
  );
}

/** An enum number used twice. */
export function duplicateEnumNumber(
  value: bigint,
  firstName: string,
  enumName: string,
  span: Span,
  firstLine: number,
): Diagnostic {
  return make(
    "duplicateEnumNumber",
    `Number ${value} is already used by '${firstName}' in enum '${enumName}'.`,
    span,
    {
      label: "duplicate enum number",
      notes: [note(`'${firstName}' is declared on ${onLine(firstLine)}`)],
    },
  );
}

/**
 * An id reserved where it is used; `what` is "type id", "field id" or "enum number",
 * `where` is e.g. "in node type 'Task'" (empty for type ids).
 */
export function reservedIdUsed(
  what: string,
  id: bigint,
  where: string,
  span: Span,
  reservedLine: number,
): Diagnostic {
  return make(
    "reservedIdUsed",
    `The ${what} ${id} is reserved${where === "" ? "" : ` ${where}`}.`,
    span,
    {
      label: "reserved id",
      notes: [
        note(`reserved on ${onLine(reservedLine)}`),
        help("reserved ids belonged to something deleted; pick a new id"),
      ],
    },
  );
}

/** A name reserved where it is used; `what` is "type name", "field name" or "enum value name". */
export function reservedNameUsed(
  what: string,
  name: string,
  where: string,
  span: Span,
  reservedLine: number,
): Diagnostic {
  return make(
    "reservedNameUsed",
    `The ${what} '${name}' is reserved${where === "" ? "" : ` ${where}`}.`,
    span,
    {
      label: "reserved name",
      notes: [note(`reserved on ${onLine(reservedLine)}`)],
    },
  );
}

/** `reserved 9 to 3;` */
export function invalidReservedRange(first: bigint, last: bigint, span: Span): Diagnostic {
  return make(
    "invalidReservedRange",
    `Reserved range ${showInt(first)} to ${showInt(last)} is empty.`,
    span,
    {
      label: "the first id is larger than the last",
      notes: [help(`write '${showInt(last)} to ${showInt(first)}'`)],
    },
  );
}

/** Two reserved ranges with ids in common; the note points at the other one when it is on another line. */
export function overlappingReservedRanges(
  range: { readonly first: number; readonly last: number },
  other: { readonly first: number; readonly last: number },
  span: Span,
  line: number,
  otherLine: number,
): Diagnostic {
  const show = (r: { readonly first: number; readonly last: number }): string =>
    r.first === r.last ? `${r.first}` : `${r.first} to ${r.last}`;
  const same = range.first === other.first && range.last === other.last;
  const message = same
    ? `${range.first === range.last ? "Id" : "Range"} ${show(range)} is reserved twice.`
    : `Reserved ${show(range)} overlaps reserved ${show(other)}.`;
  return make("overlappingReservedRanges", message, span, {
    label: same ? "already reserved" : "overlapping range",
    notes: [
      line === otherLine ? undefined : note(`${show(other)} is reserved on ${onLine(otherLine)}`),
    ],
  });
}

/** A reserved id outside the id range of its level. */
export function reservedIdOutOfRange(
  value: bigint,
  what: string,
  max: number,
  span: Span,
): Diagnostic {
  return make("reservedIdOutOfRange", `Reserved id ${showInt(value)} is out of range.`, span, {
    label: `${what}s are 1 to ${max}`,
  });
}

/** The same name reserved twice (harmless, but probably a copy-paste slip). */
export function duplicateReservedName(
  name: string,
  span: Span,
  line: number,
  firstLine: number,
): Diagnostic {
  return make("duplicateReservedName", `The name '${name}' is reserved twice.`, span, {
    label: "already reserved",
    notes: [line === firstLine ? undefined : note(`first reserved on ${onLine(firstLine)}`)],
  });
}

// ---------------------------------------------------------------- options (E06xx)

/** An option that does not exist for `where` ("field", "node type", …). */
export function unknownOption(
  name: string,
  where: string,
  known: readonly string[],
  span: Span,
  suggestion?: string,
): Diagnostic {
  return make("unknownOption", `Unknown ${where} option '${name}'.`, span, {
    label: "unknown option",
    notes: [
      suggestion === undefined
        ? note(`${where} options are ${listWords(known)}`)
        : didYouMean(suggestion),
    ],
  });
}

/** An option given twice in one `[...]`. */
export function duplicateOption(name: string, span: Span): Diagnostic {
  return make("duplicateOption", `Option '${name}' is given twice.`, span, {
    label: "already given in this list",
  });
}

/** `[default]` without `= value`; `example` shows the right form. */
export function optionNeedsValue(name: string, example: string, span: Span): Diagnostic {
  return make("optionNeedsValue", `Option '${name}' needs a value.`, span, {
    label: "missing '= value'",
    notes: [help(`write it as '${example}'`)],
  });
}

/** `[required = true]` */
export function optionTakesNoValue(name: string, span: Span): Diagnostic {
  return make("optionTakesNoValue", `Option '${name}' takes no value.`, span, {
    label: "remove this value",
    notes: [help(`write just '${name}'`)],
  });
}

/** An option value of the wrong form, e.g. `inverse = "x"`. */
export function invalidOptionValue(
  name: string,
  expected: string,
  found: string,
  span: Span,
): Diagnostic {
  return make("invalidOptionValue", `Option '${name}' expects ${expected}, found ${found}.`, span, {
    label: `expected ${expected}`,
  });
}

/**
 * A visibility that is not private, tenant or public; `shown` is the value as written.
 * `quoted` says the value was a string, so the fix is to drop the quotes.
 */
export function unknownVisibility(
  shown: string,
  span: Span,
  suggestion?: string,
  quoted = false,
): Diagnostic {
  const fix =
    suggestion === undefined
      ? undefined
      : quoted
        ? help(`write it without quotes: ${suggestion}`)
        : didYouMean(suggestion);
  return make("unknownVisibility", `Unknown visibility ${shown}.`, span, {
    label: "expected private, tenant or public",
    notes: [fix],
  });
}

/** `unique` on a kind that cannot be unique. */
export function uniqueNotAllowed(typeText: string, span: Span): Diagnostic {
  return make("uniqueNotAllowed", `A field of type '${typeText}' cannot be unique.`, span, {
    label: "not allowed on this type",
    notes: [note("unique works on string, int, timestamp, enum and ref fields")],
  });
}

/** `index` on a kind that cannot be indexed. */
export function indexNotAllowed(typeText: string, span: Span): Diagnostic {
  return make("indexNotAllowed", `A field of type '${typeText}' cannot be indexed.`, span, {
    label: "not allowed on this type",
    notes: [note("index works on string, int, float, bool, timestamp, enum and ref fields")],
  });
}

/** `searchable` on something other than `string`. */
export function searchableNotString(typeText: string, span: Span): Diagnostic {
  return make("searchableNotString", `A field of type '${typeText}' cannot be searchable.`, span, {
    label: "only string fields are searchable",
  });
}

/** `inherit_access` on a field that is not a single ref. */
export function inheritAccessNotRef(typeText: string, span: Span): Diagnostic {
  return make("inheritAccessNotRef", `A field of type '${typeText}' cannot inherit access.`, span, {
    label: "only a ref field can",
    notes: [
      note("inherit_access makes a node readable by whoever can read the node its ref names"),
    ],
  });
}

/** `default` on a kind that cannot have one. */
export function defaultNotAllowed(typeText: string, span: Span): Diagnostic {
  return make("defaultNotAllowed", `A field of type '${typeText}' cannot have a default.`, span, {
    label: "not allowed on this type",
    notes: [note("defaults work on string, int, float, bool, timestamp and enum fields")],
  });
}

/** A default of the wrong form for its kind. */
export function defaultMismatch(
  typeText: string,
  expected: string,
  found: string,
  span: Span,
  helpText?: string,
): Diagnostic {
  return make(
    "defaultMismatch",
    `The default of a field of type '${typeText}' must be ${expected}, found ${found}.`,
    span,
    { label: `expected ${expected}`, notes: [helpText === undefined ? undefined : help(helpText)] },
  );
}

/** An int default outside 64 bits, or a float default that overflows. */
export function defaultOutOfRange(
  value: bigint | string,
  typeText: "int" | "float",
  span: Span,
): Diagnostic {
  const raw =
    typeof value === "bigint"
      ? showInt(value)
      : value.length > 40
        ? `${value.slice(0, 20)}…`
        : value;
  return make(
    "defaultOutOfRange",
    `The default ${raw} is out of range for type '${typeText}'.`,
    span,
    {
      label: "out of range",
      notes: [
        note(
          typeText === "int"
            ? `int is 64-bit signed: ${INT64_MIN} to ${INT64_MAX}`
            : "float is a finite 64-bit IEEE 754 number",
        ),
      ],
    },
  );
}

/** A timestamp default that is not RFC 3339; `reason` says what is wrong. */
export function invalidTimestampDefault(raw: string, reason: string, span: Span): Diagnostic {
  return make("invalidTimestampDefault", `The default ${raw} is not an RFC 3339 timestamp.`, span, {
    label: reason,
    notes: [help('write it like "2024-01-01T00:00:00Z" or "2024-01-01T09:30:00.5+02:00"')],
  });
}

/** An enum default that is not a value of the enum. */
export function unknownEnumDefault(
  value: string,
  enumName: string,
  span: Span,
  suggestion?: string,
): Diagnostic {
  return make("unknownEnumDefault", `Enum '${enumName}' has no value '${value}'.`, span, {
    label: `not a value of '${enumName}'`,
    notes: [didYouMean(suggestion)],
  });
}

/** `unique` or `searchable` on an edge property. */
export function optionNotAllowedOnEdge(name: string, span: Span): Diagnostic {
  return make(
    "optionNotAllowedOnEdge",
    `Option '${name}' is not allowed on an edge property.`,
    span,
    {
      label: "not allowed on edge properties",
      notes: [note("edge properties take required, index, default and deprecated")],
    },
  );
}

/** `required` together with `deprecated`: legal, but every writer must still set the field. */
export function deprecatedRequired(fieldName: string, span: Span): Diagnostic {
  return make("deprecatedRequired", `Field '${fieldName}' is both required and deprecated.`, span, {
    label: "still required",
    notes: [
      note(
        "every create must keep setting a deprecated field while it is required; drop 'required' first",
      ),
    ],
  });
}

/** `index` next to `unique`. */
export function redundantIndex(span: Span): Diagnostic {
  return make("redundantIndex", "Option 'index' is redundant on a unique field.", span, {
    label: "redundant",
    notes: [note("a unique field is already indexed")],
  });
}

/** `unique` together with `default` on one field. */
export function uniqueWithDefault(field: string, span: Span): Diagnostic {
  return make(
    "uniqueWithDefault",
    `Field '${field}' is unique and has a default: only the first create that leaves it out can succeed.`,
    span,
    {
      label: "every create without this field stores the same value",
      notes: [note("make the field required instead of giving it a default, or drop 'unique'")],
    },
  );
}

/** `required(x = 1)`: parentheses on an option without arguments. */
export function optionTakesNoArguments(name: string, span: Span): Diagnostic {
  return make("optionTakesNoArguments", `Option '${name}' takes no arguments.`, span, {
    label: "remove the parentheses",
    notes: [help(`write just '${name}'`)],
  });
}

/** `searchable(wieght = 3)` or `searchable(weight = 1, weight = 2)`. */
export function unknownOptionArgument(
  option: string,
  arg: string,
  known: readonly string[],
  span: Span,
  duplicate: boolean,
  suggestion?: string,
): Diagnostic {
  if (duplicate) {
    return make("unknownOptionArgument", `Argument '${arg}' of '${option}' is given twice.`, span, {
      label: "already given",
    });
  }
  return make("unknownOptionArgument", `Option '${option}' has no argument '${arg}'.`, span, {
    label: "unknown argument",
    notes: [
      suggestion === undefined
        ? note(`'${option}' takes ${listWords(known)}`)
        : didYouMean(suggestion),
    ],
  });
}

/** A search weight that is not a number in [0.01, 1000]. */
export function invalidSearchWeight(found: string, span: Span): Diagnostic {
  return make(
    "invalidSearchWeight",
    `A search weight must be a number from 0.01 to 1000, found ${found}.`,
    span,
    {
      label: "not a usable weight",
      notes: [
        note("matches in a field of weight 3 count three times as much as in one of weight 1"),
      ],
    },
  );
}

// ---------------------------------------------------------------- composite constraints (E07xx)

/** A composite constraint naming a field `owner` does not have. */
export function compositeUnknownField(
  name: string,
  owner: string,
  span: Span,
  suggestion?: string,
): Diagnostic {
  return make("compositeUnknownField", `${capitalize(owner)} has no field '${name}'.`, span, {
    label: "unknown field",
    notes: [didYouMean(suggestion)],
  });
}

/** `unique (a);` or `index ();` */
export function compositeTooFewFields(constraint: "unique" | "index", span: Span): Diagnostic {
  return make(
    "compositeTooFewFields",
    `A composite ${constraint} needs at least two fields.`,
    span,
    {
      label: "too few fields",
      notes: [help(`for a single field, use the field option '[${constraint}]'`)],
    },
  );
}

/** `unique (a, a);` */
export function compositeRepeatedField(
  name: string,
  constraint: "unique" | "index",
  span: Span,
): Diagnostic {
  return make(
    "compositeRepeatedField",
    `Field '${name}' appears twice in this composite ${constraint}.`,
    span,
    {
      label: "repeated field",
    },
  );
}

/** A field in a composite whose kind cannot be unique / indexed. */
export function compositeFieldKind(
  fieldName: string,
  typeText: string,
  constraint: "unique" | "index",
  span: Span,
): Diagnostic {
  const what = constraint === "unique" ? "a composite unique" : "a composite index";
  return make(
    "compositeFieldKind",
    `Field '${fieldName}' of type '${typeText}' cannot be part of ${what}.`,
    span,
    { label: `'${typeText}' cannot be ${constraint === "unique" ? "unique" : "indexed"}` },
  );
}

/** `unique (…)` / `index (…)` inside an edge type. */
export function compositeOnEdge(span: Span): Diagnostic {
  return make("compositeOnEdge", "Composite constraints are only allowed in node types.", span, {
    label: "not allowed in an edge type",
    notes: [help("an edge property can still use the field option '[index]'")],
  });
}

/** A composite constraint repeating an earlier one. */
export function duplicateComposite(
  constraint: "unique" | "index",
  span: Span,
  firstLine: number,
): Diagnostic {
  return make(
    "duplicateComposite",
    `This composite ${constraint} repeats the one on ${onLine(firstLine)}.`,
    span,
    {
      label: "duplicate constraint",
    },
  );
}

// ---------------------------------------------------------------- enums (E08xx)

/** An enum without values. */
export function emptyEnum(name: string, span: Span): Diagnostic {
  return make("emptyEnum", `Enum '${name}' has no values.`, span, {
    label: "empty enum",
    notes: [help("an enum needs at least one value, e.g. 'unknown = 1;'")],
  });
}

// ---------------------------------------------------------------- edges (E09xx)

/** `from X` / `to X` naming nothing. */
export function unknownEdgeEndpoint(
  name: string,
  end: "from" | "to",
  span: Span,
  suggestion?: string,
): Diagnostic {
  return make("unknownEdgeEndpoint", `Unknown node type '${name}'.`, span, {
    label: `an edge's '${end}' must be a node type`,
    notes: [didYouMean(suggestion)],
  });
}

/** `from X` / `to X` naming an enum or edge type; `actual` is e.g. "an enum". */
export function edgeEndpointNotNode(
  name: string,
  actual: string,
  end: "from" | "to",
  span: Span,
): Diagnostic {
  return make("edgeEndpointNotNode", `'${name}' is ${actual}, not a node type.`, span, {
    label: `an edge's '${end}' must be a node type`,
  });
}

/** Two edges into one node type with the same `inverse`. */
export function duplicateInverseName(
  name: string,
  target: string,
  firstEdge: string,
  span: Span,
  firstLine: number,
): Diagnostic {
  return make(
    "duplicateInverseName",
    `Node type '${target}' already has an inverse traversal named '${name}'.`,
    span,
    {
      label: "duplicate inverse name",
      notes: [note(`edge '${firstEdge}' declares it on ${onLine(firstLine)}`)],
    },
  );
}

/** An `inverse` that does not start with a lowercase letter. */
export function invalidInverseName(name: string, span: Span, suggestion?: string): Diagnostic {
  return make(
    "invalidInverseName",
    `Inverse name '${name}' must start with a lowercase letter.`,
    span,
    {
      label: "inverse names are like field names",
      notes: [didYouMean(suggestion)],
    },
  );
}

/** `mailbox = x` where the `to` node type has no field `x`. */
export function unknownMailboxField(
  field: string,
  target: string,
  span: Span,
  suggestion?: string,
): Diagnostic {
  return make("unknownMailboxField", `Node type '${target}' has no field '${field}'.`, span, {
    label: "mailbox names the field of the recipient node that holds its principal",
    notes: [didYouMean(suggestion)],
  });
}

/** `mailbox = x` where field `x` is not a string. */
export function mailboxFieldNotString(field: string, typeText: string, span: Span): Diagnostic {
  return make(
    "mailboxFieldNotString",
    `Field '${field}' is of type '${typeText}'; a mailbox field must be a string.`,
    span,
    {
      label: "the field holds the recipient's principal, such as 'user:alice'",
    },
  );
}

// ---------------------------------------------------------------- helpers

/** Decimal digits of an integer, or a short description when it is too long to print usefully. */
function showInt(value: bigint): string {
  // A hex string is cheap to build; decimal conversion of a huge bigint is not.
  const hexDigits = (value < 0n ? -value : value).toString(16).length;
  if (hexDigits <= 34) return value.toString();
  return `${value < 0n ? "-" : ""}(an integer of about ${Math.round(hexDigits * Math.log10(16))} digits)`;
}

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}

/** "a, b and c" */
function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}
