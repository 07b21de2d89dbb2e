//! [`EventHandler`]: the consumer callback of a [`crate::BatchEventProcessor`]-style stage.

/// An error a handler returns (or a panic turned into one).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Consumes events on a stage's own thread, in sequence order, batch by batch.
///
/// Closures `FnMut(&T, i64, bool)` returning `()` or `Result<(), E>` are handlers too; annotate
/// the parameter types (`|event: &T, sequence: i64, end_of_batch: bool| ...`).
///
/// ```
/// use disruptor_core::{EventHandler, HandlerError};
/// struct Sum(u64);
/// impl EventHandler<u64> for Sum {
///     fn on_event(&mut self, e: &u64, _seq: i64, _end: bool) -> Result<(), HandlerError> {
///         self.0 += *e;
///         Ok(())
///     }
/// }
/// let mut s = Sum(0);
/// s.on_event(&5, 0, true).unwrap();
/// assert_eq!(s.0, 5);
/// ```
pub trait EventHandler<T: ?Sized>: Send {
    /// One event. `end_of_batch` is true for the last event of the batch the barrier returned
    /// (a good moment to flush). An `Err` goes to the stage's [`crate::ExceptionPolicy`].
    fn on_event(
        &mut self,
        event: &T,
        sequence: i64,
        end_of_batch: bool,
    ) -> Result<(), HandlerError>;

    /// Before each batch: its size and how many events were available in all (queue depth).
    fn on_batch_start(&mut self, _batch_size: i64, _queue_depth: i64) {}

    /// On the stage's thread, before the first event.
    fn on_start(&mut self) {}

    /// On the stage's thread, after the last event, when it halts.
    fn on_shutdown(&mut self) {}

    /// When the wait strategy times out ([`crate::TimeoutBlockingWaitStrategy`]), with the
    /// stage's current sequence.
    fn on_timeout(&mut self, _sequence: i64) {}
}

/// What a closure handler may return: `()` or `Result<(), E>`.
///
/// ```
/// use disruptor_core::HandlerOutcome;
/// assert!(().into_result().is_ok());
/// assert!(Err::<(), _>(std::fmt::Error).into_result().is_err());
/// ```
pub trait HandlerOutcome {
    /// As a handler result.
    fn into_result(self) -> Result<(), HandlerError>;
}

impl HandlerOutcome for () {
    #[inline]
    fn into_result(self) -> Result<(), HandlerError> {
        Ok(())
    }
}

impl<E: Into<HandlerError>> HandlerOutcome for Result<(), E> {
    #[inline]
    fn into_result(self) -> Result<(), HandlerError> {
        self.map_err(Into::into)
    }
}

impl<T: ?Sized, F, R> EventHandler<T> for F
where
    F: FnMut(&T, i64, bool) -> R + Send,
    R: HandlerOutcome,
{
    #[inline]
    fn on_event(
        &mut self,
        event: &T,
        sequence: i64,
        end_of_batch: bool,
    ) -> Result<(), HandlerError> {
        self(event, sequence, end_of_batch).into_result()
    }
}
