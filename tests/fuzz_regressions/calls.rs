//! What each fuzz target does with one input. Shared by the fuzz targets (`fuzz/fuzz_targets/`)
//! and the regression test (`tests/fuzz_regressions.rs`), so a saved input replays exactly the
//! calls that failed on it. Every call must return `Ok` or `Err`; a panic is a finding. Errors
//! are also formatted, so their `Display` and `Debug` impls run on the same input.

use std::io::Write;

use cellshift::config::{RunConfig, SCHEMA, Settings};
use cellshift::data::{FormatOptions, Joiner, LoadOptions, parse_csv, parse_h5ad};
use cellshift::masks::MaskTruth;
use cellshift::split::parse_split_file;

/// A fuzz target: its name and what it does with one input.
pub type Target = (&'static str, fn(&[u8]));

/// The fuzz targets, by name: each has a folder of saved inputs of the same name.
pub const TARGETS: &[Target] = &[
    ("csv", csv),
    ("split_file", split_file),
    ("truth", truth),
    ("settings", settings),
    ("h5ad", h5ad),
];

/// Formats an error both ways, so the messages built from hostile input are exercised too.
fn show<T, E: std::fmt::Display + std::fmt::Debug>(r: &Result<T, E>) -> usize {
    match r {
        Ok(_) => 0,
        Err(e) => e.to_string().len() + format!("{e:?}").len(),
    }
}

/// The second field of the first line, as a covariate name (trimmed, unquoted), if there is one.
fn second_header_field(bytes: &[u8]) -> Option<String> {
    let line = bytes.split(|&b| b == b'\n').next()?;
    let field = line.split(|&b| b == b',').nth(1)?;
    let name = String::from_utf8_lossy(field);
    let name = name.trim().trim_matches('"').trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// The CSV/gzip loader: the bytes as given with default options, with the second header field as
/// a covariate, with every cap lowered so that small inputs reach the limits, and gzip-compressed.
pub fn csv(bytes: &[u8]) {
    let defaults = LoadOptions::default();
    show(&parse_csv(bytes, &defaults));

    if let Some(covariate) = second_header_field(bytes) {
        let opts = LoadOptions {
            covariates: vec![covariate],
            ..LoadOptions::default()
        };
        show(&parse_csv(bytes, &opts));
    }

    let tight = LoadOptions {
        covariates: second_header_field(bytes).into_iter().collect(),
        max_bytes: 4096,
        min_cells_per_condition: 2,
        max_columns: 6,
        max_conditions: 3,
        max_covariate_levels: 2,
        max_perturbations: 3,
        ..LoadOptions::default()
    };
    show(&parse_csv(bytes, &tight));

    // Large inputs are stored rather than compressed: the inflater sees those bytes as they are
    // anyway, and compressing them would take most of the time.
    let level = if bytes.len() <= 16 * 1024 {
        flate2::Compression::fast()
    } else {
        flate2::Compression::none()
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), level);
    gz.write_all(bytes).expect("gzip into memory");
    let gz = gz.finish().expect("gzip into memory");
    show(&parse_csv(&gz, &defaults));
    // A gzip stream cut short: a truncated upload.
    show(&parse_csv(&gz[..gz.len() / 2], &defaults));
}

/// The split-file reader: the first byte is the number of data rows, the rest is the file.
pub fn split_file(bytes: &[u8]) {
    let (n_cells, file) = match bytes.split_first() {
        Some((&n, rest)) => (usize::from(n), rest),
        None => (0, bytes),
    };
    show(&parse_split_file(file, n_cells));
}

/// The truth-file reader, on the bytes as (lossy) UTF-8 text; a truth that reads must also give
/// every one of its perturbations (and their pairwise combinations) an effect.
pub fn truth(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let r = MaskTruth::from_json(&text);
    show(&r);
    if let Ok(t) = r {
        let names: Vec<&String> = t.effects.keys().take(8).collect();
        for a in &names {
            for b in &names {
                let _ = t.effect_of(&format!("{a}+{b}"));
            }
        }
    }
}

/// Settings validation, two ways: the input as `key=value` lines given to [`Settings::set`] (a
/// line without `=` sets the setting whose position in the schema is the line's), then
/// [`Settings::check`]; and the whole input as JSON, read as [`Settings`] and as a stored
/// [`RunConfig`]. A config that passes the check must also read back from its own JSON.
pub fn settings(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);

    let mut s = Settings::default();
    for (i, line) in text.lines().enumerate() {
        let r = match line.split_once('=') {
            Some((key, value)) => s.set(key, value),
            None => s.set(SCHEMA[i % SCHEMA.len()].key, line),
        };
        show(&r);
    }
    checked(s);

    let r = serde_json::from_str::<Settings>(&text);
    show(&r);
    if let Ok(s) = r {
        checked(s);
    }
    show(&serde_json::from_str::<RunConfig>(&text));
}

/// Checks settings; a config that passes is used the way a run uses it.
fn checked(s: Settings) {
    let r = s.check();
    show(&r);
    let Ok(cfg) = r else { return };
    let _ = (cfg.load_options(), cfg.train(), cfg.sams(), cfg.notes());
    let _ = (cfg.align_epochs(), cfg.holdout(), cfg.model(), cfg.seed());
    let json = serde_json::to_string(&cfg).expect("a checked config serialises");
    let back: RunConfig = match serde_json::from_str(&json) {
        Ok(back) => back,
        Err(e) => panic!("a checked config does not read back: {e}\n{json}"),
    };
    // Floats are parsed with exact rounding (serde_json's `float_roundtrip`): the JSON of a
    // config must read back to exactly the same config.
    let a = serde_json::to_value(&cfg).expect("a checked config serialises");
    let b = serde_json::to_value(&back).expect("a checked config serialises");
    assert!(
        a == b,
        "a checked config changes in its JSON round trip\n{a}\n{b}"
    );
}

/// The AnnData reader: the bytes with default options (every guess made), and with a named
/// matrix, a covariate, `_` as the joiner and a dense budget so small that gene selection runs.
pub fn h5ad(bytes: &[u8]) {
    show(&parse_h5ad(
        bytes.to_vec(),
        &LoadOptions::default(),
        &FormatOptions::default(),
    ));
    let opts = LoadOptions {
        covariates: vec!["cell_type".into()],
        ..LoadOptions::default()
    };
    let tight = FormatOptions {
        layer: "X".into(),
        joiner: Joiner::Underscore,
        max_dense_values: 64,
        min_genes: 2,
    };
    show(&parse_h5ad(bytes.to_vec(), &opts, &tight));
}
