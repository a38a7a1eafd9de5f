//! The SAMS-VAE family on generated data: sparse masks within the default budget, held-out
//! combinations, IWELBO against ELBO, the ATE metric, results fields, validation and the
//! benchmark split file.

mod common;
use common::*;

use burn::tensor::{Device, Tensor, TensorData};
use cellshift::config::{ModelName, RunConfig, Settings};
use cellshift::data::Dataset;
use cellshift::masks::{self, MaskTruth};
use cellshift::matrix::Matrix;
use cellshift::metrics;
use cellshift::model::sams;
use cellshift::pipeline::Session;
use cellshift::results::RunResults;
use cellshift::rng::Rng;
use cellshift::rotation;
use cellshift::sample::{SampleConfig, SampleTruth, generate};
use cellshift::split::{self, Holdout, SplitError};

/// A change to valid settings that one rule refuses.
type Mutation = fn(&mut Settings);

fn sample() -> (Dataset, SampleTruth) {
    generate(&SampleConfig::default()).expect("sample generates")
}

/// Checked settings (every test's settings are valid).
fn check(s: Settings) -> RunConfig {
    s.check().expect("valid settings")
}

fn trained(ds: Dataset, cfg: RunConfig, truth: Option<MaskTruth>) -> Session {
    let device = Device::flex().autodiff();
    let mut s = Session::new(ds, "sample", cfg, &device).expect("session starts");
    if let Some(t) = truth {
        s = s.with_truth(t);
    }
    while !s.is_done() {
        pollster::block_on(s.step()).expect("epoch runs");
    }
    s
}

fn evaluate(s: &Session) -> RunResults {
    pollster::block_on(s.evaluate(0.0, "flex")).expect("evaluation runs")
}

/// Default budget on the sample: masks end up sparse, the model predicts held-out cells at
/// least as well as the cVAE's threshold, and IWELBO behaves as a bound should.
#[test]
fn sams_masks_are_sparse_and_iwelbo_bounds_elbo_on_the_sample() {
    let (ds, truth) = sample();
    let cfg = check(Settings {
        model: ModelName::Sams,
        ..Settings::default()
    });
    let s = trained(ds, cfg, Some(MaskTruth::from_sample(&truth)));
    let r = evaluate(&s);
    let m = r.figures.masks.as_ref().expect("SAMS-VAE draws its masks");
    let true_active = m.true_mean_active.expect("truth given");
    println!(
        "sample masks: {:.2} active dims per perturbation (truth {true_active:.2}), overlap Spearman {:?}",
        m.mean_active, m.overlap_spearman
    );
    assert!(
        m.mean_active <= 2.0 * true_active && m.mean_active >= true_active / 2.0,
        "mean active dims {} not within 2x of the truth's {true_active}",
        m.mean_active
    );
    // The right dims, up to their order: pairs of perturbations share latent dims as in the truth.
    let overlap = m.overlap_spearman.expect("overlaps vary");
    assert!(
        overlap >= 0.7,
        "pairwise mask overlap vs truth: Spearman {overlap}"
    );
    assert_eq!(m.perturbations.len(), truth.perturbations.len());
    assert!(m.probs.iter().flatten().all(|p| (0.0..=1.0).contains(p)));
    let sams = &r.scores["sams"];
    let shift_r = sams.pooled.mean_shift_r.unwrap();
    let ate = sams.ate.as_ref().expect("model ATE");
    println!(
        "sample: pooled r {shift_r:.3}, ATE r {:?} / top-20 {:?}, IWELBO {:?}",
        ate.r, ate.r_top20, sams.iwelbo
    );
    assert!(shift_r >= 0.8, "pooled mean-shift r {shift_r}");
    assert!(ate.r_top20.unwrap() >= 0.8);

    // IWELBO ≥ ELBO on the same particles, and it rises with K on average.
    let cells = s.scorable_test_cells();
    let bounds: Vec<_> = [1, 10, 100]
        .into_iter()
        .map(|k| {
            pollster::block_on(s.likelihood_bounds(&cells, k))
                .unwrap()
                .expect("cells to score")
        })
        .collect();
    for b in &bounds {
        println!(
            "K-particle bounds: IWELBO {:.3}, ELBO {:.3} over {} cells",
            b.iwelbo, b.elbo, b.cells
        );
        assert!(
            b.iwelbo >= b.elbo - 1e-3,
            "IWELBO {} < ELBO {}",
            b.iwelbo,
            b.elbo
        );
    }
    assert!(
        (bounds[0].iwelbo - bounds[0].elbo).abs() < 1e-3,
        "with K = 1 both are the same estimate"
    );
    assert!(
        bounds[1].iwelbo > bounds[0].iwelbo && bounds[2].iwelbo > bounds[1].iwelbo,
        "IWELBO should grow with K"
    );
    assert!(
        (sams.iwelbo.unwrap() - bounds[2].iwelbo).abs() < 1e-6,
        "results use K = 100"
    );

    // results.json: per model iwelbo and ate; null for baselines.
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["scores"]["sams"]["iwelbo"].is_number());
    assert!(
        json["scores"]["sams"]["ate"]["r"].is_number()
            && json["scores"]["sams"]["ate"]["r_top20"].is_number()
    );
    assert!(
        json["scores"]["additive"]["iwelbo"].is_null()
            && json["scores"]["additive"]["ate"].is_null()
    );
    assert!(json["figures"]["masks"]["probs"].is_array());
    assert!(
        r.train.history[0].train.contains_key("kl_mask")
            && r.train.history[0].train.contains_key("kl_embedding")
    );
}

