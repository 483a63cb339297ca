/**
 * Prints the ts-morph structures the client generator describes `client.ts` with, to
 * the byte as `project.createSourceFile(name, { statements }).getFullText()` prints
 * them with two-space indentation, `\n` line breaks, double quotes and trailing commas,
 * without loading ts-morph or the TypeScript compiler (the larger part of the time
 * `entdb generate` spent on a large client) and without parsing the printed file.
 *
 * Each `printX` follows ts-morph's printer of that structure (ts-morph 28's
 * `InterfaceDeclarationStructurePrinter` and so on), for the structures and fields the
 * generator uses. Any other field with a value (see printable-fields.ts), or a writer
 * function where a text is expected, throws a `CodegenError` (`generator-failed`)
 * rather than risk printing something ts-morph would print differently. Top-level
 * statement writers are called with the file's writer, as ts-morph calls them.
 */

import type {
  FunctionDeclarationStructure,
  ImportDeclarationStructure,
  InterfaceDeclarationStructure,
  OptionalKind,
  ParameterDeclarationStructure,
  PropertySignatureStructure,
  TypeAliasDeclarationStructure,
  WriterFunction,
} from "ts-morph";
import { isWhitespaceText, type StatementWriter, TextCodeWriter } from "./code-writer.ts";
import {
  checkFields,
  FUNCTION_FIELDS,
  IMPORT_FIELDS,
  INTERFACE_FIELDS,
  PARAMETER_FIELDS,
  PROPERTY_FIELDS,
  TYPE_ALIAS_FIELDS,
  unsupported,
} from "./printable-fields.ts";
import { STRUCTURE_KIND } from "./structure-kind.ts";

/** A top-level statement of the printed file. */
export type PrintableStatement =
  | string
  | StatementWriter
  | ImportDeclarationStructure
  | FunctionDeclarationStructure
  | InterfaceDeclarationStructure
  | TypeAliasDeclarationStructure;

/** A function body: text statements only (a ts-morph writer function takes ts-morph's writer). */
type BodyStatements = FunctionDeclarationStructure["statements"];

/** The modifier flags ts-morph prints, in its order. */
interface Modifiers {
  readonly isDefaultExport?: boolean | undefined;
  readonly isExported?: boolean | undefined;
  readonly hasDeclareKeyword?: boolean | undefined;
  readonly scope?: string | undefined;
  readonly isStatic?: boolean | undefined;
  readonly hasOverrideKeyword?: boolean | undefined;
  readonly isAbstract?: boolean | undefined;
  readonly isAsync?: boolean | undefined;
  readonly isReadonly?: boolean | undefined;
  readonly hasAccessorKeyword?: boolean | undefined;
}

type Docs = InterfaceDeclarationStructure["docs"];

/** Prints `statements` as the text of a source file, as ts-morph's source file printer does. */
export function printStatements(statements: Iterable<PrintableStatement>): string {
  const writer = new TextCodeWriter();
  writer.closeComment();
  for (const statement of statements) {
    separateStatement(writer);
    printStatement(writer, statement);
  }
  if (!writer.isAtStartOfFirstLineOfBlock() && !writer.isLastNewLine()) writer.newLine();
  return writer.toString();
}

/** What ts-morph writes before each statement of a list. */
function separateStatement(writer: TextCodeWriter): void {
  if (writer.isLastNonWhitespaceCloseBrace()) writer.blankLineIfLastNot();
  else if (!writer.isAtStartOfFirstLineOfBlock()) writer.newLineIfLastNot();
}

function printStatement(writer: TextCodeWriter, statement: PrintableStatement): void {
  if (typeof statement === "string") {
    writer.write(statement);
    return;
  }
  if (typeof statement === "function") {
    statement(writer);
    return;
  }
  switch (statement.kind) {
    case STRUCTURE_KIND.Function:
      ensureBlankLine(writer);
      printFunction(writer, statement);
      return;
    case STRUCTURE_KIND.Interface:
      ensureBlankLine(writer);
      printInterface(writer, statement);
      return;
    case STRUCTURE_KIND.TypeAlias:
      printTypeAlias(writer, statement);
      return;
    case STRUCTURE_KIND.ImportDeclaration:
      printImport(writer, statement);
      return;
    default:
      throw unsupported(
        "statement",
        `a structure of kind ${String((statement as { kind: unknown }).kind)}`,
      );
  }
}

function ensureBlankLine(writer: TextCodeWriter): void {
  if (!writer.isAtStartOfFirstLineOfBlock()) writer.blankLineIfLastNot();
}

function printImport(writer: TextCodeWriter, s: ImportDeclarationStructure): void {
  checkFields(s, IMPORT_FIELDS, "import declaration", undefined);
  writer.closeComment();
  const hasNamespace = s.namespaceImport !== undefined;
  writer.write("import");
  if (s.isTypeOnly === true) writer.write(" type");
  if (s.defaultImport !== undefined) {
    writer.write(` ${s.defaultImport}`);
    if (hasNamespace) writer.write(",");
  }
  if (hasNamespace) writer.write(` * as ${s.namespaceImport}`);
  if (s.defaultImport !== undefined || hasNamespace) writer.write(" from");
  writer.write(" ");
  writer.quote(s.moduleSpecifier);
  writer.write(";");
}

