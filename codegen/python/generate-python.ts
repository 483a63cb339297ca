/**
 * Model → a typed Python package (`entdb generate --python OUT`): `<pkg>/__init__.py`
 * with an IntEnum per enum, a NewType id per node type, frozen dataclasses for nodes,
 * edges and their inputs, the schema metadata, and the sync and asyncio clients over
 * `entdb_runtime`; `<pkg>/_proto.py` with the schema's descriptor and message classes
 * built from it. Like every generator it only returns files; the writer writes them.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type {
  EdgeType,
  ElementType,
  Field,
  FieldType,
  NodeType,
  Schema,
} from "../../schema/index.ts";
import { uniqueKeys } from "../client/client-names.ts";
import { buildFileDescriptors } from "../proto/build-descriptor.ts";
import { pyBase64, pyString } from "./python-literals.ts";
import {
  attributeName,
  checkPythonNames,
  enumMemberName,
  pythonEdgeNames,
  pythonNodeNames,
  pythonPackageName,
  snakeCase,
} from "./python-names.ts";

/** One file of the package, its path relative to the out dir. */
export interface PythonFile {
  readonly path: string;
  readonly content: string;
}

/** The files of the Python package for `schema`. Throws `CodegenError` on name clashes. */
export function generatePython(schema: Schema): PythonFile[] {
  checkPythonNames(schema);
  const pkg = pythonPackageName(schema.package);
  return [
    { path: `${pkg}/__init__.py`, content: printClientModule(schema) },
    { path: `${pkg}/_proto.py`, content: printProtoModule(schema) },
  ];
}

function doc(text: string | undefined, indent: string): string[] {
  if (text === undefined || text === "") return [];
  const body = text.replaceAll("\\", "\\\\").replaceAll('"""', '\\"\\"\\"');
  const lines = body.split("\n");
  if (lines.length === 1) return [`${indent}"""${body}"""`];
  return [
    `${indent}"""${lines[0]}`,
    ...lines.slice(1).map((l) => (l === "" ? "" : `${indent}${l}`)),
    `${indent}"""`,
  ];
}

