#![no_main]

//! Fuzz target `truth`: see `calls::truth` for what it does with an input.

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_regressions/calls.rs"]
#[allow(dead_code)]
mod calls;

fuzz_target!(|data: &[u8]| calls::truth(data));
