/**
 * The typed per-schema services (`acme.tracker.TaskService/Create`, …) generated
 * from the loaded schema's descriptors. Each call is translated into the generic
 * `EntDbService` call it stands for and answered from its result, so both APIs share
 * one path through ingress, the WAL and the applier — and one set of errors.
 *
 * Messages are dynamic (the server has no generated code for a user's schema): field
 * values are read and written by descriptor, and converted by the model's kinds.
 * The tenant comes from the `entdb-tenant` request header.
 */

import type { DescFile, DescMessage } from "@bufbuild/protobuf";
import { edgeTypeNames, nodeTypeNames } from "../../codegen/index.ts";
import { InternalError } from "../internal-error.ts";
import { type ApiDeps, createEntDbService } from "./entdb-service.ts";
import type { ServiceRoute } from "./routes.ts";
import { edgeRoute } from "./typed-edge-service.ts";
import { nodeRoute } from "./typed-node-service.ts";

export { TENANT_HEADER } from "./request-headers.ts";

/** Builds a route per node and edge type of the schema's files. */
export function createTypedServices(files: readonly DescFile[], deps: ApiDeps): ServiceRoute[] {
  const generic = createEntDbService(deps);
  const schema = deps.served().model;
  const services = new Map(files.flatMap((f) => f.services.map((s) => [s.name, s] as const)));
  const messages = new Map(files.flatMap((f) => f.messages.map((m) => [m.name, m] as const)));
  const msg = (name: string): DescMessage => {
    const m = messages.get(name);
    if (!m) throw new InternalError("descriptor", `generated descriptor lacks message ${name}`);
    return m;
  };
  const routes: ServiceRoute[] = [];
  for (const type of schema.nodes) {
    const names = nodeTypeNames(type.name);
    const service = services.get(names.service);
    if (!service) continue;
    routes.push(
      nodeRoute(service, type, msg(names.fields), msg(names.node), schema, generic, deps),
    );
  }
  for (const type of schema.edges) {
    const names = edgeTypeNames(type.name);
    const service = services.get(names.service);
    if (!service) continue;
    routes.push(edgeRoute(service, type, msg(names.props), msg(names.edge), schema, generic, deps));
  }
  return routes;
}