function nodeName(schema: Schema, id: number): string {
  const node = schema.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no node type with id ${id}`);
  return node.name;
}

/** The Python type of one value of `type` as read. */
function elementType(schema: Schema, type: ElementType): string {
  switch (type.kind) {
    case "string":
      return "str";
    case "int":
      return "int";
    case "float":
      return "float";
    case "bool":
      return "bool";
    case "timestamp":
      return "_datetime";
    case "bytes":
      return "bytes";
    case "json":
      return "_rt.JsonValue";
    case "enum":
      return type.enumName;
    case "ref":
      return pythonNodeNames(nodeName(schema, type.targetId)).id;
  }
}

/** The Python type of a field as read. */
function readType(schema: Schema, type: FieldType): string {
  return type.kind === "list"
    ? `list[${elementType(schema, type.element)}]`
    : elementType(schema, type);
}

/** The Python type a field takes as input: refs also take nodes and handles. */
function inputType(schema: Schema, type: FieldType): string {
  const element = type.kind === "list" ? type.element : type;
  let one = elementType(schema, element);
  if (element.kind === "ref") one = `${one} | _rt.HasId[${one}]`;
  if (element.kind === "float") one = "float";
  return type.kind === "list" ? `_Sequence[${one}]` : one;
}

function whereType(schema: Schema, field: Field): string | undefined {
  const t = field.type;
  if (t.kind === "list") {
    if (t.element.kind === "bytes" || t.element.kind === "json") return undefined;
    return `_rt.Has[${elementType(schema, t.element)}]`;
  }
  const py = elementType(schema, t);
  switch (t.kind) {
    case "string":
      return `str | _rt.Text`;
    case "int":
    case "float":
    case "timestamp":
      return `${py} | _rt.Range[${py}]`;
    case "bool":
    case "enum":
    case "ref":
      return `${py} | _rt.Filter[${py}]`;
    default:
      return undefined;
  }
}

function orderable(field: Field): boolean {
  return field.type.kind !== "list" && field.type.kind !== "bytes" && field.type.kind !== "json";
}

function fieldMeta(schema: Schema, field: Field): string {
  const t = field.type;
  const element = t.kind === "list" ? t.element : t;
  const args = [String(field.id), pyString(attributeName(field.name)), pyString(element.kind)];
  if (t.kind === "list") args.push("is_list=True");
  if (field.required) args.push("required=True");
  if (field.default !== undefined) args.push("has_default=True");
  if (element.kind === "enum") args.push(`enum=${element.enumName}`);
  if (element.kind === "ref") args.push(`target=${element.targetId}`);
  void schema;
  return `_rt.FieldMeta(${args.join(", ")})`;
}

function literal(names: readonly string[]): string {
  return names.length === 0 ? "_Never" : `_Literal[${names.map(pyString).join(", ")}]`;
}

function printEnum(schema: Schema, lines: string[]): void {
  for (const e of schema.enums) {
    lines.push("", "", `class ${e.name}(_enum.IntEnum):`);
    lines.push(...doc(e.doc ?? `The values of enum ${e.name}.`, "    "));
    lines.push("");
    for (const v of e.values) {
      lines.push(`    ${enumMemberName(v.name)} = ${v.number}`);
      const notes = [v.doc, v.deprecated ? "Deprecated." : undefined].filter(
        (x) => x !== undefined,
      );
      if (notes.length > 0) lines.push(...doc(notes.join("\n\n"), "    "));
    }
  }
}

function fieldDoc(field: Field): string[] {
  const notes = [field.doc, field.deprecated ? "Deprecated." : undefined].filter(
    (x) => x !== undefined,
  );
  return notes.length === 0 ? [] : doc(notes.join("\n\n"), "    ");
}

function printNode(schema: Schema, node: NodeType, lines: string[]): void {
  const n = pythonNodeNames(node.name);
  const dc = "@_dc.dataclass(frozen=True, kw_only=True)";
  lines.push("", "", dc, `class ${n.node}:`);
  lines.push(...doc(node.doc ?? `A stored ${node.name}.`, "    "));
  lines.push(
    "",
    `    id: ${n.id}`,
    "    version: int",
    "    created_at: _datetime",
    "    updated_at: _datetime",
  );
  for (const f of node.fields) {
    const t = readType(schema, f.type);
    lines.push(`    ${attributeName(f.name)}: ${f.required ? t : `${t} | None`}`);
    lines.push(...fieldDoc(f));
  }

  lines.push("", "", dc, `class ${n.create}:`);
  lines.push(
    ...doc(
      `What \`${snakeCase(node.name)}.create\` takes; fields left None get their defaults.`,
      "    ",
    ),
  );
  lines.push("");
  const required = node.fields.filter((f) => f.required && f.default === undefined);
  const optional = node.fields.filter((f) => !(f.required && f.default === undefined));
  for (const f of required)
    lines.push(`    ${attributeName(f.name)}: ${inputType(schema, f.type)}`);
  for (const f of optional)
    lines.push(`    ${attributeName(f.name)}: ${inputType(schema, f.type)} | None = None`);

  lines.push("", "", dc, `class ${n.patch}:`);
  lines.push(
    ...doc(
      "What `update` takes: attributes left UNSET stay as they are; None clears a field that is not required.",
      "    ",
    ),
  );
  lines.push("");
  for (const f of node.fields) {
    const t = inputType(schema, f.type);
    lines.push(
      `    ${attributeName(f.name)}: ${f.required ? t : `${t} | None`} | _rt.Unset = _rt.UNSET`,
    );
  }
  if (node.fields.length === 0) lines.push("    pass");

  lines.push("", "", dc, `class ${n.where}:`);
  lines.push(...doc("Query conditions; all given must hold. A bare value means equality.", "    "));
  lines.push("");
  let conditions = 0;
  for (const f of node.fields) {
    const t = whereType(schema, f);
    if (t === undefined) continue;
    conditions += 1;
    lines.push(`    ${attributeName(f.name)}: ${t} | None = None`);
  }
  if (conditions === 0) lines.push("    pass");

  const orderFields = ["id", ...node.fields.filter(orderable).map((f) => attributeName(f.name))];
  lines.push("", "", `${n.orderField} = ${literal(orderFields)}`);
  lines.push(`"""The fields that can order a query of ${node.name}s."""`);
  const keyFields = [
    ...new Set(
      uniqueKeys(node)
        .flat()
        .map((f) => attributeName(f.name)),
    ),
  ];
  lines.push("", `${n.keyName} = ${literal(keyFields)}`);
  lines.push(`"""The fields of ${node.name}'s unique keys, what \`if_absent_on\` names."""`);
}

