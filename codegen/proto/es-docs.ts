/**
 * The doc comments of protobuf-es declarations, from a file descriptor's SourceCodeInfo.
 *
 * A declaration's JSDoc is its `.proto` comment (leading, then trailing after a blank
 * line), each line without the one space that followed `//`, and `@deprecated` when the
 * element (or, for a message, enum, service or oneof, an enclosing message or the file)
 * is deprecated. Nothing else: the `.proto` beside the code already says how each
 * declaration maps to it, so no `@generated from …` tag is printed.
 */

import { isFieldSet } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { SourceCodeInfo_LocationSchema } from "@bufbuild/protobuf/wkt";

const LOCATION = SourceCodeInfo_LocationSchema.field;

/** A file's comments by source path (`"4,0,2,1"`). */
export class EsDocs {
  private readonly byPath = new Map<string, { leading?: string; trailing?: string }>();

  constructor(file: FileDescriptorProto) {
    for (const location of file.sourceCodeInfo?.location ?? []) {
      const key = location.path.join(",");
      if (this.byPath.has(key)) continue;
      // Proto2 optionals read as "" when unset: only a set comment counts, even an empty one.
      const leading = isFieldSet(location, LOCATION.leadingComments)
        ? location.leadingComments
        : undefined;
      const trailing = isFieldSet(location, LOCATION.trailingComments)
        ? location.trailingComments
        : undefined;
      this.byPath.set(key, {
        ...(leading === undefined ? {} : { leading: leading.replace(/\r\n?/g, "\n") }),
        ...(trailing === undefined ? {} : { trailing: trailing.replace(/\r\n?/g, "\n") }),
      });
    }
  }

  /**
   * The JSDoc block for the element at `path`, at `indent`, ending with a newline; `""`
   * when there is nothing to say.
   */
  block(path: readonly number[], deprecated: boolean, indent = ""): string {
    const text = this.text(path);
    const lines = text === "" ? [] : text.split("\n").map(withoutLeadingSpace);
    if (deprecated) {
      if (text !== "") lines.push("");
      lines.push("@deprecated");
    } else {
      while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    }
    return jsDocBlock(lines, indent);
  }

  /** The comment text of the element at `path`: leading, a blank line, trailing. */
  private text(path: readonly number[]): string {
    const comments = this.byPath.get(path.join(","));
    if (comments === undefined) return "";
    let text = "";
    if (comments.leading !== undefined) text += withoutFinalNewline(comments.leading);
    if (comments.trailing !== undefined) {
      if (text.length > 0) text += "\n\n";
      text = withoutFinalNewline(text + comments.trailing);
    }
    return text;
  }
}

/** `lines` as a JSDoc block at `indent`, `*\/` escaped; `""` for no lines. */
export function jsDocBlock(lines: readonly string[], indent = ""): string {
  if (lines.length === 0) return "";
  const body = lines.map((l) => {
    const text = l.split("*/").join("*\\/");
    return `${indent} *${text.length > 0 ? ` ${text}` : ""}\n`;
  });
  return `${indent}/**\n${body.join("")}${indent} */\n`;
}

function withoutLeadingSpace(line: string): string {
  return line.startsWith(" ") ? line.slice(1) : line;
}

function withoutFinalNewline(text: string): string {
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}
