//! Cooperative pauses in long async work. The page's worker runs one JavaScript event loop: a
//! Stop message is only handled when scoring hands control back, so scoring offers a pause
//! between its steps, where the caller may yield and may stop it. Native callers never stop it.

use std::future::Future;
use std::pin::Pin;

/// Scoring was stopped at a pause; what was trained is untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("scoring was stopped before it finished; the trained model is kept")]
pub struct Stopped;

/// What a pause resolves to: go on, or stop.
pub type PauseFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Stopped>> + 'a>>;

/// Where long work may be paused or stopped.
pub trait Pause {
    /// Called between two steps of the work.
    fn pause(&self) -> PauseFuture<'_>;
}

/// Never pauses, never stops.
pub struct NoPause;

impl Pause for NoPause {
    fn pause(&self) -> PauseFuture<'_> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Stops at the `n`-th pause (0-based): how tests check that every step stops cleanly.
pub struct StopAt {
    n: usize,
    seen: std::cell::Cell<usize>,
}

impl StopAt {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            seen: std::cell::Cell::new(0),
        }
    }

    /// Pauses reached so far.
    pub fn seen(&self) -> usize {
        self.seen.get()
    }
}

impl Pause for StopAt {
    fn pause(&self) -> PauseFuture<'_> {
        let i = self.seen.get();
        self.seen.set(i + 1);
        Box::pin(std::future::ready(if i >= self.n {
            Err(Stopped)
        } else {
            Ok(())
        }))
    }
}