/// Combinations never seen in training: the composable models predict them from their
/// singles, within 0.05 of the additive baseline (which knows each combination is the sum of
/// its singles). SVAE+ says why it cannot.
#[test]
fn held_out_combinations_are_composed_by_sams_and_refused_by_svae_plus() {
    let (ds, truth) = sample();
    let held = Settings {
        holdout_conditions: truth.combinations.clone(),
        ..Settings::default()
    };
    let cfg = check(Settings {
        model: ModelName::Sams,
        ..held.clone()
    });
    let r = evaluate(&trained(ds.clone(), cfg, None));
    let model = r.scores["sams"].pooled.mean_shift_r.unwrap();
    let additive = r.scores["additive"].pooled.mean_shift_r.unwrap();
    println!("held-out combinations: sams r {model:.3}, additive r {additive:.3}");
    assert!(
        model >= additive - 0.05,
        "sams r {model} < additive r {additive} - 0.05 on unseen combinations"
    );
    assert!(r.split.unpredictable.is_empty());
    for c in &truth.combinations {
        assert!(r.scores["sams"].conditions[c].mean_shift_r.is_some(), "{c}");
    }

    let cfg = check(Settings {
        model: ModelName::Cpa,
        ..held.clone()
    });
    let r = evaluate(&trained(ds.clone(), cfg, None));
    let cpa = r.scores["cpa"].pooled.mean_shift_r.unwrap();
    println!("held-out combinations: cpa r {cpa:.3}, additive r {additive:.3}");
    assert!(
        cpa >= additive - 0.05,
        "cpa r {cpa} < additive r {additive} - 0.05"
    );
    assert!(r.figures.masks.is_none(), "CPA-VAE has no masks");

    let cfg = check(Settings {
        model: ModelName::SvaePlus,
        epochs: 3,
        ..held
    });
    let r = evaluate(&trained(ds.clone(), cfg, None));
    let svae = &r.scores["svae-plus"];
    for c in &truth.combinations {
        let why = svae.conditions[c].undefined.as_deref().unwrap_or("");
        assert!(
            why.contains("one-hot") && why.contains(c.as_str()),
            "{c}: {why}"
        );
    }
    assert!(svae.pooled.undefined.is_some() && svae.pooled.mean_shift_r.is_none());
    assert!(svae.ate.is_none() && svae.iwelbo.is_none());
}

