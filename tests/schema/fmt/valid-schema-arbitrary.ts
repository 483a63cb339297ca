/**
 * A fast-check arbitrary of valid `.entdb` sources in messy layouts: every construct of
 * the grammar, ids and names that pass validation, random whitespace between tokens,
 * comments in every place the language allows them (leading, `///` docs, trailing,
 * before `}`, at the end of the file, and inside declarations), and odd literal
 * spellings (escapes, leading zeros, float exponents).
 *
 * The structure (types, fields, options) comes from fast-check arbitraries so it
 * shrinks; the layout comes from a seeded generator so one seed is one layout.
 */

import fc from "fast-check";

const SCALARS = ["string", "int", "float", "bool", "timestamp", "bytes", "json"] as const;
type Scalar = (typeof SCALARS)[number];

/** Field names that are also keywords somewhere, to check they stay names. */
const KEYWORD_NAMES = ["index", "unique", "from", "to"] as const;

type TypeSpec =
  | { readonly tag: "scalar"; readonly kind: Scalar }
  | { readonly tag: "enum"; readonly pick: number }
  | { readonly tag: "ref"; readonly pick: number }
  | { readonly tag: "list"; readonly element: TypeSpec };

interface FieldSpec {
  readonly keywordName: boolean;
  readonly type: TypeSpec;
  readonly idGap: number;
  readonly required: boolean;
  readonly unique: boolean;
  readonly index: boolean;
  readonly searchable: boolean;
  readonly deprecated: boolean;
  readonly withDefault: boolean;
  readonly defaultSeed: number;
  readonly stringDefault: string;
  readonly intDefault: bigint;
  readonly doc: readonly string[];
}

interface ReservedSpec {
  readonly ranges: readonly { readonly gap: number; readonly width: number }[];
  readonly names: number;
}

interface NodeSpec {
  readonly fields: readonly FieldSpec[];
  readonly visibility: "none" | "private" | "tenant" | "public";
  readonly deprecated: boolean;
  readonly uniqueComposite: boolean;
  readonly indexComposite: boolean;
  readonly reserved: ReservedSpec | null;
  readonly doc: readonly string[];
}

interface EdgeSpec {
  readonly from: number;
  readonly to: number;
  readonly uniquePerFrom: boolean;
  readonly inverse: boolean;
  readonly deprecated: boolean;
  readonly body: "none" | "empty" | "fields";
  readonly fields: readonly FieldSpec[];
  readonly doc: readonly string[];
}

interface EnumSpec {
  readonly values: readonly {
    readonly gap: number;
    readonly deprecated: boolean;
    readonly doc: readonly string[];
  }[];
  readonly reserved: ReservedSpec | null;
  readonly doc: readonly string[];
}

interface SchemaSpec {
  readonly packageParts: readonly string[];
  readonly enums: readonly EnumSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly edges: readonly EdgeSpec[];
  readonly reserved: ReservedSpec | null;
  /** Order in which declarations are printed: indexes into enums ++ nodes ++ edges ++ reserved. */
  readonly order: readonly number[];
  readonly layoutSeed: number;
}

const docArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant<string[]>([]) },
  {
    weight: 1,
    arbitrary: fc.array(fc.constantFrom("A doc line.", "", "  indented", "with `code`"), {
      minLength: 1,
      maxLength: 3,
    }),
  },
);

const scalarArb = fc.constantFrom(...SCALARS);
const elementArb: fc.Arbitrary<TypeSpec> = fc.oneof(
  scalarArb.map((kind) => ({ tag: "scalar" as const, kind })),
  fc.nat(9).map((pick) => ({ tag: "enum" as const, pick })),
  fc.nat(9).map((pick) => ({ tag: "ref" as const, pick })),
);
const typeArb: fc.Arbitrary<TypeSpec> = fc.oneof(
  { weight: 3, arbitrary: elementArb },
  { weight: 1, arbitrary: elementArb.map((element) => ({ tag: "list" as const, element })) },
);

const stringDefaultArb = fc.string({
  unit: fc.constantFrom("a", "Z", " ", '"', "\\", "\n", "\t", "\r", "é", "😀", "\u0007", "/", "*"),
  maxLength: 6,
});

