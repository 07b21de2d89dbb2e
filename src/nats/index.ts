/**
 * `napi-disruptor/nats`: the ring and NATS JetStream. `toJetStream(d, { js, subject })` is a
 * consumer stage that publishes every event with a message id (exactly once in the stream,
 * retries included) and holds the ring until the server acknowledged it; `fromJetStream(d,
 * { consumer })` feeds the ring from a durable consumer and acknowledges a message only once every
 * consumer of the ring processed it. The official clients (`@nats-io/transport-node`,
 * `@nats-io/jetstream` 3.x) are optional peer dependencies: this module takes the client objects
 * you made and imports neither.
 */

export type { JetStreamPublisher, JetStreamSinkStats, SinkSource, ToJetStreamOptions } from './sink'
export { JetStreamSink, toJetStream } from './sink'
export type {
  FromJetStreamOptions,
  JetStreamConsumer,
  JetStreamMessage,
  JetStreamSourceStats,
  SourceTarget,
} from './source'
export { fromJetStream, JetStreamSource } from './source'
