//! Scoreboard rendering: PNG and SVG output, and degenerate inputs.
#![cfg(feature = "cli")]

use std::collections::{BTreeMap, BTreeSet};

use cellshift::charts::{
    Theme, draw_jaccard, draw_pca, draw_scoreboard, draw_shift_scatter, draw_training_curves,
};
use cellshift::render::{
    register_fonts, scoreboard_png, scoreboard_rgb, scoreboard_svg, scoreboard_svg_string,
};
use cellshift::results::{
    DataSummary, EpochRecord, Figures, PcaFigure, RunResults, ScoreSet, Scores, ShiftFigure,
    SplitSummary, TrainSummary,
};
use plotters::prelude::*;

/// Deterministic pseudo-random numbers in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.next().max(1e-12);
        let v = self.next();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn score(r: Option<f64>, j: [Option<f64>; 3], e: Option<f64>) -> Scores {
    let set = ScoreSet {
        mean_shift_r: r,
        jaccard: ["25", "50", "100"]
            .iter()
            .zip(j)
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        energy_distance: e,
        ..Default::default()
    };
    Scores {
        pooled: set.clone(),
        conditions: BTreeMap::from([("IFNB".to_string(), set)]),
        ..Default::default()
    }
}

fn terms(loss: f64) -> BTreeMap<String, f64> {
    BTreeMap::from([
        ("loss".to_string(), loss),
        ("recon".to_string(), loss * 0.9),
        ("kl".to_string(), loss * 0.1),
    ])
}

fn sample_results() -> RunResults {
    let mut rng = Lcg(7);
    let true_shift: Vec<f64> = (0..50).map(|_| rng.normal()).collect();
    let pred_shift: Vec<f64> = true_shift
        .iter()
        .map(|t| 0.85 * t + 0.3 * rng.normal())
        .collect();
    let cloud = |rng: &mut Lcg, n: usize, cx: f64, cy: f64| -> Vec<[f32; 2]> {
        (0..n)
            .map(|_| [(cx + rng.normal() * 1.5) as f32, (cy + rng.normal()) as f32])
            .collect()
    };
    let control = cloud(&mut rng, 300, -3.0, 0.0);
    let truth = cloud(&mut rng, 200, 3.0, 1.0);
    let predicted = cloud(&mut rng, 200, 2.5, 0.6);

    let scores = BTreeMap::from([
        (
            "cvae".to_string(),
            score(Some(0.93), [Some(0.52), Some(0.47), Some(0.41)], Some(0.8)),
        ),
        (
            "control_mean".to_string(),
            score(None, [None, None, None], Some(3.1)),
        ),
        (
            "perturbation_mean".to_string(),
            score(Some(0.71), [Some(0.31), Some(0.29), Some(0.33)], Some(1.9)),
        ),
        (
            "additive".to_string(),
            score(Some(0.64), [Some(0.22), None, Some(0.25)], Some(2.2)),
        ),
    ]);
    let history = vec![
        EpochRecord {
            epoch: 1,
            beta: 0.1,
            train: terms(812.0),
            val: terms(790.0),
        },
        EpochRecord {
            epoch: 2,
            beta: 0.5,
            train: terms(640.0),
            val: terms(655.0),
        },
        EpochRecord {
            epoch: 3,
            beta: 1.0,
            train: terms(590.0),
            val: terms(612.0),
        },
    ];
    RunResults {
        cellshift_version: "0.1.0".to_string(),
        config: cellshift::config::Settings::default().check().unwrap(),
        data: DataSummary {
            cells: 1_200,
            genes: 500,
            genes_in_file: 2_000,
            sha256: "00".repeat(32),
            source: "data/kang_ifnb_sample.csv.gz".to_string(),
            values: "counts".to_string(),
            covariates: vec!["cell_type".to_string()],
            conditions: BTreeMap::from([("control".to_string(), 600), ("IFNB".to_string(), 600)]),
            warnings: vec![],
        },
        split: SplitSummary {
            kind: "conditions".to_string(),
            train_cells: 800,
            val_cells: 100,
            test_cells: 300,
            test_conditions: vec!["IFNB".to_string()],
            unpredictable: BTreeMap::new(),
        },
        train: TrainSummary {
            epochs: 3,
            best_epoch: 3,
            stopped_early: false,
            seconds: 12.5,
            backend: "flex".to_string(),
            history,
            diverged: None,
        },
        scores,
        figures: Figures {
            shift: ShiftFigure {
                model: "cvae".to_string(),
                true_shift,
                pred_shift,
                r: Some(0.93),
            },
            pca: PcaFigure {
                model: "cvae".to_string(),
                explained_variance_ratio: vec![0.312, 0.108],
                control,
                truth,
                predicted,
            },
            masks: None,
        },
    }
}

fn degenerate_results() -> RunResults {
    let mut r = sample_results();
    r.train.history.clear();
    r.figures.pca = PcaFigure::default();
    r.figures.shift = ShiftFigure {
        model: "cvae".to_string(),
        true_shift: vec![0.0; 10],
        pred_shift: vec![0.0; 10],
        r: None,
    };
    for s in r.scores.values_mut() {
        s.pooled.mean_shift_r = None;
        for v in s.pooled.jaccard.values_mut() {
            *v = None;
        }
    }
    r
}

/// Non-background pixels and distinct colours in an RGB buffer.
fn pixel_stats(rgb: &[u8]) -> (usize, usize) {
    let mut non_white = 0;
    let mut colours = BTreeSet::new();
    for px in rgb.chunks_exact(3) {
        if px != [255, 255, 255] {
            non_white += 1;
        }
        colours.insert((px[0], px[1], px[2]));
    }
    (non_white, colours.len())
}

