#![no_main]

//! Fuzz target `h5ad`: see `calls::h5ad` for what it does with an input.

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_regressions/calls.rs"]
#[allow(dead_code)]
mod calls;

fuzz_target!(|data: &[u8]| calls::h5ad(data));
