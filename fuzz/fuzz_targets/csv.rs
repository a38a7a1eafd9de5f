#![no_main]

//! Fuzz target `csv`: see `calls::csv` for what it does with an input.

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_regressions/calls.rs"]
#[allow(dead_code)]
mod calls;

fuzz_target!(|data: &[u8]| calls::csv(data));
