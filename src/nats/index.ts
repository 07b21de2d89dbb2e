/**
 * `napi-disruptor/nats`: the ring and NATS JetStream. `toJetStream(d, { js, subject })` is a
 * consumer stage that publishes every event with a message id (exactly once in the stream,
 * retries included) and holds the ring until the server acknowledged it. The official clients
 * (`@nats-io/transport-node`, `@nats-io/jetstream` 3.x) are optional peer dependencies: this
 * module takes the client you connected and imports neither.
 */

export type { JetStreamPublisher, JetStreamSinkStats, SinkSource, ToJetStreamOptions } from './sink'
export { JetStreamSink, toJetStream } from './sink'