#[test]
fn every_family_member_trains_predicts_and_reports() {
    let (ds, truth) = sample();
    let mask_truth = MaskTruth::from_sample(&truth);
    let (a, b) = (&mask_truth.effects["A"], &mask_truth.effects["B"]);
    let sum: Vec<f64> = a.iter().zip(b).map(|(x, y)| x + y).collect();
    assert_eq!(
        mask_truth.effect_of("A+B"),
        Some(sum),
        "a combination's truth is its singles' sum"
    );
    assert_eq!(mask_truth.effect_of("A+ZZ"), None);
    for name in [
        ModelName::Sams,
        ModelName::SamsMf,
        ModelName::Cpa,
        ModelName::SvaePlus,
    ] {
        let model = name.name();
        let cfg = check(Settings {
            model: name,
            epochs: 2,
            ..Settings::default()
        });
        let r = evaluate(&trained(ds.clone(), cfg, Some(mask_truth.clone())));
        if let Some(m) = &r.figures.masks {
            // SVAE+ has a row per condition label, combinations included: each gets its truth.
            let t = m
                .truth
                .as_ref()
                .unwrap_or_else(|| panic!("{model}: truth beside the masks"));
            assert_eq!(t.len(), m.perturbations.len(), "{model}");
        } else {
            assert_eq!(model, "cpa", "only CPA-VAE has no masks");
        }
        let s = &r.scores[model];
        assert!(s.pooled.mean_shift_r.is_some(), "{model}");
        assert!(s.iwelbo.is_some_and(f64::is_finite), "{model}");
        assert!(
            r.train.history.iter().all(|h| h.train["loss"].is_finite()),
            "{model}"
        );
    }
}

/// Stopped before its masks start, a SAMS-VAE says so: every mask is on, and the figure
/// names the epoch they start at; once they have started the note is gone.
#[test]
fn a_run_stopped_before_the_masks_start_says_so() {
    let (ds, _) = sample();
    let cfg = check(Settings {
        model: ModelName::Sams,
        epochs: 4,
        ..Settings::default()
    });
    let device = Device::flex().autodiff();
    let mut s = Session::new(ds, "sample", cfg, &device).unwrap();
    pollster::block_on(s.step()).unwrap();
    let m = evaluate(&s).figures.masks.expect("a mask figure");
    assert_eq!(m.masks_start_at, Some(2), "half of a 4-epoch run");
    assert!(m.probs.iter().flatten().all(|&p| p == 1.0));
    cellshift::render::register_fonts();
    let mut svg = String::new();
    {
        use plotters::prelude::IntoDrawingArea;
        let area =
            plotters::prelude::SVGBackend::with_string(&mut svg, (800, 400)).into_drawing_area();
        cellshift::charts::draw_masks(&area, &m, &cellshift::charts::Theme::default()).unwrap();
    }
    assert!(
        svg.contains("masks start after epoch 2"),
        "the heatmap says why every mask is on"
    );
    assert!(!svg.contains("active latent dims"));
    while !s.is_done() {
        pollster::block_on(s.step()).unwrap();
    }
    let m = evaluate(&s).figures.masks.unwrap();
    assert_eq!(m.masks_start_at, None);
    assert!(
        m.probs.iter().flatten().any(|&p| p < 0.5),
        "after the start some masks are off"
    );
}

#[test]
fn ate_matches_a_hand_computed_example() {
    // Two treated cells and two controls, three genes.
    let treated = Matrix::from_vec(2, 3, vec![1.0, 3.0, 0.0, 2.0, 2.0, 4.0]);
    let control = Matrix::from_vec(2, 3, vec![1.0, 1.0, 2.0, 0.0, 4.0, 0.0]);
    let norm = |row: &[f64]| -> Vec<f64> {
        let s: f64 = row.iter().sum();
        row.iter().map(|x| (1e4 * x / s + 1.0).log2()).collect()
    };
    // By hand: each row scaled to 1e4, log2(· + 1), then means per gene.
    let t1 = norm(&[1.0, 3.0, 0.0]);
    let t2 = norm(&[2.0, 2.0, 4.0]);
    let c1 = norm(&[1.0, 1.0, 2.0]);
    let c2 = norm(&[0.0, 4.0, 0.0]);
    let got = metrics::ate_log2(&treated, &control);
    for g in 0..3 {
        let want = (t1[g] + t2[g]) / 2.0 - (c1[g] + c2[g]) / 2.0;
        assert!(
            (got[g] - want).abs() < 1e-9,
            "gene {g}: {} vs {want}",
            got[g]
        );
    }
    // Gene 0: treated log2(2501) and log2(2501); controls log2(2501) and log2(1).
    assert!((got[0] - (2501f64.log2() - 2501f64.log2() / 2.0)).abs() < 1e-9);
}

