/**
 * protoplugin's generated names (names.js) without its scans. Upstream recomputes the
 * TypeScript name of every type in a file for each single lookup, and names are looked
 * up for every type and for every field that references one. Here a file's names are
 * computed once, by the same algorithm (ideal name, then `$`, `$1`, … salts, in the same
 * order over the file's types: shapes, then descriptors, then JSON types, then valid
 * types), and each lookup is a map read.
 */

import type {
  DescEnum,
  DescExtension,
  DescFile,
  DescMessage,
  DescService,
} from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";

/** A declaration protoplugin names. */
export type NamedDesc = DescFile | DescMessage | DescEnum | DescService | DescExtension;

/** Which of protoplugin's names: `generatedShapeName`, `generatedDescName`, … */
export type NameKind = "shape" | "desc" | "json" | "valid";

type FileNames = Readonly<Record<NameKind, Map<NamedDesc, string>>>;

/**
 * A lookup of one kind of name, answering from names computed once per file (dropped
 * with the file). Throws as upstream does for a declaration that has no such name.
 * `safeIdentifier` is protoplugin's own (passed in, so that the framework is not loaded
 * a second time through its ES module build, which would load the TypeScript compiler).
 */
export function createNameLookup(
  safeIdentifier: (name: string) => string,
): (kind: NameKind) => (desc: NamedDesc) => string {
  const files = new WeakMap<DescFile, FileNames>();
  return (kind) => (desc) => {
    const file = desc.kind === "file" ? desc : desc.file;
    let computed = files.get(file);
    if (computed === undefined) {
      computed = computeFileNames(file, safeIdentifier);
      files.set(file, computed);
    }
    const name = computed[kind].get(desc);
    if (name === undefined) {
      throw new Error(`unable to determine unique ${kind} name for ${desc.toString()}`);
    }
    return name;
  };
}

/** protoplugin's `allNames`, computed once: shapes, then descs, then JSON, then valid types. */
function computeFileNames(file: DescFile, safeIdentifier: (name: string) => string): FileNames {
  const taken = new Set<string>();
  const types = [...nestedTypes(file)];
  const shapes = types.filter(
    (d): d is DescMessage | DescEnum => d.kind === "message" || d.kind === "enum",
  );
  const claim = (ideal: (salt: string) => string): string => {
    for (let i = 0; ; i++) {
      const name = safeIdentifier(ideal(i === 0 ? "" : i === 1 ? "$" : `$${i - 1}`));
      if (!taken.has(name)) {
        taken.add(name);
        return name;
      }
    }
  };
  const shape = new Map<NamedDesc, string>();
  for (const d of shapes)
    shape.set(
      d,
      claim((salt) => identifier(d) + salt),
    );
  const desc = new Map<NamedDesc, string>();
  for (const d of [file, ...types]) {
    desc.set(
      d,
      claim((salt) =>
        d.kind === "file"
          ? `file_${d.name.replace(/[^a-zA-Z0-9_]+/g, "_")}${salt}`
          : d.kind === "message" || d.kind === "enum"
            ? `${identifier(d)}Schema${salt}`
            : `${identifier(d)}${salt}`,
      ),
    );
  }
  const json = new Map<NamedDesc, string>();
  for (const d of shapes)
    json.set(
      d,
      claim((salt) => `${identifier(d)}Json${salt}`),
    );
  const valid = new Map<NamedDesc, string>();
  for (const d of shapes)
    valid.set(
      d,
      claim((salt) => `${identifier(d)}Valid${salt}`),
    );
  return { shape, desc, json, valid };
}

/** The type name without the package, nested parts joined by `_`. */
function identifier(desc: Exclude<NamedDesc, DescFile>): string {
  const pkg = desc.file.proto.package;
  return desc.typeName.substring(pkg.length > 0 ? pkg.length + 1 : 0).replace(/\./g, "_");
}
