/**
 * The import-tracking writer the protobuf-es printer prints through, in the manner of
 * protoplugin's `GeneratedFile`: code is a list of text and symbols; a symbol names what
 * it refers to and where it comes from, and the imports are worked out when the file
 * is finished, so the printer never builds an import string.
 *
 * Imports come in the order their module is first used; a module gives one `import type`
 * statement for the names only used as types, then one `import` for the rest, each
 * list sorted. A foreign name that clashes with a name this file exports or with an
 * earlier import is imported under an alias `Name$1` (`$` cannot occur in proto names).
 */

/** A name imported from another module, or declared in this one. */
export interface EsSymbol {
  readonly kind: "symbol";
  readonly name: string;
  /** The module: a package path, or `./dir/file_pb.js` relative to the out dir. */
  readonly from: string;
  /** Only used as a type (`import type`) unless some use of the same symbol is a value. */
  readonly typeOnly: boolean;
  /** What identifies it: its module and its name (a name never contains `#`). */
  readonly id: string;
}

/** An `export <declaration> <name>` at the start of a statement. */
export interface EsExport {
  readonly kind: "export";
  readonly declaration: string;
  readonly name: string;
}

/** What `print` takes: text, symbols, exports, and lists of them. */
export type EsPrintable = string | number | EsSymbol | EsExport | readonly EsPrintable[];

/** A symbol from `from`. */
export function esSymbol(name: string, from: string, typeOnly = false): EsSymbol {
  return { kind: "symbol", name, from, typeOnly, id: `${from}#${name}` };
}

/** An export statement head: `export declare const name`. */
export function esExport(declaration: string, name: string): EsExport {
  return { kind: "export", declaration, name };
}

/** A string literal as protobuf-es prints it: `"` quoted, `\`, `"`, CR and LF escaped. */
export function esString(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\r", "\\r").replaceAll("\n", "\\n")}"`;
}

/** One file being printed. */
export class EsPrinter {
  private readonly parts: (string | EsSymbol | EsExport)[] = [];
  private readonly importPath: string;
  private readonly rewrite: (from: string) => string;

  /**
   * @param importPath this file's own module path (`./acme/tracker/task_pb.js`): symbols
   *   from it are local.
   * @param rewrite maps a module path before it is made relative (the import extension).
   */
  constructor(importPath: string, rewrite: (from: string) => string) {
    this.importPath = importPath;
    this.rewrite = rewrite;
  }

  /** Text printed since the last symbol or export, not yet in `parts`. */
  private text = "";

  /** Appends `printables` and a newline. */
  print(...printables: EsPrintable[]): void {
    this.append(printables);
    this.text += "\n";
  }

  private append(printables: readonly EsPrintable[]): void {
    for (const p of printables) {
      if (typeof p === "string") this.text += p;
      else if (typeof p === "number") this.text += p.toString(10);
      else if (Array.isArray(p)) this.append(p);
      else {
        // Runs of text are kept as one part: far fewer parts to walk and collect.
        if (this.text !== "") this.parts.push(this.text);
        this.text = "";
        this.parts.push(p as EsSymbol | EsExport);
      }
    }
  }

  /** The file's text: its imports, a blank line, then what was printed. */
  content(): string {
    if (this.text !== "") this.parts.push(this.text);
    this.text = "";
    const { statements, identifiers } = this.imports();
    const out: string[] = statements;
    if (out.length > 0) out.push("\n");
    for (const p of this.parts) {
      if (typeof p === "string") out.push(p);
      else if (p.kind === "symbol") out.push(identifiers.get(p.id) ?? p.name);
      else out.push("export ", p.declaration === "" ? "" : `${p.declaration} `, p.name);
    }
    return out.join("");
  }

  private imports(): { statements: string[]; identifiers: Map<string, string> } {
    const identifiers = new Map<string, string>();
    const isValue = new Set<string>();
    const taken = new Set<string>();
    const foreign: EsSymbol[] = [];
    for (const p of this.parts) {
      if (typeof p === "string") continue;
      if (p.kind === "export") {
        taken.add(p.name);
        continue;
      }
      const id = p.id;
      identifiers.set(id, p.name);
      if (!p.typeOnly) isValue.add(id);
      if (p.from === this.importPath) taken.add(p.name);
      else foreign.push(p);
    }
    const handled = new Set<string>();
    for (const s of foreign) {
      const id = s.id;
      if (handled.has(id)) continue;
      handled.add(id);
      if (!taken.has(s.name)) {
        taken.add(s.name);
        continue;
      }
      let i = 1;
      while (taken.has(`${s.name}$${i}`)) i++;
      taken.add(`${s.name}$${i}`);
      identifiers.set(id, `${s.name}$${i}`);
    }
    const byModule = new Map<string, { types: Map<string, string>; values: Map<string, string> }>();
    for (const s of foreign) {
      let module = byModule.get(s.from);
      if (module === undefined) {
        module = { types: new Map(), values: new Map() };
        byModule.set(s.from, module);
      }
      const id = s.id;
      (isValue.has(id) ? module.values : module.types).set(s.name, identifiers.get(id) ?? s.name);
    }
    const statements: string[] = [];
    for (const [from, { types, values }] of byModule) {
      const path = esString(relativeImportPath(this.importPath, this.rewrite(from)));
      if (types.size > 0) statements.push(`import type ${importList(types)} from ${path};\n`);
      if (values.size > 0) statements.push(`import ${importList(values)} from ${path};\n`);
    }
    return { statements, identifiers };
  }
}

/** `{ A, B as B$1 }`, sorted by imported name. */
function importList(names: ReadonlyMap<string, string>): string {
  const list = [...names]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, alias]) => (alias === name ? name : `${name} as ${alias}`));
  return `{ ${list.join(", ")} }`;
}

const RELATIVE = /^\.{1,2}\//;

/** `importPath` relative to the module `importer`; package paths unchanged. */
function relativeImportPath(importer: string, importPath: string): string {
  if (!RELATIVE.test(importPath)) return importPath;
  const parts = (path: string): string[] =>
    path
      .replace(/^\.\//, "")
      .split("/")
      .filter((p) => p.length > 0);
  let a = parts(importer).slice(0, -1);
  let b = parts(importPath);
  let same = 0;
  while (same < Math.min(a.length, b.length) && a[same] === b[same]) same++;
  a = a.slice(same);
  b = b.slice(same);
  const path = [...a.map(() => ".."), ...b].join("/");
  return RELATIVE.test(path) ? path : `./${path}`;
}
