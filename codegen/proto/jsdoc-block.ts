/**
 * protoplugin's `formatJsDocBlock` (jsdoc.js), which protoc-gen-es runs on every JSDoc
 * it prints, written as one pass over the text: upstream splits the text into lines and
 * maps and joins them three times, which on a 500-type schema (70,000 blocks) was a
 * tenth of the plugin's time. Same result for every input: `*\/` escaped, each line
 * behind ` * ` (a bare ` *` when empty), the block indented by `indentation`, and the
 * empty string for text that is only white space.
 */

/** The JSDoc block for `text`, as protoplugin's `formatJsDocBlock` prints it. */
export function formatJsDocBlock(text: string, indentation?: string): string {
  // `trim` and `\s` agree on what white space is.
  if (!/\S/.test(text)) return "";
  const indent = indentation ?? "";
  // Upstream escapes line by line; `*/` cannot span a line break, so this is the same.
  const escaped = text.includes("*/") ? text.replaceAll("*/", "*\\/") : text;
  let block = `${indent}/**\n`;
  for (let start = 0; ; ) {
    const end = escaped.indexOf("\n", start);
    const line = end === -1 ? escaped.slice(start) : escaped.slice(start, end);
    block += line.length > 0 ? `${indent} * ${line}\n` : `${indent} *\n`;
    if (end === -1) break;
    start = end + 1;
  }
  return `${block}${indent} */`;
}
