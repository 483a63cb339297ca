/**
 * The protobuf-es printer (`codegen/proto/print-es.ts`) against protoc-gen-es itself
 * (`protoc-gen-es-oracle.ts`): the same bytes for the example schema, the generate
 * benchmark's 500-type schema, the kitchen-sink fixture, random valid schemas, and random
 * descriptors with what our schemas rarely have (reserved words, names that clash with
 * imports, oneofs, nested types, every scalar, deprecations, trailing comments, `*\/` in
 * comments, streaming rpcs with options, Struct and Timestamp fields), under every option.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  DescriptorProtoSchema,
  EnumDescriptorProtoSchema,
  EnumValueDescriptorProtoSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptions_JSType,
  FieldOptionsSchema,
  FileDescriptorProtoSchema,
  FileOptionsSchema,
  MessageOptionsSchema,
  MethodDescriptorProtoSchema,
  MethodOptions_IdempotencyLevel,
  MethodOptionsSchema,
  OneofDescriptorProtoSchema,
  ServiceDescriptorProtoSchema,
  ServiceOptionsSchema,
  SourceCodeInfo_LocationSchema,
  SourceCodeInfoSchema,
} from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildFileDescriptors } from "../../codegen/proto/build-descriptor.ts";
import { type GenerateEsOptions, generateEs } from "../../codegen/proto/generate-es.ts";
import { compileSchema } from "../../schema/compile.ts";
import { generateSchemaPair } from "../bench/check-bench.ts";
import { validSchemaSource } from "../schema/fmt/valid-schema-arbitrary.ts";
import { kitchenSinkSchema } from "./fixture-schemas.ts";
import { protocGenEsFiles } from "./protoc-gen-es-oracle.ts";
import { REPO_ROOT } from "./repo-temp-dir.ts";

const OPTIONS: readonly GenerateEsOptions[] = [
  {},
  { jsonTypes: true },
  { importExtension: "none" },
  { importExtension: "none", jsonTypes: true },
];

function descriptorsOf(text: string): FileDescriptorProto[] {
  const { schema, diagnostics } = compileSchema({ path: "schema.entdb", text });
  if (schema === undefined) throw new Error(JSON.stringify(diagnostics));
  return buildFileDescriptors(schema);
}

/** Asserts the printer and protoc-gen-es give the same files, naming the first that differs. */
function expectSameAsOracle(
  descriptors: readonly FileDescriptorProto[],
  options: GenerateEsOptions = {},
): void {
  const printed = generateEs(descriptors, options).map((f) => ({
    path: f.path,
    content: f.content,
  }));
  const oracle = protocGenEsFiles(descriptors, options);
  expect(printed.map((f) => f.path)).toEqual(oracle.map((f) => f.path));
  for (const [i, file] of printed.entries()) {
    expect({ path: file.path, content: file.content }).toEqual(oracle[i]);
  }
}