#[test]
fn mask_overlap_score_ignores_latent_order() {
    let truth = vec![
        vec![1.0, 0.0, 2.0, 0.0],
        vec![0.0, 1.5, 2.0, 0.0],
        vec![0.0, 0.0, 0.0, -1.0],
        vec![1.0, 1.0, 0.0, 0.0],
    ];
    let probs: Vec<Vec<f64>> = truth
        .iter()
        .map(|r| {
            r.iter()
                .map(|&v| if v != 0.0 { 0.9 } else { 0.05 })
                .collect()
        })
        .collect();
    let perm = [2, 0, 3, 1];
    let shuffled: Vec<Vec<f64>> = probs
        .iter()
        .map(|r| perm.iter().map(|&k| r[k]).collect())
        .collect();
    let a = masks::overlap_spearman(&probs, &truth).unwrap();
    let b = masks::overlap_spearman(&shuffled, &truth).unwrap();
    assert!((a - b).abs() < 1e-12 && a > 0.9, "{a} vs {b}");
    assert_eq!(masks::mean_active(&probs), 1.75);
    let order = masks::align_dims(&shuffled, &truth);
    assert_eq!(
        order,
        vec![1, 3, 0, 2],
        "learned dims lined up with the true ones"
    );
}

#[test]
fn sams_settings_are_validated_one_error_per_rule() {
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (|o| o.mask_prior = 0.0, "mask_prior", "mask prior"),
        (|o| o.mask_prior = 1.0, "mask_prior", "mask prior"),
        (|o| o.mask_prior = f64::NAN, "mask_prior", "mask prior"),
        (|o| o.particles = 0, "particles", "particles"),
        (|o| o.iwelbo_particles = 0, "iwelbo_particles", "iwelbo"),
        (|o| o.global_lr = 0.0, "global_lr", "global learning rate"),
        (
            |o| o.mask_init_logit = f64::INFINITY,
            "mask_init_logit",
            "mask logit",
        ),
        (
            |o| o.embedding_prior_scale = -1.0,
            "embedding_prior_scale",
            "embedding prior",
        ),
        (|o| o.temperature = 0.0, "temperature", "temperature"),
        (|o| o.ate_samples = 0, "ate_samples", "ate samples"),
        (
            |o| o.align_epochs = 1_000_000,
            "align_epochs",
            "unmasked epochs",
        ),
    ];
    for (mutate, key, needle) in cases {
        let mut settings = Settings {
            model: ModelName::Sams,
            ..Settings::default()
        };
        mutate(&mut settings);
        let err = settings.check().expect_err("invalid setting rejected");
        assert_eq!(err.key(), Some(key), "`{err}` should blame {key}");
        assert!(
            err.to_string()
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "`{err}` should mention {needle}"
        );
    }
    let err = Settings {
        model: ModelName::SvaePlus,
        svae_beta: Some(0.0),
        ..Settings::default()
    }
    .check()
    .unwrap_err();
    assert!(
        err.key() == Some("svae_beta") && err.to_string().contains("β"),
        "{err}"
    );
    // The cVAE ignores the SAMS-only settings, but is scored with the same IWELBO K and ATE
    // samples as every model.
    let cvae = Settings {
        particles: 0,
        epochs: 1,
        ..Settings::default()
    };
    assert!(cvae.clone().check().is_ok());
    let err = Settings {
        iwelbo_particles: 0,
        ..cvae
    }
    .check()
    .unwrap_err();
    assert_eq!(err.key(), Some("iwelbo_particles"));
    // A run too short for the unmasked start gets its masks halfway, and says so.
    let short = check(Settings {
        model: ModelName::Sams,
        epochs: 60,
        ..Settings::default()
    });
    assert_eq!(short.sams().align_epochs, 30);
    assert!(
        short.notes().iter().any(|n| n.contains("epoch 30")),
        "{:?}",
        short.notes()
    );
    assert!(
        check(Settings {
            model: ModelName::Sams,
            ..Settings::default()
        })
        .notes()
        .is_empty()
    );
}

