//! Data parallelism inside an optimizer step: a large batch is cut into a fixed number of
//! shards, each shard's loss and gradients are computed on a copy of the model of its own
//! (natively on a thread of its own), and the gradients are summed in shard order for one
//! optimizer step.
//!
//! The number of shards depends only on the batch ([`shard_count`]), never on the threads: a
//! run gives the same numbers on one thread as on several. Threads only decide which shards
//! run at the same time. Their number is, in order: [`crate::train::Trainer::set_threads`],
//! the `RAYON_NUM_THREADS` environment variable (the knob the bench sets for its child
//! processes), or the machine's cores. In the browser (wasm32, no threads) the shards run one
//! after another: the one place where the platforms differ is [`run_shards`] (and
//! [`beside`], which runs a second piece of work on a thread of its own).

/// Cells a shard needs at least: below that, splitting a batch costs more (a second pass
/// over the global variables, smaller matrix products) than running it in parallel saves.
pub const MIN_SHARD_CELLS: usize = 128;

/// Shards a batch is cut into at most.
pub const MAX_SHARDS: usize = 2;

/// The shards a batch of `cells` is cut into: a function of the batch alone.
pub fn shard_count(cells: usize) -> usize {
    (cells / MIN_SHARD_CELLS).clamp(1, MAX_SHARDS)
}

/// `items` cut into `count` contiguous parts, the first ones one longer when they do not
/// divide evenly.
pub fn split<T>(items: &[T], count: usize) -> Vec<&[T]> {
    let count = count.clamp(1, items.len().max(1));
    let (base, extra) = (items.len() / count, items.len() % count);
    let mut parts = Vec::with_capacity(count);
    let mut rest = items;
    for i in 0..count {
        let (part, tail) = rest.split_at(base + usize::from(i < extra));
        parts.push(part);
        rest = tail;
    }
    parts
}

/// Worker threads when nothing else is asked for: `RAYON_NUM_THREADS` if it is a positive
/// number, else the machine's cores.
pub fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Native, with glibc's allocator: freed memory stays in the process for the next step.
///
/// glibc otherwise hands the top of a heap back to the system as soon as more than a few MiB
/// of it are free, so every step of a large batch faults its working memory in afresh, and a
/// step's second thread (whose heap empties completely between steps) does so for all of it:
/// page faults then cost the reference configuration as much as a third of what its second
/// core saves. Blocks up to 32 MiB (a step's largest tensors) come from the heaps, and up to
/// 64 MiB of free heap is kept. The process's peak memory is unchanged.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes the allocator's thresholds; it is safe to call at
            // any time, from any thread.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
            }
        });
    }
}

/// `f(0), …, f(count − 1)` in shard order, run on up to `threads` threads at once (the
/// calling thread is one of them). Which thread runs a shard never changes its result.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_shards<T: Send>(count: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        return (0..count).map(f).collect();
    }
    let f = &f;
    let worker = move |first: usize| -> Vec<(usize, T)> {
        (first..count).step_by(threads).map(|s| (s, f(s))).collect()
    };
    let mut done = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads)
            .map(|w| scope.spawn(move || worker(w)))
            .collect();
        let mut done = worker(0);
        for h in others {
            done.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        done
    });
    done.sort_by_key(|(s, _)| *s);
    done.into_iter().map(|(_, t)| t).collect()
}

/// The browser has no threads: the shards run one after another, with the same results.
#[cfg(target_arch = "wasm32")]
pub fn run_shards<T: Send>(count: usize, _threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    (0..count).map(f).collect()
}

/// `main`, with the future `side()` makes run to completion beside it on a thread of its own
/// when `threads` allows more than one: `main` is handed the receiver of its result, to wait
/// for where it needs it. With one thread `main` gets None and does that work itself.
///
/// Natively every future of cellshift completes where it is awaited (the CPU device's
/// readback is ready at once), so both run under `block_on`, each on its thread.
#[cfg(not(target_arch = "wasm32"))]
pub async fn beside<S: Send, SF: std::future::Future<Output = S>, MF: std::future::Future>(
    threads: usize,
    side: impl FnOnce() -> SF + Send,
    main: impl FnOnce(Option<std::sync::mpsc::Receiver<S>>) -> MF,
) -> MF::Output {
    if threads < 2 {
        return main(None).await;
    }
    std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::channel();
        scope.spawn(move || {
            // Nobody listens any more when `main` has finished without it.
            let _ = send.send(pollster::block_on(side()));
        });
        pollster::block_on(main(Some(receive)))
    })
}

/// The browser has no threads: `main` does the side's work itself.
#[cfg(target_arch = "wasm32")]
pub async fn beside<S: Send, SF: std::future::Future<Output = S>, MF: std::future::Future>(
    _threads: usize,
    _side: impl FnOnce() -> SF + Send,
    main: impl FnOnce(Option<std::sync::mpsc::Receiver<S>>) -> MF,
) -> MF::Output {
    main(None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_depend_on_the_batch_only() {
        assert_eq!(shard_count(1), 1);
        assert_eq!(shard_count(128), 1);
        assert_eq!(shard_count(255), 1);
        assert_eq!(shard_count(256), 2);
        assert_eq!(shard_count(4096), MAX_SHARDS);
    }

    #[test]
    fn split_keeps_order_and_covers_everything() {
        let v: Vec<usize> = (0..7).collect();
        let parts = split(&v, 2);
        assert_eq!(parts, vec![&v[..4], &v[4..]]);
        assert_eq!(split(&v, 1), vec![&v[..]]);
        assert_eq!(split(&v[..1], 2), vec![&v[..1]]);
    }

    #[test]
    fn side_work_reaches_main_from_its_thread_or_is_left_to_main() {
        let here = std::thread::current().id();
        let run = |threads| {
            pollster::block_on(beside(
                threads,
                || async move { (6 * 7, std::thread::current().id()) },
                |side| async move { side.map(|r| r.recv().expect("the side's result")) },
            ))
        };
        let (answer, on) = run(2).expect("two threads: the side runs beside");
        assert_eq!(answer, 42);
        assert_ne!(on, here, "the side ran on a thread of its own");
        assert!(run(1).is_none(), "one thread: main does the work itself");
    }

    #[test]
    fn results_come_back_in_shard_order_on_any_thread_count() {
        for threads in 1..=4 {
            let out = run_shards(5, threads, |s| s * 10);
            assert_eq!(out, vec![0, 10, 20, 30, 40]);
        }
    }
}
