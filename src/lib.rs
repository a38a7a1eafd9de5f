//! cellshift: single-cell perturbation modelling with one Rust core for the CLI and the browser.
//!
//! `config` declares every setting once and checks it once. Layers, from the bottom: `data` (CSV in, sample generator), `preprocess`, `split` and
//! `design` (host-side preparation), `tensor` (matrices onto the device, values back without
//! blocking), `model` (the burn models: math only), `train` (one epoch per call; `shards` runs a large
//! batch's parts in parallel), `generate`,
//! `baselines`, `metrics` and `masks` (host-side evaluation), `pipeline` (the session the CLI
//! and the page drive: setup and training) with `evaluate` (predicting and scoring held-out
//! cells), and `charts` (plotters, generic over the drawing backend). Only the edges
//! (`src/bin/cellshift.rs`, and the web layer) choose a device.

pub mod baselines;
pub mod charts;
pub mod checkpoint;
pub mod comparison;
pub mod config;
pub mod data;
pub mod datasets;
pub mod design;
pub mod evaluate;
pub mod generate;
pub mod masks;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod pause;
pub mod pipeline;
pub mod preprocess;
#[cfg(feature = "cli")]
pub mod render;
pub mod results;
pub mod rng;
pub mod rotation;
pub mod sample;
pub mod seeds;
pub mod shards;
pub mod split;
pub mod tensor;
pub mod train;
pub mod verdict;
#[cfg(target_arch = "wasm32")]
pub mod web;
