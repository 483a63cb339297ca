/**
 * The TypeScript client generator: `generateClient(schema)` → `client.ts`, which
 * imports the runtime from `entdb/runtime/v1`.
 */

export type { EdgeTypeNames, NodeTypeNames } from "./client-names.ts";
export {
  accessorName,
  CLIENT_NAMES,
  checkClientNames,
  edgeTypeNames,
  nodeTypeNames,
  propertyName,
} from "./client-names.ts";
export type { GenerateClientOptions, GeneratedClient } from "./generate-client.ts";
export { DEFAULT_RUNTIME_IMPORT, generateClient } from "./generate-client.ts";