function printEdge(schema: Schema, edge: EdgeType, lines: string[]): void {
  const e = pythonEdgeNames(edge.name);
  const from = pythonNodeNames(nodeName(schema, edge.fromId)).id;
  const to = pythonNodeNames(nodeName(schema, edge.toId)).id;
  const dc = "@_dc.dataclass(frozen=True, kw_only=True)";
  lines.push("", "", dc, `class ${e.edge}:`);
  lines.push(...doc(edge.doc ?? `A stored ${edge.name} edge.`, "    "));
  lines.push("", `    from_id: ${from}`, `    to_id: ${to}`, "    created_at: _datetime");
  for (const f of edge.fields) {
    const t = readType(schema, f.type);
    lines.push(`    ${attributeName(f.name)}: ${f.required ? t : `${t} | None`}`);
    lines.push(...fieldDoc(f));
  }
  lines.push("", "", dc, `class ${e.props}:`);
  lines.push(...doc(`The properties \`${snakeCase(edge.name)}.link\` takes.`, "    "));
  lines.push("");
  const required = edge.fields.filter((f) => f.required && f.default === undefined);
  const optional = edge.fields.filter((f) => !(f.required && f.default === undefined));
  for (const f of required)
    lines.push(`    ${attributeName(f.name)}: ${inputType(schema, f.type)}`);
  for (const f of optional)
    lines.push(`    ${attributeName(f.name)}: ${inputType(schema, f.type)} | None = None`);
  if (edge.fields.length === 0) lines.push("    pass");
}

/** `_task(row) -> Task`: builds the class from a decoded row; the casts restate what the
 * runtime decoded by field kind, so no Any reaches the class. */
function printFactories(schema: Schema, lines: string[]): void {
  for (const node of schema.nodes) {
    const n = pythonNodeNames(node.name);
    lines.push(
      "",
      "",
      `def ${n.meta.toLowerCase()}(r: _rt.Row) -> ${n.node}:`,
      `    return ${n.node}(`,
    );
    lines.push(
      `        id=${n.id}(r.id),`,
      "        version=r.version,",
      "        created_at=r.created_at,",
      "        updated_at=r.updated_at,",
    );
    for (const f of node.fields) {
      const t = readType(schema, f.type);
      const a = attributeName(f.name);
      lines.push(
        `        ${a}=_cast(${pyString(f.required ? t : `${t} | None`)}, r.values[${pyString(a)}]),`,
      );
    }
    lines.push("    )");
  }
  for (const edge of schema.edges) {
    const e = pythonEdgeNames(edge.name);
    const from = pythonNodeNames(nodeName(schema, edge.fromId)).id;
    const to = pythonNodeNames(nodeName(schema, edge.toId)).id;
    lines.push(
      "",
      "",
      `def ${e.meta.toLowerCase()}(r: _rt.EdgeRow) -> ${e.edge}:`,
      `    return ${e.edge}(`,
    );
    lines.push(
      `        from_id=${from}(r.from_id),`,
      `        to_id=${to}(r.to_id),`,
      "        created_at=r.created_at,",
    );
    for (const f of edge.fields) {
      const t = readType(schema, f.type);
      const a = attributeName(f.name);
      lines.push(
        `        ${a}=_cast(${pyString(f.required ? t : `${t} | None`)}, r.values[${pyString(a)}]),`,
      );
    }
    lines.push("    )");
  }
}