#[test]
fn png_file_has_requested_size() {
    let dir = std::env::temp_dir().join(format!("cellshift-charts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scoreboard.png");
    scoreboard_png(&sample_results(), &path, 1000, 750).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1000, 750));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn png_pixels_are_not_blank() {
    let (w, h) = (1200, 900);
    let rgb = scoreboard_rgb(&sample_results(), w, h).unwrap();
    assert_eq!(rgb.len(), (w * h * 3) as usize);
    let (non_white, colours) = pixel_stats(&rgb);
    let fraction = non_white as f64 / f64::from(w * h);
    assert!(
        fraction > 0.04,
        "only {fraction:.3} of the pixels are drawn"
    );
    assert!(fraction < 0.8, "{fraction:.3} of the pixels are drawn");
    assert!(colours > 50, "only {colours} distinct colours");
}

#[test]
fn sample_png_is_written() {
    let path = std::env::temp_dir().join("scoreboard_sample.png");
    scoreboard_png(&sample_results(), &path, 1600, 1200).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 10_000);
}

#[test]
fn each_panel_draws_on_a_buffer() {
    register_fonts();
    let results = sample_results();
    let theme = Theme::default();
    let (w, h) = (600u32, 450u32);
    type Panel = fn(&DrawingArea<BitMapBackend, plotters::coord::Shift>, &RunResults, &Theme);
    let panels: [(&str, Panel); 4] = [
        ("shift", |a, r, t| {
            draw_shift_scatter(a, &r.figures.shift, t).unwrap()
        }),
        ("jaccard", |a, r, t| draw_jaccard(a, &r.scores, t).unwrap()),
        ("pca", |a, r, t| draw_pca(a, &r.figures.pca, t).unwrap()),
        ("training", |a, r, t| {
            draw_training_curves(a, &r.train.history, t).unwrap()
        }),
    ];
    for (name, draw) in panels {
        let mut buf = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            root.fill(&WHITE).unwrap();
            draw(&root, &results, &theme);
            root.present().unwrap();
        }
        let (non_white, colours) = pixel_stats(&buf);
        assert!(
            non_white > (w * h / 50) as usize,
            "{name}: {non_white} drawn pixels"
        );
        assert!(colours > 10, "{name}: {colours} colours");
    }
}

#[test]
fn svg_has_text() {
    let svg = scoreboard_svg_string(&sample_results(), 1200, 900).unwrap();
    assert!(svg.starts_with("<svg"));
    for text in [
        "PC1 (31.2%)",
        "PC2 (10.8%)",
        "r = 0.93",
        "control_mean (n/a)",
        "additive (n/a at K = 50)",
        "loss · train",
        "K = 25",
        "kang_ifnb_sample.csv.gz",
    ] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    let path = std::env::temp_dir().join(format!("cellshift-{}.svg", std::process::id()));
    scoreboard_svg(&sample_results(), &path, 800, 600).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("PC1"));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn degenerate_inputs_render() {
    let results = degenerate_results();
    let rgb = scoreboard_rgb(&results, 900, 600).unwrap();
    assert!(pixel_stats(&rgb).0 > 0);
    let svg = scoreboard_svg_string(&results, 900, 600).unwrap();
    assert!(svg.contains("no training history"));
    assert!(svg.contains("no cells to show"));
    assert!(svg.contains("r undefined"));

    // NaN, infinities, mismatched lengths, equal values, no scores at all.
    let mut odd = sample_results();
    odd.scores.clear();
    odd.figures.shift.true_shift = vec![f64::NAN, f64::INFINITY, 1.0, 1.0];
    odd.figures.shift.pred_shift = vec![1.0, 2.0, 1.0];
    odd.figures.shift.r = Some(f64::NAN);
    odd.figures.pca.control = vec![[f32::NAN, 0.0], [2.0, 2.0]];
    odd.figures.pca.truth = vec![[2.0, 2.0]];
    odd.figures.pca.predicted.clear();
    odd.figures.pca.explained_variance_ratio.clear();
    odd.train.history.truncate(1);
    odd.train.history[0]
        .val
        .insert("loss".to_string(), f64::NAN);
    let svg = scoreboard_svg_string(&odd, 900, 600).unwrap();
    assert!(svg.contains("no scores"));
    assert!(svg.contains("r undefined"));
    scoreboard_rgb(&odd, 900, 600).unwrap();

    // Tiny and high-DPI sizes, and an invalid theme scale.
    scoreboard_rgb(&sample_results(), 40, 30).unwrap();
    scoreboard_rgb(&sample_results(), 2400, 1800).unwrap();
    assert!(scoreboard_rgb(&sample_results(), 0, 10).is_err());
    register_fonts();
    let mut buf = vec![0u8; 300 * 200 * 3];
    let root = BitMapBackend::with_buffer(&mut buf, (300, 200)).into_drawing_area();
    let theme = Theme {
        scale: f64::NAN,
        ..Theme::default()
    };
    draw_scoreboard(&root, &odd, &theme).unwrap();
}

#[test]
fn output_is_deterministic() {
    let a = scoreboard_rgb(&sample_results(), 640, 480).unwrap();
    let b = scoreboard_rgb(&sample_results(), 640, 480).unwrap();
    assert!(a == b);
    let a = scoreboard_svg_string(&sample_results(), 640, 480).unwrap();
    let b = scoreboard_svg_string(&sample_results(), 640, 480).unwrap();
    assert_eq!(a, b);
}
