//! Replays every saved fuzz input: each file under `tests/fuzz_regressions/<target>/` goes
//! through the same calls as the fuzz target of that name (`fuzz/fuzz_targets/<target>.rs`,
//! both use `tests/fuzz_regressions/calls.rs`). Every call must return `Ok` or `Err` within
//! the time limit; a panic or a hang fails the test and names the file. The share-link inputs
//! (`tests/fuzz_regressions/link/`) replay in node through `fuzz/link.mjs`.

#[path = "fuzz_regressions/calls.rs"]
mod calls;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// The folder of share-link inputs, replayed by `fuzz/link.mjs` rather than by a Rust target.
const LINK: &str = "link";

/// An input still running after this long counts as a hang (the fuzz run's `-timeout`).
const TIME_LIMIT: Duration = Duration::from_secs(10);

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}

/// Runs one input on a thread of its own; `Err` says how it failed.
fn replay(run: fn(&[u8]), bytes: Vec<u8>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| run(&bytes)));
        let _ = tx.send(outcome.map_err(|p| panic_message(p.as_ref())));
    });
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(format!("panicked: {message}")),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("still running after {} s", TIME_LIMIT.as_secs()))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("aborted".to_string()),
    }
}

#[test]
fn saved_fuzz_inputs_return_ok_or_err() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for &(target, run) in calls::TARGETS {
        let files = inputs(target);
        assert!(
            !files.is_empty(),
            "no saved inputs for fuzz target `{target}`"
        );
        for path in files {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(how) = replay(run, bytes) {
                failures.push(format!("{target}: {}: {how}", path.display()));
            }
            replayed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} saved fuzz inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every folder of saved inputs belongs to a fuzz target (a misspelt folder would be skipped).
#[test]
fn every_input_folder_has_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    for entry in std::fs::read_dir(&root).expect("tests/fuzz_regressions") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(
                name == LINK || calls::TARGETS.iter().any(|(t, _)| *t == name),
                "{} is not a fuzz target's folder",
                path.display()
            );
        }
    }
}

/// The share-link inputs go through the page's link parser in node, as `fuzz/link.mjs` fuzzes it.
#[test]
fn saved_link_inputs_replay_in_node() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/fuzz_regressions").join(LINK);
    let run = Command::new("node")
        .arg(root.join("fuzz/link.mjs"))
        .arg("--replay")
        .arg(&dir)
        .output();
    let Ok(out) = run else {
        eprintln!("node is not installed: the saved share-link inputs were not replayed");
        return;
    };
    assert!(
        out.status.success(),
        "saved share-link inputs failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
