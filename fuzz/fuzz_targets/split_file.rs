#![no_main]

//! Fuzz target `split_file`: see `calls::split_file` for what it does with an input.

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_regressions/calls.rs"]
#[allow(dead_code)]
mod calls;

fuzz_target!(|data: &[u8]| calls::split_file(data));
