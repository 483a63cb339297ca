/**
 * Adds interceptors to a transport someone else created. Connect transports take
 * interceptors only at construction; a client that is handed a ready transport (an
 * in-process router in tests, a transport shared by several clients) still needs
 * its own, e.g. to send its bearer token.
 */

import {
  create,
  type DescMessage,
  type DescMethodStreaming,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type {
  ContextValues,
  Interceptor,
  StreamRequest,
  StreamResponse,
  Transport,
  UnaryRequest,
  UnaryResponse,
} from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";

type AnyFn = (req: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>;

/** A transport that runs `interceptors` (first is outermost) around `transport`'s calls. */
export function withInterceptors(
  transport: Transport,
  interceptors: readonly Interceptor[],
): Transport {
  if (interceptors.length === 0) return transport;
  const chain = (last: AnyFn): AnyFn =>
    interceptors.reduceRight((next: AnyFn, interceptor) => interceptor(next), last);
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const request: UnaryRequest<I, O> = {
        stream: false,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: "",
        signal: signal ?? new AbortController().signal,
        header: new Headers(header),
        contextValues: contextValues ?? createContextValues(),
        message: create(method.input, input),
      };
      const response = await chain((req) =>
        transport.unary(
          method,
          req.signal,
          timeoutMs,
          req.header,
          // Interceptors see untyped requests; the message is still the one built above
          // (or a replacement of the same type), for this method.
          req.message as MessageShape<I>,
          req.contextValues,
        ),
      )(request as UnaryRequest);
      // The innermost call is `transport.unary` for this method, so the types hold.
      return response as UnaryResponse<I, O>;
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      const request: StreamRequest<I, O> = {
        stream: true,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: "",
        signal: signal ?? new AbortController().signal,
        header: new Headers(header),
        contextValues: contextValues ?? createContextValues(),
        message: created(method.input, input),
      };
      const response = await chain((req) =>
        transport.stream(
          method,
          req.signal,
          timeoutMs,
          req.header,
          // As for unary: the messages are still of this method's input type.
          (req as StreamRequest<I, O>).message,
          req.contextValues,
        ),
      )(request as StreamRequest);
      return response as StreamResponse<I, O>;
    },
  };
}

/** The messages of `input`, each built from its init shape. */
async function* created<I extends DescMessage>(
  schema: I,
  input: AsyncIterable<MessageInitShape<I>>,
): AsyncIterable<MessageShape<I>> {
  for await (const init of input) yield create(schema, init);
}