function printFunction(writer: TextCodeWriter, s: FunctionDeclarationStructure): void {
  checkFields(s, FUNCTION_FIELDS, "function", s.name ?? "");
  writer.closeComment();
  printDocs(writer, s.docs);
  writer.write(`${modifiers(s)}function`);
  if (s.name !== undefined && !isWhitespaceText(s.name)) writer.write(` ${s.name}`);
  printParameters(writer, s.parameters ?? []);
  if (s.returnType !== undefined) {
    const returnType = text(s.returnType, "a function's return type");
    if (!isWhitespaceText(returnType)) writer.hangingIndent(() => writer.write(`: ${returnType}`));
  }
  if (s.hasDeclareKeyword === true) {
    writer.write(";");
    return;
  }
  writer.space().inlineBlock(() => printBody(writer, s.statements));
}

function printBody(writer: TextCodeWriter, statements: BodyStatements): void {
  if (statements === undefined) return;
  if (typeof statements === "string") {
    writer.write(statements);
    return;
  }
  if (typeof statements === "function") throw unsupported("function body", "a writer function");
  for (const statement of statements) {
    separateStatement(writer);
    if (typeof statement === "function") throw unsupported("function body", "a writer function");
    if (typeof statement === "string") writer.write(statement);
    else throw unsupported("function body", "a structure");
  }
}

/** `(a: A, b: B)`; ts-morph puts the comma after each parameter's last token. */
function printParameters(
  writer: TextCodeWriter,
  parameters: readonly OptionalKind<ParameterDeclarationStructure>[],
): void {
  writer.write("(");
  if (parameters.length > 0) {
    writer.hangingIndent(() => {
      const commaAt: number[] = [];
      parameters.forEach((parameter, i) => {
        if (i > 0) writer.spaceIfLastNot();
        const start = writer.getLength();
        printParameter(writer, parameter);
        if (i < parameters.length - 1) {
          const at = commaPosition(writer.textSince(start), parameter.name);
          if (at !== undefined) commaAt.push(start + at);
        }
      });
      writer.insertBefore(commaAt, ",");
    });
  }
  writer.write(")");
}

/**
 * Where ts-morph appends a parameter's comma: after its last token, before trailing
 * white space; none after an empty text or one ending in a comma. ts-morph finds the
 * last token with the TypeScript scanner; without it, comments, string and template
 * literals and non-ASCII text are not supported in a parameter that needs a comma.
 */
function commaPosition(printed: string, name: string): number | undefined {
  if (/[/`'"\u0080-\uffff]/.test(printed)) {
    throw unsupported(`parameter \`${name}\``, "comments, quotes or non-ASCII text before a comma");
  }
  const end = printed.replace(/[ \t\n\r\v\f]+$/, "").length;
  if (end === 0 || printed.charAt(end - 1) === ",") return undefined;
  return end;
}

function printParameter(
  writer: TextCodeWriter,
  s: OptionalKind<ParameterDeclarationStructure>,
): void {
  checkFields(s, PARAMETER_FIELDS, "parameter", s.name);
  writer.closeComment();
  const optional = s.hasQuestionToken === true;
  const prefix = `${modifiers(s)}${s.isRestParameter === true ? "..." : ""}`;
  printNamed(writer, prefix, s.name, optional ? "?" : "", ":", s.type, optional, "");
  if (s.initializer !== undefined) {
    const initializer = text(s.initializer, "a parameter's initializer");
    if (!isWhitespaceText(initializer)) {
      writer.hangingIndent(() => {
        writer.spaceIfLastNot();
        writer.write(`= ${initializer}`);
      });
    }
  }
}

function printInterface(writer: TextCodeWriter, s: InterfaceDeclarationStructure): void {
  checkFields(s, INTERFACE_FIELDS, "interface", s.name);
  writer.closeComment();
  printDocs(writer, s.docs);
  writer.write(`${modifiers(s)}interface ${s.name}`);
  writer.space();
  if (s.extends !== undefined) {
    const extendsText = Array.isArray(s.extends)
      ? s.extends.map((e) => text(e, "an interface's extends")).join(", ")
      : text(s.extends, "an interface's extends");
    if (!isWhitespaceText(extendsText)) {
      writer.hangingIndent(() => writer.write(`extends ${extendsText} `));
    }
  }
  writer.inlineBlock(() => {
    const properties = s.properties ?? [];
    if (properties.length > 0 && !writer.isAtStartOfFirstLineOfBlock()) writer.newLine();
    for (let i = 0; i < properties.length; i++) {
      if (i > 0) writer.newLine();
      const property = properties[i];
      if (property !== undefined) printProperty(writer, property);
    }
  });
}