describe("the protobuf-es printer, against protoc-gen-es", () => {
  it("prints the example schema's files byte for byte, under every option", () => {
    const descriptors = descriptorsOf(
      readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8"),
    );
    for (const options of OPTIONS) expectSameAsOracle(descriptors, options);
  });

  it("prints the 500-type benchmark schema byte for byte", () => {
    expectSameAsOracle(descriptorsOf(generateSchemaPair().old));
  }, 120_000);

  it("prints the kitchen-sink schema byte for byte, under every option", () => {
    const descriptors = buildFileDescriptors(kitchenSinkSchema());
    for (const options of OPTIONS) expectSameAsOracle(descriptors, options);
  });

  it("prints random valid schemas byte for byte", () => {
    fc.assert(
      fc.property(validSchemaSource(), fc.constantFrom(...OPTIONS), (text, options) => {
        expectSameAsOracle(descriptorsOf(text), options);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it("prints random descriptors with names, shapes and options our schemas rarely have", () => {
    fc.assert(
      fc.property(descriptorPairArb, fc.constantFrom(...OPTIONS), (files, options) => {
        expectSameAsOracle(files, options);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});

describe("the protobuf-es printer", () => {
  it("refuses map fields, which it does not print, naming the file", () => {
    const file = create(FileDescriptorProtoSchema, {
      name: "x/m.proto",
      package: "x",
      syntax: "proto3",
      messageType: [
        create(DescriptorProtoSchema, {
          name: "M",
          nestedType: [
            create(DescriptorProtoSchema, {
              name: "TagsEntry",
              options: create(MessageOptionsSchema, { mapEntry: true }),
            }),
          ],
        }),
      ],
    });
    expect(() => generateEs([file])).toThrow(
      "Cannot print TypeScript for 'x/m.proto': it has map fields, which the protobuf-es printer does not support.",
    );
  });

  it("refuses an import that is neither a sibling before it nor a well-known type", () => {
    const file = create(FileDescriptorProtoSchema, {
      name: "x/a.proto",
      package: "x",
      syntax: "proto3",
      dependency: ["x/b.proto"],
    });
    expect(() => generateEs([file])).toThrow(
      "Cannot generate TypeScript for 'x/a.proto': it imports 'x/b.proto', which is neither a well-known type nor a file generated before it.",
    );
  });
});

// --- random descriptors -----------------------------------------------------------

/**
 * Names that stress the naming rules: reserved words and runtime names (which get a
 * `$`), names of imported symbols (`Message`, `Timestamp`, `GenFile`: imported under
 * an alias), and names whose derived forms clash (`Foo` and `FooSchema`).
 */
const TYPE_NAMES = [
  "Task",
  "Object",
  "Message",
  "Timestamp",
  "GenFile",
  "JsonObject",
  "Foo",
  "FooSchema",
  "FooJson",
  "Partial",
  "Uint8Array",
  "TaskStatus",
];
const FIELD_NAMES = [
  "title",
  "constructor",
  "to_string",
  "value_of",
  "toJSON",
  "created_at",
  "a_1b",
  "case",
  "class",
  "x__y",
  "_lead",
];
const DOCS = [
  undefined,
  " One line.\n",
  " Two\n lines.\n",
  " Ends with a blank line.\n\n",
  " Has */ in it.\n",
  "No leading space.\n",
  " @deprecated in the text\n",
  "",
];

const SCALARS = [
  FieldDescriptorProto_Type.DOUBLE,
  FieldDescriptorProto_Type.FLOAT,
  FieldDescriptorProto_Type.INT64,
  FieldDescriptorProto_Type.UINT64,
  FieldDescriptorProto_Type.INT32,
  FieldDescriptorProto_Type.FIXED64,
  FieldDescriptorProto_Type.FIXED32,
  FieldDescriptorProto_Type.BOOL,
  FieldDescriptorProto_Type.STRING,
  FieldDescriptorProto_Type.BYTES,
  FieldDescriptorProto_Type.UINT32,
  FieldDescriptorProto_Type.SFIXED32,
  FieldDescriptorProto_Type.SFIXED64,
  FieldDescriptorProto_Type.SINT32,
  FieldDescriptorProto_Type.SINT64,
];

interface FieldPlan {
  readonly name: number;
  readonly kind: "scalar" | "message" | "enum" | "timestamp" | "struct";
  readonly scalar: FieldDescriptorProto_Type;
  readonly ref: number;
  readonly presence: "implicit" | "optional" | "repeated" | "oneof";
  readonly oneof: number;
  readonly deprecated: boolean;
  readonly jsString: boolean;
  readonly doc: number;
  readonly trailing: number;
}

const fieldPlanArb: fc.Arbitrary<FieldPlan> = fc.record({
  name: fc.nat(FIELD_NAMES.length - 1),
  kind: fc.constantFrom("scalar", "scalar", "message", "enum", "timestamp", "struct"),
  scalar: fc.constantFrom(...SCALARS),
  ref: fc.nat(7),
  presence: fc.constantFrom("implicit", "optional", "repeated", "oneof"),
  oneof: fc.nat(1),
  deprecated: fc.boolean(),
  jsString: fc.boolean(),
  doc: fc.nat(DOCS.length - 1),
  trailing: fc.nat(DOCS.length - 1),
});

interface MessagePlan {
  readonly name: number;
  readonly fields: readonly FieldPlan[];
  readonly nested: boolean;
  readonly deprecated: boolean;
  readonly doc: number;
}

const messagePlanArb: fc.Arbitrary<MessagePlan> = fc.record({
  name: fc.nat(TYPE_NAMES.length - 1),
  fields: fc.array(fieldPlanArb, { maxLength: 6 }),
  nested: fc.boolean(),
  deprecated: fc.boolean(),
  doc: fc.nat(DOCS.length - 1),
});

interface EnumPlan {
  readonly name: number;
  readonly prefixed: boolean;
  readonly values: readonly { name: string; deprecated: boolean; doc: number }[];
  readonly deprecated: boolean;
  readonly doc: number;
}

const enumPlanArb: fc.Arbitrary<EnumPlan> = fc.record({
  name: fc.nat(TYPE_NAMES.length - 1),
  prefixed: fc.boolean(),
  values: fc.array(
    fc.record({
      name: fc.constantFrom("UNSPECIFIED", "ON", "OFF", "1ST", "CONSTRUCTOR", "toString"),
      deprecated: fc.boolean(),
      doc: fc.nat(DOCS.length - 1),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  deprecated: fc.boolean(),
  doc: fc.nat(DOCS.length - 1),
});

interface ServicePlan {
  readonly methods: readonly {
    name: string;
    client: boolean;
    server: boolean;
    input: number;
    output: number;
    deprecated: boolean;
    idempotent: boolean;
    doc: number;
  }[];
  readonly deprecated: boolean;
  readonly doc: number;
}

const servicePlanArb: fc.Arbitrary<ServicePlan> = fc.record({
  methods: fc.array(
    fc.record({
      name: fc.constantFrom("Get", "Watch", "Delete", "ToString", "X"),
      client: fc.boolean(),
      server: fc.boolean(),
      input: fc.nat(7),
      output: fc.nat(7),
      deprecated: fc.boolean(),
      idempotent: fc.boolean(),
      doc: fc.nat(DOCS.length - 1),
    }),
    { maxLength: 4 },
  ),
  deprecated: fc.boolean(),
  doc: fc.nat(DOCS.length - 1),
});

interface FilePlan {
  readonly messages: readonly MessagePlan[];
  readonly enums: readonly EnumPlan[];
  readonly services: readonly ServicePlan[];
  readonly deprecated: boolean;
}

const filePlanArb: fc.Arbitrary<FilePlan> = fc.record({
  messages: fc.array(messagePlanArb, { minLength: 1, maxLength: 4 }),
  enums: fc.array(enumPlanArb, { minLength: 1, maxLength: 3 }),
  services: fc.array(servicePlanArb, { maxLength: 2 }),
  deprecated: fc.boolean(),
});

/** A shared file and a file that imports it, both from plans. */
const descriptorPairArb: fc.Arbitrary<FileDescriptorProto[]> = fc
  .tuple(filePlanArb, filePlanArb)
  .map(([shared, own]) => {
    const first = fileOf("s/shared.proto", "s", shared, undefined);
    return [first, fileOf("t/own.proto", "t", own, first)];
  });

/** Builds a descriptor from a plan: unique names, fields referring to types that exist. */
function fileOf(
  name: string,
  pkg: string,
  plan: FilePlan,
  imported: FileDescriptorProto | undefined,
): FileDescriptorProto {
  const locations: { path: number[]; leading?: string; trailing?: string }[] = [];
  const doc = (path: number[], leading: number, trailing = 0): void => {
    const l = DOCS[leading];
    const t = DOCS[trailing];
    if (l === undefined && t === undefined) return;
    locations.push({
      path,
      ...(l === undefined ? {} : { leading: l }),
      ...(t === undefined ? {} : { trailing: t }),
    });
  };
  const used = new Set<string>();
  const unique = (base: string): string => {
    let n = base;
    for (let i = 2; used.has(n); i++) n = `${base}${i}`;
    used.add(n);
    return n;
  };
  const messageNames = plan.messages.map((m) => unique(TYPE_NAMES[m.name] ?? "M"));
  const enumNames = plan.enums.map((e) => unique(`${TYPE_NAMES[e.name] ?? "E"}Kind`));
  const other = imported?.package ?? "";
  const importedMessages = imported?.messageType.map((m) => `.${other}.${m.name}`) ?? [];
  const importedEnums = imported?.enumType.map((e) => `.${other}.${e.name}`) ?? [];
  const allMessages = [...messageNames.map((n) => `.${pkg}.${n}`), ...importedMessages];
  const allEnums = [...enumNames.map((n) => `.${pkg}.${n}`), ...importedEnums];
  const dependency = new Set<string>();

  const messageType = plan.messages.map((m, mi) => {
    const path = [4, mi];
    doc(path, m.doc);
    const fieldNames = new Set<string>();
    const oneofs: string[] = [];
    const fields = m.fields.flatMap((f, fi) => {
      const fname = FIELD_NAMES[f.name] ?? "f";
      if (fieldNames.has(fname)) return [];
      fieldNames.add(fname);
      doc([...path, 2, fieldNames.size - 1], f.doc, f.trailing);
      let type: FieldDescriptorProto_Type = f.scalar;
      let typeName = "";
      if (f.kind === "message") {
        type = FieldDescriptorProto_Type.MESSAGE;
        typeName = allMessages[f.ref % allMessages.length] ?? "";
      } else if (f.kind === "enum") {
        type = FieldDescriptorProto_Type.ENUM;
        typeName = allEnums[f.ref % allEnums.length] ?? "";
      } else if (f.kind === "timestamp" || f.kind === "struct") {
        type = FieldDescriptorProto_Type.MESSAGE;
        const wkt = f.kind === "timestamp" ? "timestamp" : "struct";
        typeName =
          f.kind === "timestamp" ? ".google.protobuf.Timestamp" : ".google.protobuf.Struct";
        dependency.add(`google/protobuf/${wkt}.proto`);
      }
      if (imported !== undefined && typeName.startsWith(`.${other}.`)) {
        dependency.add(imported.name);
      }
      const long =
        type === FieldDescriptorProto_Type.INT64 || type === FieldDescriptorProto_Type.UINT64;
      const oneofName = `choice_${f.oneof}`;
      let oneofIndex: number | undefined;
      if (f.presence === "oneof") {
        if (!oneofs.includes(oneofName)) oneofs.push(oneofName);
        oneofIndex = oneofs.indexOf(oneofName);
      }
      return [
        create(FieldDescriptorProtoSchema, {
          name: fname,
          number: fi + 1,
          type,
          typeName,
          label:
            f.presence === "repeated"
              ? FieldDescriptorProto_Label.REPEATED
              : FieldDescriptorProto_Label.OPTIONAL,
          jsonName: fname.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
          ...(oneofIndex === undefined ? {} : { oneofIndex }),
          ...(f.presence === "optional" ? { proto3Optional: true } : {}),
          ...(f.deprecated || (f.jsString && long)
            ? {
                options: create(FieldOptionsSchema, {
                  ...(f.deprecated ? { deprecated: true } : {}),
                  ...(f.jsString && long ? { jstype: FieldOptions_JSType.JS_STRING } : {}),
                }),
              }
            : {}),
        }),
      ];
    });
    // Synthetic oneofs of proto3 optionals come after the real ones, as protoc places them.
    const synthetic: string[] = [];
    for (const f of fields) {
      if (f.proto3Optional) {
        f.oneofIndex = oneofs.length + synthetic.length;
        synthetic.push(`_${f.name}`);
      }
    }
    oneofs.forEach((_, oi) => {
      doc([...path, 8, oi], m.doc);
    });
    return create(DescriptorProtoSchema, {
      name: messageNames[mi] ?? "M",
      field: fields,
      oneofDecl: [...oneofs, ...synthetic].map((n) =>
        create(OneofDescriptorProtoSchema, { name: n }),
      ),
      ...(m.nested
        ? {
            nestedType: [create(DescriptorProtoSchema, { name: "Inner" })],
            enumType: [
              create(EnumDescriptorProtoSchema, {
                name: "Mode",
                value: [create(EnumValueDescriptorProtoSchema, { name: "MODE_UNSPECIFIED" })],
              }),
            ],
          }
        : {}),
      ...(m.deprecated ? { options: create(MessageOptionsSchema, { deprecated: true }) } : {}),
    });
  });

  const enumType = plan.enums.map((e, ei) => {
    const ename = enumNames[ei] ?? "E";
    const prefix = ename.replace(/(?<!^)([A-Z])/g, "_$1").toUpperCase();
    doc([5, ei], e.doc);
    const seen = new Set<string>();
    const values = e.values.flatMap((v, vi) => {
      // Unprefixed, a name must not start with a digit.
      const vname = e.prefixed ? `${prefix}_${v.name}` : v.name === "1ST" ? "FIRST" : v.name;
      if (seen.has(vname)) return [];
      seen.add(vname);
      doc([5, ei, 2, seen.size - 1], v.doc);
      return [
        create(EnumValueDescriptorProtoSchema, {
          name: vname,
          number: vi === 0 ? 0 : vi,
          ...(v.deprecated ? { options: { deprecated: true } } : {}),
        }),
      ];
    });
    return create(EnumDescriptorProtoSchema, {
      name: ename,
      value: values,
      ...(e.deprecated ? { options: { deprecated: true } } : {}),
    });
  });

  const service = plan.services.map((s, si) => {
    doc([6, si], s.doc);
    const names = new Set<string>();
    const method = s.methods.flatMap((m) => {
      if (names.has(m.name)) return [];
      names.add(m.name);
      doc([6, si, 2, names.size - 1], m.doc);
      return [
        create(MethodDescriptorProtoSchema, {
          name: m.name,
          inputType: allMessages[m.input % allMessages.length] ?? "",
          outputType: allMessages[m.output % allMessages.length] ?? "",
          ...(m.client ? { clientStreaming: true } : {}),
          ...(m.server ? { serverStreaming: true } : {}),
          ...(m.deprecated || m.idempotent
            ? {
                options: create(MethodOptionsSchema, {
                  ...(m.deprecated ? { deprecated: true } : {}),
                  ...(m.idempotent
                    ? { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS }
                    : {}),
                }),
              }
            : {}),
        }),
      ];
    });
    for (const m of method) {
      for (const t of [m.inputType, m.outputType]) {
        if (imported !== undefined && t.startsWith(`.${other}.`)) dependency.add(imported.name);
      }
    }
    return create(ServiceDescriptorProtoSchema, {
      name: `${TYPE_NAMES[si] ?? "S"}Service`,
      method,
      ...(s.deprecated ? { options: create(ServiceOptionsSchema, { deprecated: true }) } : {}),
    });
  });

  return create(FileDescriptorProtoSchema, {
    name,
    package: pkg,
    syntax: "proto3",
    dependency: [...dependency].sort(),
    messageType,
    enumType,
    service,
    ...(plan.deprecated ? { options: create(FileOptionsSchema, { deprecated: true }) } : {}),
    sourceCodeInfo: create(SourceCodeInfoSchema, {
      location: locations.map((l) =>
        create(SourceCodeInfo_LocationSchema, {
          path: l.path,
          ...(l.leading === undefined ? {} : { leadingComments: l.leading }),
          ...(l.trailing === undefined ? {} : { trailingComments: l.trailing }),
        }),
      ),
    }),
  });
}