function printMeta(schema: Schema, lines: string[]): void {
  lines.push("");
  for (const node of schema.nodes) {
    const uniques = uniqueKeys(node).map(
      (key) => `(${key.map((f) => `${pyString(attributeName(f.name))}, `).join("")})`,
    );
    lines.push(
      "",
      `${pythonNodeNames(node.name).meta} = _rt.TypeMeta(`,
      `    ${node.id},`,
      `    ${pyString(node.name)},`,
      `    (${node.fields.map((f) => `\n        ${fieldMeta(schema, f)},`).join("")}${node.fields.length ? "\n    " : ""}),`,
      `    uniques=(${uniques.map((u) => `${u}, `).join("")}),`,
      ")",
    );
  }
  for (const edge of schema.edges) {
    lines.push(
      "",
      `${pythonEdgeNames(edge.name).meta} = _rt.TypeMeta(`,
      `    ${edge.id},`,
      `    ${pyString(edge.name)},`,
      `    (${edge.fields.map((f) => `\n        ${fieldMeta(schema, f)},`).join("")}${edge.fields.length ? "\n    " : ""}),`,
      `    from_type=${edge.fromId},`,
      `    to_type=${edge.toId},`,
      ")",
    );
  }
  const all = [
    ...schema.nodes.map((n) => pythonNodeNames(n.name).meta),
    ...schema.edges.map((e) => pythonEdgeNames(e.name).meta),
  ];
  lines.push("", `SCHEMA = _rt.SchemaMeta.of(${pyString(schema.package)}, [${all.join(", ")}])`);
  lines.push('"""The schema as the runtime sees it: type and field ids, kinds and names."""');
}

/** `AnyNode`, `SearchableType` and the tables the cross-type reads decode with. */
function printNodeTypes(schema: Schema, lines: string[]): void {
  const nodes = schema.nodes.map((n) => pythonNodeNames(n.name).node);
  lines.push(
    "",
    "",
    `AnyNode = ${nodes.length === 0 ? "_Never" : nodes.join(" | ")}`,
    '"""A node of any type of the schema: what `traverse` returns, and (with `entdb_runtime.UnknownNode` for a type of a newer schema) the node of a hit across types or of a mailbox item."""',
  );
  const searchable = schema.nodes
    .filter((n) => n.fields.some((f) => f.searchable))
    .map((n) => snakeCase(n.name));
  lines.push(
    "",
    `NodeTypeName = ${literal(schema.nodes.map((n) => snakeCase(n.name)))}`,
    '"""The accessor names of the node types, what `db.mailbox.list(types=...)` takes."""',
    "",
    `SearchableType = ${literal(searchable)}`,
    '"""The accessor names of the node types with searchable fields, what `db.search(types=...)` takes."""',
    "",
    `_SEARCHABLE: tuple[SearchableType, ...] = (${searchable.map((n) => `${pyString(n)}, `).join("")})`,
    `_NODE_TYPES: _rt.NodeTypes[AnyNode] = {${schema.nodes
      .map((node) => {
        const n = pythonNodeNames(node.name);
        return `\n    ${node.id}: (${pyString(snakeCase(node.name))}, ${n.meta}, ${n.meta.toLowerCase()}),`;
      })
      .join("")}\n}`,
    `_EDGE_NAMES: dict[int, str] = {${schema.edges.map((e) => `${e.id}: ${pyString(snakeCase(e.name))}`).join(", ")}}`,
  );
}

function accessorParams(schema: Schema, node: NodeType): string {
  const n = pythonNodeNames(node.name);
  void schema;
  return `${n.node}, ${n.id}, ${n.create}, ${n.patch}, ${n.where}, ${n.orderField}, ${n.keyName}`;
}

