/**
 * The client a generated `client.ts` would declare for test-schema.ts (and
 * test-schema.entdb): its node, edge, plan and client types, for the runtime tests and
 * the service contract.
 */

import type {
  ClientBase,
  EdgeAccessor,
  EdgeListFn,
  EdgePlanAccessor,
  EqualityFilter,
  Int64Input,
  JsonFieldValue,
  KeyedNodeAccessor,
  ListFilter,
  NodeAccessor,
  NodePlanAccessor,
  OrderBy,
  RangeFilter,
  Ref,
  StringFilter,
} from "../../runtime/v1.ts";

export interface User {
  readonly id: string;
  readonly version: bigint;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly email: string;
  readonly karma: bigint | undefined;
  readonly avatar: Uint8Array | undefined;
}
export interface UserCreate {
  readonly email: string;
  readonly karma?: Int64Input | undefined;
  readonly avatar?: Uint8Array | undefined;
}
export type UserPatch = { readonly [K in keyof UserCreate]?: UserCreate[K] | null | undefined };
export interface UserWhere {
  readonly email?: string | StringFilter | undefined;
  readonly karma?: Int64Input | RangeFilter<Int64Input> | undefined;
}
export type Status = "todo" | "doing" | "done";
export interface Task {
  readonly id: string;
  readonly version: bigint;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly title: string;
  readonly status: Status | undefined;
  readonly due: Date | undefined;
  readonly owner: string | undefined;
  readonly labels: readonly string[] | undefined;
  readonly meta: JsonFieldValue | undefined;
  readonly estimate: number | undefined;
  readonly done: boolean | undefined;
  readonly watchers: readonly string[] | undefined;
}
export interface TaskCreate {
  readonly title: string;
  readonly status?: Status | undefined;
  readonly due?: Date | undefined;
  readonly owner?: Ref<"User"> | undefined;
  readonly labels?: readonly string[] | undefined;
  readonly meta?: JsonFieldValue | undefined;
  readonly estimate?: number | undefined;
  readonly done?: boolean | undefined;
  readonly watchers?: readonly Ref<"User">[] | undefined;
}
export type TaskPatch = { readonly [K in keyof TaskCreate]?: TaskCreate[K] | null | undefined };
export interface TaskWhere {
  readonly title?: string | StringFilter | undefined;
  readonly status?: Status | EqualityFilter<Status> | undefined;
  readonly due?: Date | RangeFilter<Date> | undefined;
  readonly owner?: string | EqualityFilter<string> | undefined;
  readonly labels?: ListFilter<string> | undefined;
}
export interface AssignedTo {
  readonly from: string;
  readonly to: string;
  readonly createdAt: Date;
  readonly role: string | undefined;
}
export interface AssignedToProps {
  readonly role?: string | undefined;
}
export interface Plan {
  readonly user: NodePlanAccessor<"User", UserCreate, UserPatch, User, { email: string }>;
  readonly task: NodePlanAccessor<"Task", TaskCreate, TaskPatch, Task>;
  readonly assignedTo: EdgePlanAccessor<"Task", "User", AssignedToProps>;
}
export interface TestClient extends ClientBase<Plan> {
  readonly user: KeyedNodeAccessor<
    User,
    UserCreate,
    UserPatch,
    UserWhere,
    OrderBy<"id" | "email">,
    { email: string }
  > & {
    readonly assignments: EdgeListFn<AssignedTo>;
  };
  readonly task: NodeAccessor<
    Task,
    TaskCreate,
    TaskPatch,
    TaskWhere,
    OrderBy<"id" | "title" | "due">
  >;
  readonly assignedTo: EdgeAccessor<AssignedTo, AssignedToProps>;
}
