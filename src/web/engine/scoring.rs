//! Stopping the scoring in progress: the engine is borrowed while it scores, so the Stop
//! arrives through a flag, read at scoring's pauses, where control also goes back to the event
//! loop so the Stop message can be handled at all.

use std::sync::atomic::{AtomicBool, Ordering};

use wasm_bindgen::prelude::*;

use crate::pause::{Pause, PauseFuture, Stopped};

/// Clears a Stop left from an earlier scoring.
pub(super) fn reset() {
    STOP_SCORING.store(false, Ordering::Relaxed);
}

/// Set by [`stop_scoring`]; read at scoring's pauses. A flag outside the engine, because the
/// engine is borrowed while it scores.
pub(super) static STOP_SCORING: AtomicBool = AtomicBool::new(false);

/// Asks the scoring in progress to stop at its next pause: `evaluate` then fails with an error
/// whose `stopped` is true, and the trained model stays, ready to be scored again.
#[wasm_bindgen]
pub fn stop_scoring() {
    STOP_SCORING.store(true, Ordering::Relaxed);
}

/// Hands control back to the event loop (a macrotask, so a queued Stop message runs) at most
/// every `YIELD_MS`, and stops when asked.
pub(super) struct EventLoopPause {
    last: std::cell::Cell<f64>,
}

/// Longest stretch of scoring without handing control back.
const YIELD_MS: f64 = 50.0;

impl EventLoopPause {
    pub(super) fn new() -> Self {
        Self {
            last: std::cell::Cell::new(js_sys::Date::now()),
        }
    }
}

impl Pause for EventLoopPause {
    fn pause(&self) -> PauseFuture<'_> {
        Box::pin(async move {
            if js_sys::Date::now() - self.last.get() >= YIELD_MS {
                next_task().await;
                self.last.set(js_sys::Date::now());
            }
            if STOP_SCORING.swap(false, Ordering::Relaxed) {
                Err(Stopped)
            } else {
                Ok(())
            }
        })
    }
}

/// Resolves on a fresh task of the event loop (`setTimeout(…, 0)`), in a window or a worker.
async fn next_task() {
    let global = js_sys::global();
    let Ok(set_timeout) = js_sys::Reflect::get(&global, &JsValue::from_str("setTimeout")) else {
        return;
    };
    let Ok(set_timeout) = set_timeout.dyn_into::<js_sys::Function>() else {
        return;
    };
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let _ = set_timeout.call2(&global, &resolve, &JsValue::from_f64(0.0));
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
