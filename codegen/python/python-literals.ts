/**
 * Python source literals the Python generators print: strings, and bytes embedded as
 * base64 text split over lines, so a descriptor of any size stays a readable literal.
 */

/** A double-quoted Python string literal for `value` (ASCII only; the rest escaped). */
export function pyString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\\" || ch === '"') out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code > 0x7e && code <= 0xffff) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else if (code > 0xffff) out += `\\U${code.toString(16).padStart(8, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * A parenthesized expression of base64 string pieces, 76 characters a line, indented by
 * `indent`: `bytes` as it is embedded (decode with `base64.b64decode`).
 */
export function pyBase64(bytes: Uint8Array, indent: string): string {
  const text = Buffer.from(bytes).toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(`${indent}    "${text.slice(i, i + 76)}"`);
  return `(\n${lines.join("\n")}\n${indent})`;
}
