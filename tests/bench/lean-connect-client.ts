/**
 * A minimal Connect unary client for load generation: one HTTP/2 session, binary
 * bodies, and nothing else. It is not Connect's client, which spends about 80 µs of CPU
 * per call on this 2-core machine. The load generator shares the machine with the
 * server, so that CPU is taken from the server being measured. With this client the
 * rows measure the server; the Connect-client rows beside them measure what an app
 * sees.
 *
 * Answers are checked: a non-200 status or a body that does not decode throws.
 */

import * as http2 from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { http2Exchange } from "../http2-exchange.ts";

/** A lean client over one HTTP/2 session. */
export interface LeanClient {
  /** Calls the unary `method` with `input`; resolves to the decoded answer. */
  call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    input: MessageInitShape<I>,
  ): Promise<MessageShape<O>>;
  close(): void;
}

/** Connects to `baseUrl` (cleartext HTTP/2, prior knowledge); `headers` go with every call. */
export function createLeanClient(
  baseUrl: string,
  headers: Readonly<Record<string, string>> = {},
): LeanClient {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  return {
    async call(method, input) {
      const body = toBinary(method.input, create(method.input, input));
      const answer = await http2Exchange(
        session,
        {
          ":method": "POST",
          ":path": `/${method.parent.typeName}/${method.name}`,
          "content-type": "application/proto",
          "connect-protocol-version": "1",
          ...headers,
        },
        body,
      );
      if (answer.status !== 200) {
        throw new Error(`${method.name} answered ${answer.status}: ${answer.body.toString()}`);
      }
      return fromBinary(method.output, answer.body);
    },
    close() {
      session.close();
    },
  };
}