function printProperty(writer: TextCodeWriter, s: OptionalKind<PropertySignatureStructure>): void {
  checkFields(s, PROPERTY_FIELDS, "property", s.name);
  if (s.kind !== undefined && s.kind !== STRUCTURE_KIND.PropertySignature) {
    throw unsupported(`property \`${s.name}\``, `kind ${s.kind}`);
  }
  writer.closeComment();
  printDocs(writer, s.docs);
  const suffix = s.hasQuestionToken === true ? "?" : "";
  printNamed(writer, modifiers(s), s.name, suffix, ":", s.type, false, ";");
}

function printTypeAlias(writer: TextCodeWriter, s: TypeAliasDeclarationStructure): void {
  checkFields(s, TYPE_ALIAS_FIELDS, "type alias", s.name);
  writer.closeComment();
  printDocs(writer, s.docs);
  printNamed(writer, `${modifiers(s)}type `, s.name, "", " =", s.type, false, ";");
}

/**
 * `prefix`, `name`, `suffix`, then `: T` (` = T` for a type alias; `any` when missing
 * but required, none when white space) with lines the type breaks onto indented one
 * level deeper, then `tail`. ts-morph writes these one by one; when none has a line
 * break (not even a lone `\r`, which code-block-writer takes to end a line), one
 * write of the whole line prints the same, and reads each text only once.
 */
function printNamed(
  writer: TextCodeWriter,
  prefix: string,
  name: string,
  suffix: string,
  separator: string,
  type: string | WriterFunction | undefined,
  alwaysWrite: boolean,
  tail: string,
): void {
  if (typeof type === "string") {
    const line = `${prefix}${name}${suffix}${separator} ${type}${tail}`;
    if (isOneLine(line)) {
      const typeStart = prefix.length + name.length + suffix.length + separator.length + 1;
      if (!isWhitespaceText(line, typeStart, line.length - tail.length)) {
        writer.writeWithoutLineFeed(line);
      } else {
        writer.writeWithoutLineFeed(`${prefix}${name}${suffix}${tail}`);
      }
      return;
    }
  }
  if (prefix !== "") writer.write(prefix);
  writer.write(name);
  if (suffix !== "") writer.write(suffix);
  const typeText = type === undefined && !alwaysWrite ? "" : text(type ?? "any", "a type");
  if (!isWhitespaceText(typeText)) {
    writer.hangingIndent(() => writer.write(`${separator} ${typeText}`));
  }
  if (tail !== "") writer.write(tail);
}

/** The modifier keywords ts-morph writes, in its order, each followed by a space. */
function modifiers(s: Modifiers): string {
  let out = "";
  if (s.isDefaultExport === true) out += "export default ";
  else if (s.isExported === true) out += "export ";
  if (s.hasDeclareKeyword === true) out += "declare ";
  if (s.scope !== undefined) out += `${s.scope} `;
  if (s.isStatic === true) out += "static ";
  if (s.hasOverrideKeyword === true) out += "override ";
  if (s.isAbstract === true) out += "abstract ";
  if (s.isAsync === true) out += "async ";
  if (s.isReadonly === true) out += "readonly ";
  if (s.hasAccessorKeyword === true) out += "accessor ";
  return out;
}

/** JSDoc comments from text, one after another, each followed by a line break. */
function printDocs(writer: TextCodeWriter, docs: Docs): void {
  if (docs === undefined) return;
  for (const doc of docs) {
    if (typeof doc !== "string") throw unsupported("a doc comment", "a JSDoc structure");
    writer.closeComment();
    printDoc(writer, doc);
    writer.newLine();
  }
}

/**
 * `/** text *\/` on one line when the text is one line, else a `*` line per line (a
 * leading empty line dropped), as ts-morph's JSDoc printer does.
 */
function printDoc(writer: TextCodeWriter, doc: string): void {
  const open = `/** ${doc}`;
  if (isOneLine(open)) {
    // `/**`, a space, the text, a space unless the text ends with one, `*/`.
    writer.writeWithoutLineFeed(open);
    writer.writeWithoutLineFeed(open.charCodeAt(open.length - 1) === 0x20 ? "*/" : " */");
    return;
  }
  const lines = doc.split(/\r?\n/);
  const startIndex = lines[0] === "" ? 1 : 0;
  writer.write("/**");
  if (lines.length <= 1) {
    writer.space();
    writer.write(lines[startIndex] ?? "");
  } else {
    writer.newLine();
    for (let i = startIndex; i < lines.length; i++) {
      const line = lines[i] ?? "";
      writer.write(" *");
      if (line.length > 0) writer.write(` ${line}`);
      writer.newLine();
    }
  }
  writer.spaceIfLastNot();
  writer.write("*/");
}

/**
 * Whether text has no line break, not even a lone `\r` (code-block-writer takes a text
 * ending in `\r` to end a line, so joining writes around one would change the output).
 */
function isOneLine(value: string): boolean {
  return value.indexOf("\n") === -1 && value.indexOf("\r") === -1;
}

/**
 * A text field as ts-morph prints it through a fresh writer: line breaks become `\n`.
 * A writer function there would take ts-morph's writer, so it is not supported.
 */
function text(value: string | WriterFunction, what: string): string {
  if (typeof value !== "string") throw unsupported(what, "a writer function");
  return value.indexOf("\r") === -1 ? value : value.replace(/\r\n/g, "\n");
}