#[test]
fn split_files_are_parsed_exactly_or_rejected_with_the_line() {
    let ok =
        b"cell_id,condition,split\ncell000002,A,test\ncell000000,control,train\ncell000001,B,val\n";
    let roles = split::parse_split_file(ok, 3).unwrap();
    assert_eq!(
        roles,
        vec![split::Role::Train, split::Role::Val, split::Role::Test]
    );
    let bad: &[(&[u8], &str)] = &[
        (b"id,split\ncell000000,train\n", "cell_id"),
        (
            b"cell_id,split\ncell000000,train\ncell000001,holdout\ncell000002,test\n",
            "line 3",
        ),
        (
            b"cell_id,split\ncell000000,train\ncell000000,test\ncell000002,test\n",
            "twice",
        ),
        (b"cell_id,split\nc7,train\n", "cell<row number>"),
        (b"cell_id,split\ncell000009,train\n", "beyond"),
        (b"cell_id,split\ncell000000,train\ncell000001,test\n", "3"),
    ];
    for (text, needle) in bad {
        let e = split::parse_split_file(text, 3).unwrap_err();
        assert!(
            e.to_string().contains(needle),
            "`{e}` should mention {needle}"
        );
    }
    let (ds, _) = sample();
    let e = split::make_split(
        &ds,
        &Holdout::File {
            source: "x".into(),
            assignments: roles,
        },
        0.1,
        0,
    )
    .unwrap_err();
    assert!(matches!(e, SplitError::FileLength { .. }));
    // Round trip through the config JSON: one character per cell.
    let n = ds.n_cells();
    let assignments: Vec<split::Role> = (0..n)
        .map(|i| {
            if ds.conditions[i] == "A+B" {
                split::Role::Test
            } else if i % 10 == 0 {
                split::Role::Val
            } else {
                split::Role::Train
            }
        })
        .collect();
    let h = Holdout::File {
        source: "f.csv".into(),
        assignments,
    };
    let json = serde_json::to_string(&h).unwrap();
    assert!(json.len() < n + 100, "compact: {} bytes", json.len());
    assert_eq!(serde_json::from_str::<Holdout>(&json).unwrap(), h);
    let sp = split::make_split(&ds, &h, 0.1, 0).unwrap();
    assert_eq!(sp.test.len(), ds.condition_counts()["A+B"]);
}

