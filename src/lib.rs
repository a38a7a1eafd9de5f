//! cellshift: single-cell perturbation modelling with one Rust core for the CLI and the browser.
//!
//! Layers, from the bottom: `data` (CSV in, sample generator), `preprocess` and `split` (host-side
//! preparation), `module` (the burn models: math only), `train` (one epoch per call, async
//! readback), `generate`, `baselines` and `metrics` (host-side evaluation), `pipeline` (the whole
//! run, used by the CLI and the page alike) and `charts` (plotters, generic over the drawing
//! backend). Only the edges (`src/bin/cellshift.rs`, and the web layer) choose a device.

pub mod baselines;
pub mod charts;
pub mod data;
pub mod design;
pub mod generate;
pub mod matrix;
pub mod metrics;
pub mod module;
pub mod pipeline;
pub mod preprocess;
pub mod results;
pub mod rng;
pub mod rotation;
pub mod sams;
pub mod sample;
pub mod split;
pub mod train;
#[cfg(feature = "cli")]
pub mod render;
#[cfg(target_arch = "wasm32")]
pub mod web;
