//! Replicate seeds: the t interval by hand, `--seeds 3` end to end (intervals hold every seed,
//! the first seed is the single run, reruns are byte-identical), and verdicts that need the
//! whole interval past the baseline.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cellshift::results::RunResults;
use cellshift::seeds::{self, Interval, SeedsError, t975};
use cellshift::verdict::verdict;

/// A short run of the sample: cheap, but every metric is computed.
const QUICK: [&str; 10] = [
    "--genes",
    "60",
    "--epochs",
    "4",
    "--iwelbo-particles",
    "8",
    "--ate-samples",
    "100",
    "--seed",
    "7",
];

fn train(dir: &str, extra: &[&str]) -> PathBuf {
    let out = tempdir(dir);
    let mut args = vec![
        "train",
        "--sample",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(QUICK);
    args.extend(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn results(dir: &Path) -> RunResults {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// `--seeds 3`, trained once for every test here.
fn three_seeds() -> &'static PathBuf {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| train("seeds-three", &["--seeds", "3"]))
}

#[test]
fn t_quantiles_are_students() {
    assert_eq!(t975(0), None);
    // Tables of Student's t: 12.706 (1 df), 4.303 (2), 2.228 (10), 2.093 (19).
    for (df, t) in [(1, 12.706), (2, 4.303), (10, 2.228), (19, 2.093)] {
        assert!((t975(df).unwrap() - t).abs() < 5e-4, "df {df}");
    }
    // Beyond the table, the expansion: scipy.stats.t.ppf(0.975, df) for 20, 30 and 1000.
    for (df, t) in [(20, 2.0859634473), (30, 2.0422724563), (1000, 1.9623390808)] {
        assert!((t975(df).unwrap() - t).abs() < 1e-4, "df {df}");
    }
    let all: Vec<f64> = (1..40).map(|d| t975(d).unwrap()).collect();
    assert!(all.windows(2).all(|w| w[1] < w[0]));
}

#[test]
fn interval_of_one_two_three_by_hand() {
    // mean 2, s = 1, half-width 4.3026527297 / √3.
    let i = Interval::of(&[1.0, 2.0, 3.0]).unwrap();
    let half = 4.3026527297 / 3f64.sqrt();
    assert!((i.mean - 2.0).abs() < 1e-12 && (i.sd - 1.0).abs() < 1e-12);
    assert!((i.low - (2.0 - half)).abs() < 1e-9 && (i.high - (2.0 + half)).abs() < 1e-9);
    assert_eq!(i.n, 3);
    // Values that are not numbers do not count; one value gives no interval.
    assert_eq!(Interval::of(&[1.0, f64::NAN, 3.0]).unwrap().n, 2);
    assert!(Interval::of(&[4.0]).is_none());
    assert!(Interval::of(&[]).is_none());
    // Equal values: a zero-width interval at the value.
    let flat = Interval::of(&[0.5; 4]).unwrap();
    assert_eq!((flat.low, flat.high), (0.5, 0.5));
}

#[test]
fn three_seeds_report_means_and_intervals_holding_every_seed() {
    let r = results(three_seeds());
    let model = r.model().name();
    let scores = &r.scores[model];
    let s = scores.seeds.as_ref().expect("a seeds summary");
    assert_eq!(s.split_seed, 7);
    let model_seeds: Vec<u64> = s.runs.iter().map(|run| run.seed).collect();
    assert_eq!(model_seeds, [7, 8, 9]);
    assert!(s.intervals.contains_key("mean_shift_r") && s.intervals.contains_key("iwelbo"));
    for (key, i) in &s.intervals {
        assert_eq!(i.n, 3, "{key}");
        let values: Vec<f64> = s.runs.iter().filter_map(|run| run.values[key]).collect();
        let mean = values.iter().sum::<f64>() / 3.0;
        assert!((i.mean - mean).abs() < 1e-12, "{key}");
        for v in &values {
            assert!(i.contains(*v), "{key}: {v} outside [{}, {}]", i.low, i.high);
        }
    }
    // The seeds differ (else the interval says nothing), and the scoreboard row is the mean.
    let r_values: Vec<f64> = s
        .runs
        .iter()
        .map(|run| run.values["mean_shift_r"].unwrap())
        .collect();
    assert!(r_values.windows(2).any(|w| w[0] != w[1]));
    assert_eq!(
        scores.pooled.mean_shift_r,
        Some(s.intervals["mean_shift_r"].mean)
    );
    assert_eq!(scores.iwelbo, Some(s.intervals["iwelbo"].mean));
    // seeds.csv: a row per seed, then mean and interval.
    let csv = std::fs::read_to_string(three_seeds().join("seeds.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(
        rows,
        [
            "row",
            "seed",
            "seed",
            "seed",
            "mean",
            "ci95_low",
            "ci95_high"
        ]
    );
}

#[test]
fn the_first_seed_is_the_single_run_and_baselines_do_not_move() {
    let three = results(three_seeds());
    let one = results(&train("seeds-one", &[]));
    let model = one.model().name();
    assert!(one.scores[model].seeds.is_none());
    let first = &three.scores[model].seeds.as_ref().unwrap().runs[0];
    assert_eq!(first.values, seeds::pooled_values(&one.scores[model]));
    for (name, s) in &one.scores {
        if name != model {
            assert_eq!(s, &three.scores[name], "{name}");
        }
    }
    assert_eq!(one.split.test_cells, three.split.test_cells);
}

#[test]
fn same_seeds_twice_give_byte_identical_scores() {
    let again = train("seeds-again", &["--seeds", "3"]);
    let scores = |dir: &PathBuf| {
        let v = read_json(&dir.join("results.json"));
        let mut s = v["scores"].clone();
        // Training time is the one thing that may differ.
        for run in s["cvae"]["seeds"]["runs"].as_array_mut().unwrap() {
            run["seconds"] = serde_json::Value::Null;
        }
        serde_json::to_string(&s).unwrap()
    };
    assert_eq!(scores(three_seeds()), scores(&again));
}

/// Three replicates of `base` whose model has mean-shift r `values`.
fn replicates(base: &RunResults, values: [f64; 3]) -> Vec<RunResults> {
    let model = base.model().name().to_string();
    (0..3)
        .map(|k| {
            let mut r = base.clone();
            r.config = r.config.clone().with_replicate(k);
            let s = r.scores.get_mut(&model).unwrap();
            s.seeds = None;
            s.pooled.mean_shift_r = Some(values[k]);
            r
        })
        .collect()
}

#[test]
fn a_verdict_needs_the_whole_interval_past_the_baseline() {
    let base = results(&train("seeds-verdict", &[]));
    let model = base.model().name();
    let b = base
        .scores
        .iter()
        .filter(|(n, _)| cellshift::baselines::counts_as_baseline(n))
        .filter_map(|(_, s)| s.pooled.mean_shift_r)
        .fold(f64::NEG_INFINITY, f64::max);
    let r_verdict = |values: [f64; 3]| {
        let combined = seeds::combine(replicates(&base, values)).unwrap();
        let v = verdict(&combined, model).unwrap();
        let m = v.metrics.into_iter().find(|m| m.metric == "r").unwrap();
        (m.beats, m.undecided, m.interval.unwrap(), v.sentence)
    };
    // Every seed above the baseline, tightly: a win.
    let (beats, undecided, [lo, _], _) = r_verdict([b + 0.010, b + 0.011, b + 0.012]);
    assert!(beats && !undecided && lo > b);
    // The mean above the baseline, but one seed below it: the interval holds it, no win.
    let (beats, undecided, [lo, hi], sentence) = r_verdict([b - 0.03, b + 0.02, b + 0.04]);
    assert!(!beats && undecided && lo < b && b < hi);
    assert!(sentence.contains("cannot tell it apart"), "{sentence}");
    assert!(sentence.contains("means over 3 seeds"), "{sentence}");
    // Every seed below: a loss.
    let (beats, undecided, _, _) = r_verdict([b - 0.2, b - 0.21, b - 0.22]);
    assert!(!beats && !undecided);
}

#[test]
fn only_replicates_of_one_run_combine() {
    let base = results(three_seeds());
    assert_eq!(seeds::combine(Vec::new()).unwrap_err(), SeedsError::Empty);
    let mut twice = replicates(&base, [0.1, 0.2, 0.3]);
    twice[1].config = twice[1].config.clone().with_replicate(0);
    assert_eq!(seeds::combine(twice).unwrap_err(), SeedsError::Duplicate(0));
    let mut other = replicates(&base, [0.1, 0.2, 0.3]);
    other[2].data.sha256 = "ff".repeat(32);
    assert_eq!(
        seeds::combine(other).unwrap_err(),
        SeedsError::Mismatch {
            index: 2,
            what: "data"
        }
    );
    // One run comes back unchanged.
    let single = replicates(&base, [0.1, 0.2, 0.3]).remove(0);
    let back = seeds::combine(vec![single.clone()]).unwrap();
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        serde_json::to_string(&single).unwrap()
    );
}