function printAccessors(schema: Schema, lines: string[]): void {
  for (const node of schema.nodes) {
    const n = pythonNodeNames(node.name);
    const searchable = node.fields.some((f) => f.searchable);
    for (const sync of [true, false]) {
      const kind = searchable ? "SearchableNodeAccessor" : "NodeAccessor";
      const base = sync ? `_rt.${kind}` : `_rt.Async${kind}`;
      const name = sync ? n.accessor : n.asyncAccessor;
      lines.push("", "", `class ${name}(${base}[${accessorParams(schema, node)}]):`);
      lines.push(
        `    """The ${node.name} operations of ${sync ? "a Client" : "an AsyncClient"}."""`,
      );
      for (const edge of schema.edges) {
        if (edge.toId !== node.id || edge.inverseName === undefined) continue;
        const e = pythonEdgeNames(edge.name);
        const accessor = sync ? "_rt.EdgeAccessor" : "_rt.AsyncEdgeAccessor";
        lines.push(
          "",
          `    ${sync ? "def" : "async def"} ${snakeCase(edge.inverseName)}(`,
          "        self,",
          `        node: ${n.id} | _rt.HasId[${n.id}],`,
          "        *,",
          "        limit: int = 0,",
          "        after: str | None = None,",
          "        with_count: bool = False,",
          "        read_your_writes: bool | None = None,",
          `    ) -> _rt.Page[${e.edge}]:`,
          `        """One page of the ${edge.name} edges to a ${node.name}; the same as \`db.${snakeCase(edge.name)}.inverse\`."""`,
          `        edges: ${accessor}[${e.edge}, ${edgeParams(schema, edge)}] = ${accessor}(self._core, ${e.meta}, ${e.meta.toLowerCase()})`,
          `        return ${sync ? "" : "await "}edges.inverse(node, limit=limit, after=after, with_count=with_count, read_your_writes=read_your_writes)`,
        );
      }
      for (const key of uniqueKeys(node)) {
        const method = `get_by_${key.map((f) => f.name).join("_")}`;
        const params = key
          .map((f) => `${attributeName(f.name)}: ${inputType(schema, f.type)}`)
          .join(", ");
        const dict = key
          .map((f) => `${pyString(attributeName(f.name))}: ${attributeName(f.name)}`)
          .join(", ");
        lines.push(
          "",
          `    ${sync ? "def" : "async def"} ${method}(self, ${params}, *, read_your_writes: bool | None = None) -> ${n.node} | None:`,
          `        """The ${node.name} with this ${key.map((f) => f.name).join(" and ")}, or None."""`,
          `        return ${sync ? "" : "await "}self._get_by({${dict}}, read_your_writes)`,
        );
      }
    }
  }
}

function edgeParams(schema: Schema, edge: EdgeType): string {
  const e = pythonEdgeNames(edge.name);
  const from = pythonNodeNames(nodeName(schema, edge.fromId)).id;
  const to = pythonNodeNames(nodeName(schema, edge.toId)).id;
  return `${from}, ${to}, ${edge.fields.length === 0 ? "None" : e.props}`;
}