const fieldArb: fc.Arbitrary<FieldSpec> = fc.record({
  keywordName: fc.boolean(),
  type: typeArb,
  idGap: fc.integer({ min: 1, max: 3 }),
  required: fc.boolean(),
  unique: fc.boolean(),
  index: fc.boolean(),
  searchable: fc.boolean(),
  deprecated: fc.boolean(),
  withDefault: fc.boolean(),
  defaultSeed: fc.nat(99),
  stringDefault: stringDefaultArb,
  intDefault: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  doc: docArb,
});

const reservedArb: fc.Arbitrary<ReservedSpec | null> = fc.option(
  fc.record({
    ranges: fc.array(fc.record({ gap: fc.integer({ min: 1, max: 3 }), width: fc.nat(3) }), {
      maxLength: 3,
    }),
    names: fc.nat(2),
  }),
  { nil: null },
);

const schemaSpecArb: fc.Arbitrary<SchemaSpec> = fc
  .record({
    packageParts: fc.array(fc.constantFrom("acme", "tracker", "a1", "x_y"), {
      minLength: 1,
      maxLength: 3,
    }),
    enums: fc.array(
      fc.record({
        values: fc.array(
          fc.record({ gap: fc.integer({ min: 1, max: 3 }), deprecated: fc.boolean(), doc: docArb }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        reserved: reservedArb,
        doc: docArb,
      }),
      { maxLength: 2 },
    ),
    nodes: fc.array(
      fc.record({
        fields: fc.array(fieldArb, { maxLength: 6 }),
        visibility: fc.constantFrom(
          "none" as const,
          "private" as const,
          "tenant" as const,
          "public" as const,
        ),
        deprecated: fc.boolean(),
        uniqueComposite: fc.boolean(),
        indexComposite: fc.boolean(),
        reserved: reservedArb,
        doc: docArb,
      }),
      { minLength: 1, maxLength: 3 },
    ),
    edges: fc.array(
      fc.record({
        from: fc.nat(9),
        to: fc.nat(9),
        uniquePerFrom: fc.boolean(),
        inverse: fc.boolean(),
        deprecated: fc.boolean(),
        body: fc.constantFrom("none" as const, "empty" as const, "fields" as const),
        fields: fc.array(fieldArb, { maxLength: 3 }),
        doc: docArb,
      }),
      { maxLength: 3 },
    ),
    reserved: reservedArb,
    orderSeed: fc.nat(),
    layoutSeed: fc.nat(),
  })
  .map(({ orderSeed, ...spec }) => {
    const count =
      spec.enums.length + spec.nodes.length + spec.edges.length + (spec.reserved ? 1 : 0);
    const order = Array.from({ length: count }, (_, i) => i);
    const rnd = prng(orderSeed);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return { ...spec, order };
  });

/** Valid schema sources with random layout and comments. */
export function validSchemaSource(): fc.Arbitrary<string> {
  return schemaSpecArb.map(renderSchema);
}

/** mulberry32: a small deterministic generator for layout choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Chooses whitespace and comments; all randomness of the layout goes through here. */
class Layout {
  readonly #rnd: () => number;
  #comment = 0;

  constructor(seed: number) {
    this.#rnd = prng(seed);
  }

  chance(p: number): boolean {
    return this.#rnd() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#rnd() * items.length)]!;
  }

  #text(): string {
    this.#comment++;
    return this.pick([
      `c${this.#comment}`,
      `c${this.#comment} // nested`,
      `c${this.#comment} ** x`,
      "",
    ]);
  }

  lineComment(): string {
    const body = this.#text();
    return this.pick([`//${body}`, `// ${body}`, `// ${body}  `, `//\t${body}`]);
  }

  blockComment(): string {
    const body = this.#text();
    return this.pick([`/* ${body} */`, `/*${body}*/`, `/* ${body}\n   more */`, `/** ${body} */`]);
  }

  /** Whitespace (or a comment) between two tokens of one declaration. */
  sep(): string {
    const r = this.#rnd();
    if (r < 0.55) return " ";
    if (r < 0.65) return "";
    if (r < 0.75) return this.pick(["  ", "\t", "\n", "\n    ", " \r\n"]);
    if (r < 0.87) return ` ${this.blockComment()} `;
    return ` ${this.lineComment()}\n`;
  }

  /** Comments on their own lines before an item, after a line break. */
  leading(): string {
    let out = "";
    while (this.chance(0.3)) {
      out += this.chance(0.7) ? this.lineComment() : this.blockComment();
      out += this.pick(["\n", "\n\n", "\n  \n"]);
    }
    return out;
  }

  /** Between two items: line breaks, maybe blank lines, maybe on the same line. */
  gap(): string {
    return this.pick(["\n", "\n", "\n\n", "\n\n\n", " ", "\n  \t\n", "\r\n"]);
  }

  trailing(): string {
    if (!this.chance(0.25)) return "";
    return ` ${this.chance(0.7) ? this.lineComment() : this.blockComment()}\n`;
  }

  doc(lines: readonly string[]): string {
    return lines
      .map((l) => `${this.pick(["///", "/// "])}${l}${this.pick(["", "", "  "])}\n`)
      .join("");
  }
}

/** Joins tokens with layout separators, keeping two words apart. */
function tokens(layout: Layout, parts: readonly string[]): string {
  let out = parts[0] ?? "";
  for (const part of parts.slice(1)) {
    let sep = layout.sep();
    if (sep === "" && /\w$/.test(out) && /^[\w-]/.test(part)) sep = " ";
    out += sep + part;
  }
  return out;
}

function renderSchema(spec: SchemaSpec): string {
  const layout = new Layout(spec.layoutSeed);
  const enumNames = spec.enums.map((_, i) => `Enum${i}`);
  const nodeNames = spec.nodes.map((_, i) => `Node${i}`);
  const edgeNames = spec.edges.map((_, i) => `Edge${i}`);
  const enumValues = spec.enums.map((e) => e.values.map((_, i) => `v${i}`));

  const resolveType = (
    t: TypeSpec,
  ): { text: string[]; kind: Scalar | "enum" | "ref" | "list"; enumIndex?: number } => {
    switch (t.tag) {
      case "scalar":
        return { text: [t.kind], kind: t.kind };
      case "enum": {
        if (enumNames.length === 0) return { text: ["string"], kind: "string" };
        const enumIndex = t.pick % enumNames.length;
        return { text: [enumNames[enumIndex]!], kind: "enum", enumIndex };
      }
      case "ref":
        return { text: ["ref", "<", nodeNames[t.pick % nodeNames.length]!, ">"], kind: "ref" };
      case "list":
        return { text: ["list", "<", ...resolveType(t.element).text, ">"], kind: "list" };
    }
  };

  const options = (opts: readonly string[][]): string[] => {
    if (opts.length === 0) return [];
    const out = ["["];
    opts.forEach((o, i) => {
      out.push(...o);
      if (i < opts.length - 1 || layout.chance(0.2)) out.push(",");
    });
    out.push("]");
    return out;
  };

  const literalString = (value: string): string => {
    let out = '"';
    for (const ch of value) {
      const cp = ch.codePointAt(0)!;
      if (ch === '"') out += '\\"';
      else if (ch === "\\") out += "\\\\";
      else if (ch === "\n") out += "\\n";
      else if (ch === "\t") out += layout.chance(0.5) ? "\\t" : "\\u{9}";
      else if (ch === "\r") out += "\\r";
      else if (cp < 0x20) out += `\\u{${cp.toString(16)}}`;
      else if (layout.chance(0.1)) out += `\\u{${cp.toString(16).toUpperCase()}}`;
      else out += ch;
    }
    return `${out}"`;
  };

  const intText = (value: bigint): string => {
    const digits = (value < 0n ? -value : value).toString();
    const padded = layout.chance(0.1) ? `00${digits}` : digits;
    return value < 0n ? `-${padded}` : padded;
  };

  /** Renders fields; `edge` drops options edges do not allow. Returns member texts and field kinds by name. */
  const fields = (specs: readonly FieldSpec[], edge: boolean) => {
    let id = 0;
    const uniqueable: string[] = [];
    const indexable: string[] = [];
    const members = specs.map((f, i) => {
      id += f.idGap;
      const name = f.keywordName && i < KEYWORD_NAMES.length ? KEYWORD_NAMES[i]! : `f${i}`;
      const type = resolveType(f.type);
      const k = type.kind;
      const opts: string[][] = [];
      if (f.required) opts.push(["required"]);
      const canUnique =
        !edge &&
        (k === "string" || k === "int" || k === "timestamp" || k === "enum" || k === "ref");
      const canIndex = k !== "bytes" && k !== "json" && k !== "list";
      if (canUnique) uniqueable.push(name);
      if (canIndex) indexable.push(name);
      if (f.unique && canUnique) opts.push(["unique"]);
      if (f.index && canIndex) opts.push(["index"]);
      if (f.searchable && !edge && k === "string") opts.push(["searchable"]);
      if (f.deprecated) opts.push(["deprecated"]);
      if (f.withDefault) {
        const value = defaultValue(k, type.enumIndex, f);
        if (value !== undefined) opts.push(["default", "=", value]);
      }
      if (layout.chance(0.3)) opts.reverse();
      return tokens(layout, [
        `${name}`,
        ":",
        ...type.text,
        "=",
        intText(BigInt(id)),
        ...options(opts),
        ";",
      ]);
    });
    return { members, maxId: id, uniqueable, indexable };
  };

  const defaultValue = (
    k: string,
    enumIndex: number | undefined,
    f: FieldSpec,
  ): string | undefined => {
    switch (k) {
      case "string":
        return literalString(f.stringDefault);
      case "int":
        return intText(f.intDefault);
      case "float":
        return ["1.5", "-0.25", "1e9", "2.5E-3", "0.0", "1.50", "-3e-2"][f.defaultSeed % 7]!;
      case "bool":
        return f.defaultSeed % 2 === 0 ? "true" : "false";
      case "timestamp":
        return literalString(
          ["2024-01-01T00:00:00Z", "2023-06-15T12:30:45.123Z"][f.defaultSeed % 2]!,
        );
      case "enum": {
        const values = enumValues[enumIndex ?? 0]!;
        return values[f.defaultSeed % values.length];
      }
      default:
        return undefined;
    }
  };

  const reserved = (r: ReservedSpec, above: number, namePrefix: string): string[] => {
    const out: string[] = [];
    let at = above;
    const ranges: string[] = [];
    for (const range of r.ranges) {
      const first = at + range.gap;
      const last = first + range.width;
      at = last;
      ranges.push(
        range.width === 0 && layout.chance(0.7) ? intText(BigInt(first)) : `${first} to ${last}`,
      );
    }
    if (ranges.length > 0) {
      const parts: string[] = ["reserved"];
      ranges.forEach((range, i) => {
        parts.push(...range.split(" "));
        if (i < ranges.length - 1) parts.push(",");
      });
      out.push(tokens(layout, [...parts, ";"]));
    }
    if (r.names > 0) {
      const parts: string[] = ["reserved"];
      for (let i = 0; i < r.names; i++) {
        parts.push(literalString(`${namePrefix}${i}`));
        if (i < r.names - 1) parts.push(",");
      }
      out.push(tokens(layout, [...parts, ";"]));
    }
    return out;
  };

  /** A member or declaration with its leading comments, doc, and trailing comment. */
  const item = (text: string, doc: readonly string[]): string => {
    const lead = layout.leading();
    const docText = doc.length > 0 ? layout.doc(doc) : "";
    // Comments and docs start on a line of their own.
    const pre = lead + docText;
    return (pre === "" ? "" : `\n${pre}`) + text + layout.trailing();
  };

  const bodyWithDocs = (members: readonly { text: string; doc: readonly string[] }[]): string => {
    let out = "{";
    for (const m of members) out += layout.gap() + item(m.text, m.doc);
    if (layout.chance(0.3)) out += `\n${layout.leading()}${layout.lineComment()}\n`;
    return `${out + layout.gap()}}`;
  };

  const decls: { text: string; doc: readonly string[] }[] = [];
  spec.enums.forEach((e, ei) => {
    let number = 0;
    const members: { text: string; doc: readonly string[] }[] = e.values.map((v, i) => {
      number += v.gap;
      return {
        text: tokens(layout, [
          `v${i}`,
          "=",
          intText(BigInt(number)),
          ...options(v.deprecated ? [["deprecated"]] : []),
          ";",
        ]),
        doc: v.doc,
      };
    });
    if (e.reserved) {
      for (const text of reserved(e.reserved, number, "gone_")) members.push({ text, doc: [] });
    }
    decls.push({
      text: `${tokens(layout, ["enum", enumNames[ei]!])} ${bodyWithDocs(members)}`,
      doc: e.doc,
    });
  });
  spec.nodes.forEach((n, ni) => {
    const f = fields(n.fields, false);
    const members = f.members.map((text, i) => ({ text, doc: n.fields[i]!.doc }));
    if (n.uniqueComposite && f.uniqueable.length >= 2) {
      members.push({
        text: tokens(layout, ["unique", "(", f.uniqueable[0]!, ",", f.uniqueable[1]!, ")", ";"]),
        doc: [],
      });
    }
    if (n.indexComposite && f.indexable.length >= 2) {
      const names = f.indexable.slice(0, 3).flatMap((name, i) => (i === 0 ? [name] : [",", name]));
      members.push({ text: tokens(layout, ["index", "(", ...names, ")", ";"]), doc: [] });
    }
    if (n.reserved) {
      for (const text of reserved(n.reserved, f.maxId, "old_")) members.push({ text, doc: [] });
    }
    const opts: string[][] = [];
    if (n.visibility !== "none") opts.push(["visibility", "=", n.visibility]);
    if (n.deprecated) opts.push(["deprecated"]);
    const head = tokens(layout, [
      "node",
      nodeNames[ni]!,
      "=",
      intText(BigInt(ni + 1)),
      ...options(opts),
    ]);
    decls.push({ text: `${head} ${bodyWithDocs(members)}`, doc: n.doc });
  });
  spec.edges.forEach((e, ei) => {
    const opts: string[][] = [];
    if (e.uniquePerFrom) opts.push(["unique_per_from"]);
    if (e.inverse) opts.push(["inverse", "=", `inv_${ei}`]);
    if (e.deprecated) opts.push(["deprecated"]);
    const from = nodeNames[e.from % nodeNames.length]!;
    const to = nodeNames[e.to % nodeNames.length]!;
    const head = tokens(layout, [
      "edge",
      edgeNames[ei]!,
      "=",
      intText(BigInt(100 + ei)),
      "from",
      from,
      "to",
      to,
      ...options(opts),
    ]);
    let text: string;
    if (e.body === "none") text = `${head}${layout.chance(0.5) ? "" : " "};`;
    else if (e.body === "empty") text = `${head} {${layout.pick(["", " ", "\n"])}}`;
    else {
      const members = fields(e.fields, true).members.map((m, i) => ({
        text: m,
        doc: e.fields[i]!.doc,
      }));
      text = `${head} ${bodyWithDocs(members)}`;
    }
    decls.push({ text, doc: e.doc });
  });
  if (spec.reserved) {
    const texts = reserved(spec.reserved, 200, "Old");
    decls.push({ text: texts.length > 0 ? texts.join(layout.gap()) : "", doc: [] });
  }

  let out =
    layout.leading() +
    tokens(layout, [
      "package",
      ...spec.packageParts.flatMap((p, i) => (i === 0 ? [p] : [".", p])),
      ";",
    ]);
  out += layout.trailing();
  for (const index of spec.order) {
    const decl = decls[index]!;
    if (decl.text === "") continue;
    out += layout.gap() + item(decl.text, decl.doc);
  }
  if (layout.chance(0.3)) out += `\n${layout.leading()}${layout.lineComment()}`;
  return out + layout.pick(["", "\n", "\n\n\n", "  "]);
}
