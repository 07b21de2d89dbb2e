/**
 * napi-disruptor: an LMAX Disruptor for Node.js with a Rust engine.
 *
 * The public entry point: re-exports only. README "Architecture" maps the modules.
 *
 * @packageDocumentation
 */

export type {
  ChannelMetrics,
  DispatcherMetrics,
  DispatcherOptions,
  DispatcherProducer,
  Route,
  SharedDispatcher,
  Subscription,
} from './channel/dispatcher'
export { Dispatcher } from './channel/dispatcher'
export { Poller } from './consumer/poller'
export type {
  ElementType,
  EventField,
  EventInput,
  EventSchema,
  EventType,
  EventValues,
  FieldSpec,
  ScalarType,
} from './event/layout'
export { defineEvent } from './event/layout'
export { EventHandlerGroup, StageBuilder } from './graph'
export type { MessageHandler, MessageHandlerObject, MessageKind } from './message/frames'
export type { DisruptorClass, DisruptorConstructor } from './named'
export { Disruptor } from './named'
export { engineVersion } from './native'
export type { ProcessPollResult } from './process/consumer'
export { ProcessConsumer } from './process/consumer'
export type { ProcessHandler } from './process/handlers'
export type { ProcessRingOptions, ProcessRingStats } from './process/ring'
export { ProcessRing } from './process/ring'
export type {
  Batch,
  BatchHandler,
  ConsumerStats,
  DisruptorError,
  DisruptorOptions,
  DisruptorStats,
  ErrorDecision,
  Handler,
  HandlerObject,
  PollerOptions,
  PollResult,
  RingSource,
  SharedDisruptor,
  SinkStage,
  WaitStrategyName,
  WaitStrategyOptions,
} from './types'
