//! The command line end to end: outputs, the real PBMC task, and bad input handled without panics.

mod common;
use common::*;

#[test]
fn train_writes_results_config_and_scoreboard_figures() {
    let out = tempdir("cli-train");
    let o = run(&[
        "train",
        "--sample",
        "--epochs",
        "6",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("scoreboard") && stdout.contains("control_mean") && stdout.contains("cvae")
    );
    // The verdict against the best baseline is printed, whichever way it goes.
    assert!(stdout.contains("verdict: cvae "), "{stdout}");
    let r = read_json(&out.join("results.json"));
    for key in ["config", "data", "train", "scores", "split", "figures"] {
        assert!(r.get(key).is_some(), "results.json lacks {key}");
    }
    assert_eq!(r["data"]["genes"], 200);
    assert_eq!(r["data"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(r["train"]["history"].as_array().unwrap().len(), 6);
    for k in ["25", "50", "100"] {
        assert!(r["scores"]["cvae"]["pooled"]["jaccard"][k].is_number());
    }
    assert!(r["scores"]["control_mean"]["pooled"]["mean_shift_r"].is_null());
    let cfg = read_json(&out.join("config.json"));
    assert_eq!(cfg["model"], "cvae");
    assert_eq!(cfg["epochs"], 6);
    assert_eq!(cfg, r["config"], "config.json is the results' config");
    // Results read back: the stored config is checked again on the way in.
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let back: cellshift::results::RunResults =
        serde_json::from_str(&text).expect("results.json reads back");
    assert_eq!(back.config.settings().epochs, 6);
    // The PNG has the documented size and real content; the SVG is a drawing with text.
    let png = std::fs::read(out.join("scoreboard.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (1600, 1200));
    assert!(
        png.len() > 50_000,
        "a blank PNG compresses to almost nothing ({} bytes)",
        png.len()
    );
    let svg = std::fs::read_to_string(out.join("scoreboard.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("PC1"));
}

#[test]
fn same_seed_twice_gives_byte_identical_scores() {
    let scores = |dir: &str| {
        let out = tempdir(dir);
        let o = run(&[
            "train",
            "--sample",
            "--epochs",
            "10",
            "--seed",
            "5",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r = read_json(&out.join("results.json"));
        serde_json::to_string(&r["scores"]).unwrap()
    };
    assert_eq!(scores("seed-a"), scores("seed-b"));
}

#[test]
fn sample_command_writes_csv_and_truth() {
    let out = tempdir("cli-sample");
    let csv = out.join("demo.csv");
    let o = run(&["sample", "--out", csv.to_str().unwrap()]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("condition,"));
    let truth = read_json(&out.join("demo.truth.json"));
    assert!(truth["perturbations"]["A"]["dims"].is_array());
}

#[test]
fn kang_pbmc_cd14_mono_holdout_beats_threshold() {
    let Some(path) = shared_data("kang2018_pbmc_ifnb.csv") else {
        return;
    };
    let out = tempdir("cli-kang");
    let o = run(&[
        "train",
        "--data",
        path.to_str().unwrap(),
        "--covariate",
        "cell_type",
        "--holdout-group",
        "cell_type=CD14+Mono",
        "--model",
        "cvae",
        "--likelihood",
        "nb",
        "--seed",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = read_json(&out.join("results.json"));
    let model = r["scores"]["cvae"]["pooled"]["mean_shift_r"]
        .as_f64()
        .unwrap();
    let group = r["scores"]["group_shift"]["pooled"]["mean_shift_r"]
        .as_f64()
        .unwrap();
    println!("kang CD14+Mono: cvae r = {model:.3}, group_shift r = {group:.3}");
    assert_eq!(
        r["split"]["test_conditions"],
        serde_json::json!(["stimulated"])
    );
    assert!(model >= 0.7, "cvae r {model} < 0.7");
}

/// Each malformed input exits non-zero with a message naming the problem, and never panics.
#[test]
fn bad_inputs_exit_with_specific_errors_and_no_panic() {
    let dir = tempdir("cli-bad");
    let cases: &[(&str, &str, &str)] = &[
        ("empty", "", "empty"),
        ("header", "condition,g1,g2\n", "header"),
        ("nocond", "cond,g1\ncontrol,1\n", "condition"),
        ("ragged", "condition,g1,g2\ncontrol,1,2\nA,1\n", "line 3"),
        ("text", "condition,g1,g2\ncontrol,1,2\nA,1,abc\n", "abc"),
        ("nan", "condition,g1,g2\ncontrol,1,2\nA,NaN,2\n", "NaN"),
        ("neg", "condition,g1,g2\ncontrol,1,2\nA,-3,2\n", "-3"),
        ("dup", "condition,g1,g1\ncontrol,1,2\nA,1,2\n", "g1"),
        ("nogenes", "condition\ncontrol\nA\n", "gene"),
        ("noctrl", "condition,g1\nA,1\nB,2\n", "control"),
    ];
    for (name, text, needle) in cases {
        let p = dir.join(format!("{name}.csv"));
        std::fs::write(&p, text).unwrap();
        let o = run(&[
            "train",
            "--data",
            p.to_str().unwrap(),
            "--epochs",
            "1",
            "--out",
            dir.join("o").to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(needle),
            "{name}: `{err}` should mention {needle}"
        );
        assert!(!err.contains("panicked"), "{name} panicked: {err}");
    }
    // A missing file and a bad flag value are errors too, not panics.
    let o = run(&[
        "train",
        "--data",
        "/nonexistent/x.csv",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.csv")
    );
    let o = run(&[
        "train",
        "--sample",
        "--holdout-group",
        "cell_type",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("COVARIATE=LEVEL"));
    let o = run(&[
        "train",
        "--sample",
        "--likelihood",
        "poisson",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("poisson"));
}

/// Every setting of the table is a flag of `train`, with the table's default in its help.
#[test]
fn every_setting_is_a_flag_with_its_default() {
    let o = run(&["train", "--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    let defaults = serde_json::to_value(cellshift::config::Settings::default()).unwrap();
    for spec in cellshift::config::SCHEMA {
        let flag = format!("--{} ", spec.flag);
        let at = help
            .find(&flag)
            .unwrap_or_else(|| panic!("no flag {flag}in\n{help}"));
        // The entry runs to the next flag.
        let entry = &help[at..];
        let entry = &entry[..entry[2..].find("\n  -").map_or(entry.len(), |i| i + 2)];
        let shown = match &defaults[spec.key] {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        if let Some(d) = shown {
            assert!(
                entry.contains(&format!("[default: {d}]")),
                "{flag}: default {d} not in `{entry}`"
            );
        }
    }
}

/// Settings are checked before any file is read: a bad value is reported even when the data
/// file does not exist, naming the flag.
#[test]
fn settings_are_checked_before_the_data_is_read() {
    let dir = tempdir("cli-settings");
    let o = run(&[
        "train",
        "--data",
        "/nonexistent/x.csv",
        "--lr",
        "-1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--lr") && err.contains("learning rate") && !err.contains("nonexistent"),
        "{err}"
    );
    let o = run(&[
        "train",
        "--sample",
        "--holdout-conditions",
        "A+B",
        "--holdout-group",
        "x=y",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not both"));
}

/// The bundled Kang 2018 data trains with no file at hand, on its classic task's settings.
#[test]
fn the_bundled_kang_dataset_trains_with_its_task() {
    let out = tempdir("cli-kang-bundled");
    let o = run(&[
        "train",
        "--dataset",
        "kang2018",
        "--epochs",
        "2",
        "--iwelbo-particles",
        "5",
        "--ate-samples",
        "50",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = read_json(&out.join("results.json"));
    assert_eq!(r["data"]["source"], "kang2018");
    assert_eq!(r["data"]["cells"], 1975);
    assert_eq!(r["data"]["covariates"], serde_json::json!(["cell_type"]));
    assert_eq!(r["config"]["holdout_group"], "cell_type=CD14+Mono");
    assert_eq!(
        r["split"]["test_conditions"],
        serde_json::json!(["stimulated"])
    );
    assert!(r["scores"]["group_shift"]["pooled"]["mean_shift_r"].is_number());
    // The bundled file is the shared data set, compressed: the same cells and values.
    if let Some(path) = shared_data("kang2018_pbmc_ifnb.csv") {
        let opts = cellshift::data::LoadOptions {
            covariates: vec!["cell_type".into()],
            ..Default::default()
        };
        let shared = cellshift::data::load_path(&path, &opts).unwrap();
        let bundled =
            cellshift::data::parse_csv(cellshift::datasets::KANG2018.bytes(), &opts).unwrap();
        assert_eq!(
            (shared.genes, shared.values.data),
            (bundled.genes, bundled.values.data)
        );
    }
    // Flags override the dataset's settings; an unknown name is refused by name.
    let o = run(&[
        "train",
        "--dataset",
        "kang2018",
        "--holdout-group",
        "cell_type=B",
        "--epochs",
        "1",
        "--iwelbo-particles",
        "2",
        "--ate-samples",
        "20",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        read_json(&out.join("results.json"))["config"]["holdout_group"],
        "cell_type=B"
    );
    let o = run(&[
        "train",
        "--dataset",
        "pbmc9",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("pbmc9"));
}

/// A label that looks like a formula is written so that no spreadsheet runs it, and labels with
/// commas or quotes stay one cell.
#[test]
fn scores_csv_cells_are_escaped_and_never_formulas() {
    let dir = tempdir("cli-csv");
    let csv = dir.join("odd.csv");
    let mut text = String::from("condition,g1,g2,g3\n");
    for i in 0..40 {
        let label = ["control", "=HYPERLINK(\"x\")", "a,\"b\""][i % 3];
        let label = if label.contains([',', '"']) {
            format!("\"{}\"", label.replace('"', "\"\""))
        } else {
            label.to_string()
        };
        text += &format!("{label},{},{},{}\n", i % 5, (i * 7) % 4, (i * 3) % 6);
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.join("o");
    let o = run(&[
        "train",
        "--data",
        csv.to_str().unwrap(),
        "--epochs",
        "1",
        "--genes",
        "3",
        "--iwelbo-particles",
        "2",
        "--ate-samples",
        "10",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let scores = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(scores.as_bytes());
    let labels: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[1].to_string())
        .collect();
    assert!(
        labels.iter().any(|l| l == "'=HYPERLINK(\"x\")"),
        "{labels:?}"
    );
    assert!(labels.iter().any(|l| l == "a,\"b\""), "{labels:?}");
    assert!(
        !scores
            .lines()
            .any(|l| l.split(',').nth(1).is_some_and(|c| c.starts_with('=')))
    );
}

/// Side files (truth, split) are read no further than the input limit: an endless stream is
/// refused instead of filling memory.
#[test]
fn side_files_are_read_within_the_input_limit() {
    let dir = tempdir("cli-side");
    let o = run(&[
        "train",
        "--sample",
        "--truth",
        "/dev/zero",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/dev/zero") && err.contains("input limit"),
        "{err}"
    );
}
