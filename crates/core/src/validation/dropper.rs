//! Freeing large documents off the caller's path. A 2,000-host pool's JSON tree, typed document
//! and domain take milliseconds to free (measured: 1.8 ms for the tree alone); a scheduler waiting
//! inline should not wait for that. One background thread frees what it is sent, in order.

use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

/// Values at least this large (by the caller's estimate: hosts plus requests) are sent away;
/// smaller ones are freed at once, where sending would cost more than it saves.
pub const DEFER_FROM: usize = 500;

type Garbage = Box<dyn Send>;

fn sender() -> Option<&'static Sender<Garbage>> {
    static SENDER: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();
    SENDER
        .get_or_init(|| {
            let (tx, rx) = channel::<Garbage>();
            std::thread::Builder::new()
                .name("vmplace-free".into())
                .spawn(move || rx.into_iter().for_each(drop))
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Frees `value` on the background thread when it is large (`size >= DEFER_FROM`), here
/// otherwise, or here if the thread could not be started.
pub fn free_later<T: Send + 'static>(value: T, size: usize) {
    if size < DEFER_FROM {
        return;
    }
    if let Some(tx) = sender() {
        // A send fails only if the thread is gone; the value then comes back and is freed here.
        let _ = tx.send(Box::new(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Sender};

    struct Signals(Sender<std::thread::ThreadId>);

    impl Drop for Signals {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::current().id());
        }
    }

    #[test]
    fn large_values_are_freed_on_the_background_thread_and_small_ones_here() {
        let (tx, rx) = channel();
        free_later(Signals(tx.clone()), DEFER_FROM);
        let away = rx.recv().unwrap();
        assert_ne!(away, std::thread::current().id());
        free_later(Signals(tx), DEFER_FROM - 1);
        assert_eq!(rx.recv().unwrap(), std::thread::current().id());
    }
}