/// The CLI writes the mask heatmap and the new results fields, and rejects bad SAMS flags
/// without panicking.
#[test]
fn cli_sams_run_writes_masks_and_scores() {
    let out = tempdir("cli-sams");
    let o = run(&[
        "train",
        "--sample",
        "--model",
        "sams",
        "--epochs",
        "3",
        "--iwelbo-particles",
        "10",
        "--ate-samples",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("IWELBO") && stdout.contains("masks:"),
        "{stdout}"
    );
    let r = read_json(&out.join("results.json"));
    assert!(r["scores"]["sams"]["iwelbo"].is_number());
    assert!(r["scores"]["sams"]["ate"]["r_top20"].is_number());
    assert!(r["scores"]["control_mean"]["ate"].is_null());
    assert!(
        r["figures"]["masks"]["truth"].is_array(),
        "--sample passes its truth"
    );
    let png = std::fs::read(out.join("masks.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(
        std::fs::read_to_string(out.join("masks.svg"))
            .unwrap()
            .contains("<svg")
    );
    for (flag, value, needle) in [
        ("--mask-prior", "1.5", "mask prior"),
        ("--particles", "0", "particles"),
        ("--iwelbo-particles", "0", "IWELBO"),
        ("--global-lr", "0", "global learning rate"),
    ] {
        let o = run(&[
            "train",
            "--sample",
            "--model",
            "sams",
            flag,
            value,
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(needle) && !err.contains("panicked"),
            "{flag}: {err}"
        );
    }
    let bad = out.join("bad_split.csv");
    std::fs::write(&bad, "cell_id,split\ncell000000,train\n").unwrap();
    let o = run(&[
        "train",
        "--sample",
        "--model",
        "sams",
        "--split-file",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("split file") && !err.contains("panicked"),
        "{err}"
    );
}

/// The benchmark dataset with its exact split: SAMS-VAE's test-set ATE correlation on the top
/// 20 genes per held-out pair (the reference implementation reached 0.85 in 443 s).
#[test]
fn synth_sparse_additive_split_file_reaches_the_reference_ate() {
    let (Some(data), Some(split_path), Some(truth_path)) = (
        shared_data("synth_sparse_additive.csv"),
        shared_data("synth_sparse_additive.split.csv"),
        shared_data("synth_sparse_additive.truth.json"),
    ) else {
        return;
    };
    let ds = cellshift::data::load_path(&data, &Default::default()).unwrap();
    let assignments =
        split::parse_split_file(&std::fs::read(&split_path).unwrap(), ds.n_cells()).unwrap();
    let truth = MaskTruth::from_json(&std::fs::read_to_string(&truth_path).unwrap()).unwrap();
    let cfg = check(Settings {
        model: ModelName::Sams,
        ..Settings::default()
    })
    .with_split_file(split_path.display().to_string(), assignments);
    let started = std::time::Instant::now();
    let s = trained(ds, cfg, Some(truth));
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        (s.split.train.len(), s.split.val.len(), s.split.test.len()),
        (3008, 752, 240)
    );
    let r = evaluate(&s);
    let sams = &r.scores["sams"];
    let ate = sams.ate.as_ref().unwrap();
    let m = r.figures.masks.as_ref().unwrap();
    println!(
        "synth_sparse_additive: {seconds:.0} s training, {} epochs; ATE r {:.3}, top-20 r {:.3}; IWELBO {:.1}; masks {:.2} active (truth {:.2}), overlap Spearman {:?}",
        r.train.epochs,
        ate.r.unwrap(),
        ate.r_top20.unwrap(),
        sams.iwelbo.unwrap(),
        m.mean_active,
        m.true_mean_active.unwrap(),
        m.overlap_spearman
    );
    assert!(
        ate.r_top20.unwrap() >= 0.85,
        "top-20 ATE r {:?}",
        ate.r_top20
    );
    assert!(
        m.mean_active <= 2.0 * m.true_mean_active.unwrap(),
        "masks not sparse: {}",
        m.mean_active
    );
    // The overlap varies with the seed far more than with anything else: over seeds 0–3 it
    // was 0.41–0.53 (mean 0.48), and 0.32–0.59 (mean 0.48) with the earlier Box–Muller noise;
    // without the unmasked start and sparse rotation it was 0.17. The bound tells the method
    // working from that failure, not one seed's luck.
    assert!(
        m.overlap_spearman.is_some_and(|s| s >= 0.35),
        "overlap Spearman {:?}",
        m.overlap_spearman
    );
}

/// The sparse rotation finds a sparse effect matrix hidden behind a random rotation: the same
/// dims shared by the same perturbations, up to their order, with an orthogonal rotation.
#[test]
fn sparse_rotation_recovers_a_rotated_sparse_structure() {
    let mut rng = Rng::new(3);
    let (rows, l) = (12, 10);
    let truth: Vec<Vec<f64>> = (0..rows)
        .map(|_| {
            let mut row = vec![0.0; l];
            let mut dims: Vec<usize> = (0..l).collect();
            rng.shuffle(&mut dims);
            for &d in &dims[..2] {
                row[d] = (1.5 + rng.uniform()) * if rng.bernoulli(0.5) { 1.0 } else { -1.0 };
            }
            row
        })
        .collect();
    // A random rotation, plus a little noise.
    let q = rotation::random_orthogonal(l, &mut rng);
    let hidden: Vec<Vec<f64>> = truth
        .iter()
        .map(|r| {
            (0..l)
                .map(|c| (0..l).map(|k| r[k] * q[k][c]).sum::<f64>() + 0.1 * rng.normal())
                .collect()
        })
        .collect();
    let support = |m: &[Vec<f64>]| -> Vec<Vec<f64>> {
        m.iter()
            .map(|r| {
                let max = r.iter().fold(0.0f64, |a, x| a.max(x.abs()));
                r.iter()
                    .map(|x| if x.abs() >= 0.25 * max { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect()
    };
    let before = masks::overlap_spearman(&support(&hidden), &truth).unwrap_or(0.0);
    let found = rotation::sparse_rotation(&hidden, 8, &mut Rng::new(0));
    let after = masks::overlap_spearman(&support(&found.rotated), &truth).unwrap();
    println!("overlap Spearman: {before:.3} before rotation, {after:.3} after");
    assert!(
        after >= 0.9 && after > before + 0.3,
        "before {before}, after {after}"
    );
    // R is orthogonal and the rotated effects are the effects times R.
    let r = &found.rotation;
    for i in 0..l {
        for j in 0..l {
            let dot: f64 = (0..l).map(|k| r[k * l + i] * r[k * l + j]).sum();
            assert!(
                (dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9,
                "RᵀR[{i}][{j}] = {dot}"
            );
        }
    }
    for (h, rot) in hidden.iter().zip(&found.rotated) {
        for c in 0..l {
            let v: f64 = (0..l).map(|k| h[k] * r[k * l + c]).sum();
            assert!((v - rot[c]).abs() < 1e-9);
        }
    }
    let active = support(&found.rotated).iter().flatten().sum::<f64>() / rows as f64;
    assert!(
        (active - 2.0).abs() <= 0.5,
        "{active} active dims per row, truth 2"
    );
}

/// Starting the masks rotates the latent space without changing what the model computes: with
/// every mask on and (near) deterministic encodings, predictions are the same before and after.
#[test]
fn starting_the_masks_keeps_the_model_function() {
    let device = Device::flex();
    let (genes, t, l) = (20, 4, 6);
    for kind in [sams::SamsKind::MeanField, sams::SamsKind::Correlated] {
        let cfg = sams::SamsConfig {
            kind,
            n_genes: genes,
            n_treatments: t,
            n_covariates: 2,
            latent: l,
            hidden: 16,
            likelihood: cellshift::model::Likelihood::Nb,
            options: check(Settings {
                align_epochs: 5,
                ..Settings::default()
            })
            .sams(),
            n_obs: vec![10.0; t],
        };
        let mut model = cfg.init(1, &device);
        // Near-zero posterior variances, so the approximate rotation of variances cannot matter.
        model.enc_logvar.bias =
            burn::module::Param::from_tensor(Tensor::<1>::full([l], -12.0, &device));
        if let Some(ls) = model.globals.emb_log_sd.as_mut() {
            *ls = burn::module::Param::from_tensor(Tensor::<2>::full([t, l], -7.0, &device));
        }
        if let Some(net) = model.globals.emb_net.as_mut() {
            net.log_sd.bias =
                burn::module::Param::from_tensor(Tensor::<1>::full([l], -7.0, &device));
            net.log_sd.weight =
                burn::module::Param::from_tensor(Tensor::<2>::zeros([16, l], &device));
        }
        let mut rng = Rng::new(5);
        let n = 7;
        let tensor = |rows: usize, cols: usize, v: Vec<f32>| {
            Tensor::<2>::from_data(TensorData::new(v, [rows, cols]), &device)
        };
        let x = tensor(n, genes + 2, rng.normal_vec(n * (genes + 2)));
        // Dosages (a single, a pair, a control) and a covariate one-hot per cell.
        let cond: Vec<f32> = (0..n)
            .flat_map(|i| {
                let mut row = vec![0.0; t + 2];
                row[i % t] = 1.0;
                if i % 3 == 0 {
                    row[(i + 1) % t] = 1.0;
                }
                row[t + i % 2] = 1.0;
                row
            })
            .collect();
        let own = tensor(n, t + 2, cond.clone());
        let target = tensor(
            n,
            t + 2,
            cond.iter()
                .enumerate()
                .map(|(k, &v)| if k % (t + 2) == 0 { 1.0 } else { v })
                .collect(),
        );
        let library = Tensor::<2>::full([n, 1], 1000.0, &device);
        let x_std = x.slice([0..n, 0..genes]);
        let before = model
            .predict(
                x_std.clone(),
                own.clone(),
                target.clone(),
                library.clone(),
                false,
                &mut Rng::new(9),
            )
            .location;
        pollster::block_on(model.align(&mut Rng::new(2))).unwrap();
        // Every mask on, whatever the rotation suggested.
        model.globals.mask_logits = Some(burn::module::Param::from_tensor(Tensor::<2>::full(
            [t, l],
            30.0,
            &device,
        )));
        let after = model
            .predict(x_std, own, target, library, false, &mut Rng::new(9))
            .location;
        let diff: f32 = (before.clone() - after).abs().max().into_scalar();
        let scale: f32 = before.abs().max().into_scalar();
        println!("{kind:?}: largest change {diff:e} (values up to {scale})");
        assert!(
            diff < 1e-3 * scale.max(1.0),
            "{kind:?}: predictions moved by {diff}"
        );
    }
}

/// A truth file naming an absurd latent dim is refused with a message, not a panic.
#[test]
fn truth_files_with_out_of_range_dims_are_refused() {
    let text = r#"{"n_latent": 4, "perturbations": {"A": {"dims": [18446744073709551615], "effect": [1.0]}}}"#;
    let err = MaskTruth::from_json(text).unwrap_err();
    assert!(err.contains("latent"), "{err}");
    let text = r#"{"n_latent": 4, "perturbations": {"A": {"dims": [5000], "effect": [1.0]}}}"#;
    assert!(MaskTruth::from_json(text).is_err());
}
