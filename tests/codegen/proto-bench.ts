/**
 * How long the proto stage takes on a large schema: 500 types (450 node types, 50 edge
 * types) with 10,000 fields in all, every kind represented. Times descriptor building,
 * `.proto` printing and protobuf-es generation separately (best of a few runs after a
 * warm-up) and prints the output sizes. A measurement, not a test: nothing is asserted.
 *
 * Run: `node tests/codegen/proto-bench.ts [runs]`.
 */

import { performance } from "node:perf_hooks";
import { buildFileDescriptors } from "../../codegen/proto/build-descriptor.ts";
import { generateEs } from "../../codegen/proto/generate-es.ts";
import { printProto } from "../../codegen/proto/print-proto.ts";
import { largeSchema } from "./proto-bench-schema.ts";

function best<T>(runs: number, fn: () => T): { ms: number; value: T } {
  let value = fn(); // warm-up
  let ms = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    value = fn();
    ms = Math.min(ms, performance.now() - start);
  }
  return { ms, value };
}

const runs = Number(process.argv[2] ?? 3);
const schema = largeSchema();
const fieldCount = [...schema.nodes, ...schema.edges].reduce((n, t) => n + t.fields.length, 0);
const descriptors = best(runs, () => buildFileDescriptors(schema));
const text = best(runs, () => descriptors.value.map((d) => printProto(d)));
const es = best(runs, () => generateEs(descriptors.value));
const esBytes = es.value.reduce((n, f) => n + f.content.length, 0);

console.log(
  `schema: ${schema.nodes.length + schema.edges.length} types, ${fieldCount} fields, ` +
    `${descriptors.value.length} files, ` +
    `${descriptors.value.reduce((n, d) => n + d.messageType.length, 0)} messages, ` +
    `${descriptors.value.reduce((n, d) => n + d.service.length, 0)} services`,
);
console.log(`descriptors  ${descriptors.ms.toFixed(0).padStart(6)} ms`);
console.log(
  `proto text   ${text.ms.toFixed(0).padStart(6)} ms  (${(text.value.reduce((n, t) => n + t.length, 0) / 1024).toFixed(0)} KiB)`,
);
console.log(
  `protobuf-es  ${es.ms.toFixed(0).padStart(6)} ms  (${(esBytes / 1024).toFixed(0)} KiB)`,
);
console.log(`total        ${(descriptors.ms + text.ms + es.ms).toFixed(0).padStart(6)} ms`);
