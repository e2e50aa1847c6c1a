//! Awaiting a JS promise from Rust with one call across the boundary.
//!
//! `wasm_bindgen_futures::JsFuture` makes two JS closures for every promise it awaits (each a
//! call out of wasm, registered with a `FinalizationRegistry`, and released by two more calls),
//! then attaches them with a third. Here one closure serves every promise of the isolate: JS
//! reports each settled promise to it by number, and the future waiting on that number wakes.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/platform/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = watchPromise)]
    fn watch_promise(promise: &js_sys::Promise, id: u32, on_settled: &JsValue);
}

enum State {
    Waiting(Option<Waker>),
    Settled(Result<JsValue, JsValue>),
}

thread_local! {
    /// The promises being awaited, by number: a few per request in flight.
    static WATCHED: RefCell<Vec<(u32, State)>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
    static ON_SETTLED: Closure<dyn FnMut(u32, bool, JsValue)> = Closure::new(on_settled);
}

fn on_settled(id: u32, fulfilled: bool, value: JsValue) {
    let result = if fulfilled { Ok(value) } else { Err(value) };
    let waker = WATCHED.with(|watched| {
        let mut watched = watched.borrow_mut();
        // Absent when its future was dropped before the promise settled.
        let (_, state) = watched.iter_mut().find(|(n, _)| *n == id)?;
        match std::mem::replace(state, State::Settled(result)) {
            State::Waiting(waker) => waker,
            State::Settled(_) => None,
        }
    });
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Resolves to the promise's value, or its rejection as the `Err`.
pub struct Settled {
    id: u32,
}

/// Starts watching `promise`.
pub fn settled(promise: &js_sys::Promise) -> Settled {
    let id = NEXT_ID.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1));
        id
    });
    WATCHED.with(|watched| watched.borrow_mut().push((id, State::Waiting(None))));
    ON_SETTLED.with(|on_settled| watch_promise(promise, id, on_settled.as_ref()));
    Settled { id }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        WATCHED.with(|watched| {
            let mut watched = watched.borrow_mut();
            let Some(index) = watched.iter().position(|(n, _)| *n == self.id) else {
                // Polled again after it was ready: a contract breach of the caller's; stay pending.
                return Poll::Pending;
            };
            // Taken out either way; still waiting, it goes back with this poll's waker.
            match watched.swap_remove(index) {
                (_, State::Settled(result)) => Poll::Ready(result),
                (id, State::Waiting(_)) => {
                    watched.push((id, State::Waiting(Some(cx.waker().clone()))));
                    Poll::Pending
                }
            }
        })
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        let _ = WATCHED.try_with(|watched| {
            let mut watched = watched.borrow_mut();
            if let Some(index) = watched.iter().position(|(n, _)| *n == self.id) {
                watched.swap_remove(index);
            }
        });
    }
}