function printPlanAndClients(schema: Schema, lines: string[]): void {
  lines.push("", "", "class Plan(_rt.PlanBase):");
  lines.push(
    '    """The steps of one atomic plan, by type: `plan.task.create(...)` returns a handle."""',
  );
  lines.push(
    "",
    "    def __init__(self, builder: _rt.PlanBuilder) -> None:",
    "        super().__init__(builder)",
  );
  for (const node of schema.nodes) {
    const n = pythonNodeNames(node.name);
    lines.push(
      `        self.${snakeCase(node.name)}: _rt.PlanNodes[${n.id}, ${n.create}, ${n.patch}, ${n.keyName}] = _rt.PlanNodes(builder, ${n.meta})`,
    );
  }
  for (const edge of schema.edges) {
    lines.push(
      `        self.${snakeCase(edge.name)}: _rt.PlanEdges[${edgeParams(schema, edge)}] = _rt.PlanEdges(builder, ${pythonEdgeNames(edge.name).meta})`,
    );
  }
  for (const sync of [true, false]) {
    const cls = sync ? "Client" : "AsyncClient";
    const core = sync ? "_rt.ClientCore" : "_rt.AsyncClientCore";
    const reads = sync ? "_rt.ClientReads" : "_rt.AsyncClientReads";
    lines.push("", "", `class ${cls}(${reads}[AnyNode, SearchableType]):`);
    lines.push(
      `    """The ${sync ? "synchronous" : "asyncio"} typed client of one tenant of ${schema.package}. Close it, or use \`${sync ? "with" : "async with"}\`."""`,
    );
    lines.push(
      "",
      "    def __init__(",
      "        self,",
      "        transport: _rt.Transport,",
      "        tenant: str,",
      "        *,",
      "        token: _rt.TokenSource | None = None,",
      "        read_your_writes: bool = True,",
      "        retry: _rt.RetryPolicy | bool = True,",
      "        positions: _rt.PositionTracker | None = None,",
      "    ) -> None:",
      `        self.core = ${core}(`,
      "            transport,",
      "            tenant,",
      "            token=token,",
      "            schema=SCHEMA,",
      "            read_your_writes=read_your_writes,",
      "            retry=retry,",
      "            positions=positions,",
      "        )",
    );
    lines.push("        super().__init__(self.core, _NODE_TYPES, _SEARCHABLE)");
    for (const node of schema.nodes) {
      const n = pythonNodeNames(node.name);
      const name = node.fields.some((f) => f.searchable)
        ? `, ${pyString(snakeCase(node.name))}`
        : "";
      lines.push(
        `        self.${snakeCase(node.name)} = ${sync ? n.accessor : n.asyncAccessor}(self.core, ${n.meta}, ${n.meta.toLowerCase()}${name})`,
      );
    }
    for (const edge of schema.edges) {
      const e = pythonEdgeNames(edge.name);
      const base = sync ? "_rt.EdgeAccessor" : "_rt.AsyncEdgeAccessor";
      lines.push(
        `        self.${snakeCase(edge.name)}: ${base}[${e.edge}, ${edgeParams(schema, edge)}] = ${base}(self.core, ${e.meta}, ${e.meta.toLowerCase()})`,
      );
    }
    const mailbox = sync ? "_rt.Mailbox" : "_rt.AsyncMailbox";
    lines.push(
      `        self.mailbox: ${mailbox}[AnyNode, NodeTypeName, SearchableType] = ${mailbox}(self.core, _NODE_TYPES, _EDGE_NAMES, _SEARCHABLE)`,
      '        """The caller\'s own mailbox (docs/mailbox.md)."""',
    );
    const scope = sync ? "_rt.PlanScope" : "_rt.AsyncPlanScope";
    lines.push(
      "",
      `    def plan(self, *, idempotency_key: str | None = None, no_wait: bool = False) -> ${scope}[Plan]:`,
      `        """\`${sync ? "with" : "async with"} db.plan() as plan:\` collects the steps of the block into one atomic plan,`,
      "        committed when the block ends without an exception. Pass your own idempotency key",
      '        to make a retry safe across restarts."""',
      "        builder = _rt.PlanBuilder()",
      `        return ${scope}(self.core, Plan(builder), builder, idempotency_key, no_wait)`,
    );
    if (sync) {
      lines.push(
        "",
        "    def close(self) -> None:",
        "        self.core.close()",
        "",
        "    def __enter__(self) -> _Self:",
        "        return self",
        "",
        "    def __exit__(self, *exc: object) -> None:",
        "        self.close()",
      );
    } else {
      lines.push(
        "",
        "    async def aclose(self) -> None:",
        "        await self.core.close()",
        "",
        "    async def __aenter__(self) -> _Self:",
        "        return self",
        "",
        "    async def __aexit__(self, *exc: object) -> None:",
        "        await self.aclose()",
      );
    }
  }
}

function printClientModule(schema: Schema): string {
  const lines: string[] = [
    `"""The typed EntDB client of schema package ${schema.package}.`,
    "",
    "Generated from the schema; see docs/python.md in the EntDB repository.",
    '"""',
    "",
    "from __future__ import annotations",
  ];
  const header = lines.length;
  printEnum(schema, lines);
  lines.push("");
  for (const node of schema.nodes) {
    const n = pythonNodeNames(node.name);
    lines.push(
      "",
      `${n.id} = _NewType(${pyString(n.id)}, str)`,
      `"""The id of a node of type ${node.name}."""`,
    );
  }
  for (const node of schema.nodes) printNode(schema, node, lines);
  for (const edge of schema.edges) printEdge(schema, edge, lines);
  printMeta(schema, lines);
  printFactories(schema, lines);
  printNodeTypes(schema, lines);
  printAccessors(schema, lines);
  printPlanAndClients(schema, lines);
  const exported = [
    "AnyNode",
    "AsyncClient",
    "Client",
    "NodeTypeName",
    "Plan",
    "SCHEMA",
    "SearchableType",
    ...schema.enums.map((e) => e.name),
    ...schema.nodes.flatMap((node) => {
      const n = pythonNodeNames(node.name);
      return [
        n.node,
        n.id,
        n.create,
        n.patch,
        n.where,
        n.orderField,
        n.keyName,
        n.accessor,
        n.asyncAccessor,
      ];
    }),
    ...schema.edges.flatMap((edge) =>
      Object.values(pythonEdgeNames(edge.name)).filter((x) => !x.startsWith("_")),
    ),
  ].sort();
  lines.push("", "", `__all__ = [${exported.map((n) => `\n    ${pyString(n)},`).join("")}\n]`);
  const body = lines.slice(header).join("\n");
  // Only the imports the module uses: a strict checker flags an unused one (a schema
  // without enums has no `_enum.IntEnum`, one without lists no `_Sequence`).
  const imports = MODULE_IMPORTS.filter(([, alias]) =>
    new RegExp(`(?<!\\w)${alias}(?!\\w)`).test(body),
  );
  const group = (third: boolean) =>
    imports.filter(([, , thirdParty]) => thirdParty === third).map(([line]) => line);
  return `${[...lines.slice(0, header), "", ...group(false), "", ...group(true), body].join("\n")}\n`;
}

/** The module's imports: the line, the alias it binds, and whether it is a third-party package. */
const MODULE_IMPORTS: readonly (readonly [string, string, boolean])[] = [
  ["import dataclasses as _dc", "_dc", false],
  ["import enum as _enum", "_enum", false],
  ["from collections.abc import Sequence as _Sequence", "_Sequence", false],
  ["from datetime import datetime as _datetime", "_datetime", false],
  ["from typing import Literal as _Literal", "_Literal", false],
  ["from typing import NewType as _NewType", "_NewType", false],
  ["from typing import cast as _cast", "_cast", false],
  ["import entdb_runtime as _rt", "_rt", true],
  ["from typing_extensions import Never as _Never", "_Never", true],
  ["from typing_extensions import Self as _Self", "_Self", true],
];

function printProtoModule(schema: Schema): string {
  // One file per node and edge type plus the shared one, dependencies first (the order of
  // buildFileDescriptors), so each is added to the pool after the files it imports.
  const files = buildFileDescriptors(schema).map((file) =>
    create(FileDescriptorProtoSchema, { ...file, sourceCodeInfo: undefined }),
  );
  const messages = [...schema.nodes.map((n) => n.name), ...schema.edges.map((e) => e.name)];
  const embedded = files
    .map(
      (file) =>
        `    # ${file.name}\n    base64.b64decode(\n        ${pyBase64(toBinary(FileDescriptorProtoSchema, file), "        ").trimStart()}\n    ),`,
    )
    .join("\n");
  return `"""The protobuf messages of ${schema.package}'s .proto files (one per node and edge type), built
from their descriptors embedded below: no protoc and no _pb2 modules are needed."""

from __future__ import annotations

import base64

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.message import Message

FILE_DESCRIPTORS: tuple[bytes, ...] = (
${embedded}
)
"""The serialized FileDescriptorProtos of the schema's .proto files, each after the files it imports."""

PACKAGE = ${pyString(schema.package)}

_POOL = descriptor_pool.Default()
# The files the schema's .proto files import: importing their modules adds them to the pool.
_IMPORTS = (timestamp_pb2.DESCRIPTOR.name, struct_pb2.DESCRIPTOR.name)


def _load() -> None:
    for serialized in FILE_DESCRIPTORS:
        file = descriptor_pb2.FileDescriptorProto.FromString(serialized)
        try:
            _POOL.FindFileByName(file.name)
        except KeyError:
            _POOL.Add(file)


_load()


def message_class(name: str) -> type[Message]:
    """The class of message \`name\` of the schema's package, e.g. \`Task\` or \`TaskNode\`."""
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


MESSAGES: dict[str, type[Message]] = {name: message_class(name) for name in [${messages.map(pyString).join(", ")}]}
"""The message of each node and edge type, by type name."""
`;
}
