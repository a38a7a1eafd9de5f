//! The engine on generated data: training quality, reproducibility, baselines and splits.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use cellshift::config::{ModelName, SettingError, Settings};
use cellshift::data::{Dataset, LoadOptions, parse_csv};
use cellshift::design::Design;
use cellshift::matrix::Matrix;
use cellshift::model::{lgamma, lgamma_digamma, lgamma_ratio_sum, nb_log_prob};
use cellshift::pipeline::{RunError, Session};
use cellshift::results::RunResults;
use cellshift::sample::{SampleConfig, generate};
use cellshift::split::{Holdout, SplitError, make_split};
use cellshift::train::kl_weight;

/// A change to valid settings that one rule refuses.
type Mutation = fn(&mut Settings);

fn sample() -> Dataset {
    generate(&SampleConfig::default())
        .expect("sample generates")
        .0
}

fn train(ds: Dataset, settings: Settings) -> RunResults {
    let device = Device::flex().autodiff();
    let cfg = settings.check().expect("valid settings");
    let mut s = Session::new(ds, "sample", cfg, &device).expect("session starts");
    while !s.is_done() {
        pollster::block_on(s.step()).expect("epoch runs");
    }
    pollster::block_on(s.evaluate(0.0, "flex")).expect("evaluation runs")
}

#[test]
fn cvae_recovers_shifts_on_the_sample_and_beats_no_change() {
    let r = train(sample(), Settings::default());
    let cvae = &r.scores["cvae"].pooled;
    let ctrl = &r.scores["control_mean"].pooled;
    let r_cvae = cvae.mean_shift_r.expect("cvae correlation defined");
    println!(
        "cvae pooled r = {r_cvae:.3}, energy {:?} vs control_mean {:?}",
        cvae.energy_distance, ctrl.energy_distance
    );
    assert!(r_cvae >= 0.8, "pooled mean-shift r {r_cvae} < 0.8");
    assert!(cvae.energy_distance.unwrap() < ctrl.energy_distance.unwrap());
    // No change predicted: the correlation and top-K sets do not exist, and say so as null.
    assert_eq!(ctrl.mean_shift_r, None);
    assert!(ctrl.jaccard.values().all(|v| v.is_none()));
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["scores"]["control_mean"]["pooled"]["mean_shift_r"].is_null());
    // Every held-out condition is scored for the model and the always-defined baselines.
    for name in [
        "cvae",
        "control_mean",
        "perturbation_mean",
        "perturbed_mean",
        "additive",
    ] {
        assert_eq!(
            r.scores[name].conditions.len(),
            r.split.test_conditions.len(),
            "{name}"
        );
    }
    // The additive baseline says why it has nothing for single perturbations.
    let add = &r.scores["additive"].conditions["A"];
    assert!(
        add.undefined
            .as_deref()
            .unwrap_or("")
            .contains("not a combination")
    );
    assert!(add.mean_shift_r.is_none());
    assert!(
        r.scores["additive"].conditions["A+B"]
            .mean_shift_r
            .is_some()
    );
    assert!(r.train.history.len() == r.train.epochs && r.train.epochs > 0);
    for term in ["loss", "recon", "kl"] {
        assert!(
            r.train.history[0].train.contains_key(term)
                && r.train.history[0].val.contains_key(term)
        );
    }
}

#[test]
fn held_out_unseen_single_is_reported_not_skipped() {
    let cfg = Settings {
        holdout_conditions: vec!["B".into(), "A+B".into()],
        epochs: 3,
        ..Default::default()
    };
    let ds = sample();
    let r = train(ds, cfg);
    // B was never trained on, so neither B nor A+B can be predicted by the model...
    assert!(r.split.unpredictable.contains_key("B"));
    assert!(r.split.unpredictable.contains_key("A+B"));
    let cvae = &r.scores["cvae"];
    assert!(
        cvae.conditions["B"]
            .undefined
            .as_deref()
            .unwrap()
            .contains("`B` never seen")
    );
    assert!(cvae.pooled.undefined.is_some());
    // ...nor by the perturbation mean, while the perturbed mean still can.
    assert!(
        r.scores["perturbation_mean"].conditions["B"]
            .undefined
            .is_some()
    );
    assert!(
        r.scores["perturbed_mean"].conditions["B"]
            .mean_shift_r
            .is_some()
    );
    assert!(
        r.scores["additive"].conditions["A+B"]
            .undefined
            .as_deref()
            .unwrap()
            .contains("`B`")
    );
}

#[test]
fn unseen_combination_of_seen_singles_is_predicted() {
    let cfg = Settings {
        holdout_conditions: vec!["A+B".into()],
        epochs: 5,
        ..Default::default()
    };
    let r = train(sample(), cfg);
    assert!(r.split.unpredictable.is_empty());
    assert!(r.scores["cvae"].conditions["A+B"].mean_shift_r.is_some());
    assert!(
        r.scores["additive"].conditions["A+B"]
            .mean_shift_r
            .is_some()
    );
    assert_eq!(
        r.split.test_cells,
        SampleConfig::default().cells_per_combination
    );
}

#[test]
fn same_seed_same_scores_different_seed_different_scores() {
    let run = |seed| {
        let cfg = Settings {
            seed,
            epochs: 8,
            ..Default::default()
        };
        let r = train(sample(), cfg);
        (
            serde_json::to_string(&r.scores).unwrap(),
            serde_json::to_string(&r.train.history).unwrap(),
        )
    };
    let a = run(3);
    let b = run(3);
    assert_eq!(
        a, b,
        "same seed must give byte-identical scores and history"
    );
    assert_ne!(a.0, run(4).0);
}

#[test]
fn group_holdout_keeps_the_groups_controls_in_training() {
    // Two cell types; hold out type `t1`'s perturbed cells.
    let base = sample();
    let n = base.n_cells();
    let types: Vec<String> = (0..n)
        .map(|i| if i % 3 == 0 { "t1".into() } else { "t2".into() })
        .collect();
    let ds = Dataset::from_parts(
        base.genes.clone(),
        base.values.clone(),
        base.conditions.clone(),
        "control".into(),
        vec!["cell_type".into()],
        vec![types.clone()],
    )
    .unwrap();
    let split = make_split(
        &ds,
        &Holdout::Group {
            covariate: "cell_type".into(),
            level: "t1".into(),
        },
        0.1,
        0,
    )
    .unwrap();
    assert!(
        split
            .test
            .iter()
            .all(|&i| types[i] == "t1" && !ds.is_control(i))
    );
    assert!(
        split
            .train
            .iter()
            .any(|&i| types[i] == "t1" && ds.is_control(i))
    );
    assert!(
        split
            .train
            .iter()
            .chain(&split.val)
            .all(|&i| types[i] != "t1" || ds.is_control(i))
    );
    let cfg = Settings {
        covariates: vec!["cell_type".into()],
        holdout_group: "cell_type=t1".into(),
        epochs: 3,
        ..Default::default()
    };
    let r = train(ds, cfg);
    assert!(r.scores.contains_key("group_shift"));
    assert!(r.scores["group_shift"].pooled.mean_shift_r.is_some());
}

#[test]
fn splits_are_seeded_stratified_and_disjoint() {
    let ds = sample();
    let h = Holdout::Fraction { fraction: 0.2 };
    let a = make_split(&ds, &h, 0.1, 1).unwrap();
    assert_eq!(a, make_split(&ds, &h, 0.1, 1).unwrap());
    assert_ne!(a, make_split(&ds, &h, 0.1, 2).unwrap());
    let mut all: Vec<usize> = a
        .train
        .iter()
        .chain(&a.val)
        .chain(&a.test)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..ds.n_cells()).collect::<Vec<_>>());
    // 20% of each perturbed condition; no controls held out.
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for &i in &a.test {
        *per.entry(ds.conditions[i].as_str()).or_default() += 1;
    }
    assert_eq!(per.get("control"), None);
    let sc = SampleConfig::default();
    assert_eq!(per["A"], sc.cells_per_single / 5);
    assert_eq!(per["A+B"], sc.cells_per_combination / 5);
}

#[test]
fn split_errors_name_the_problem() {
    let ds = sample();
    let e = make_split(
        &ds,
        &Holdout::Conditions {
            conditions: vec!["ZZ".into()],
        },
        0.1,
        0,
    )
    .unwrap_err();
    assert!(matches!(e, SplitError::UnknownCondition { .. }) && e.to_string().contains("`ZZ`"));
    let e = make_split(
        &ds,
        &Holdout::Conditions {
            conditions: vec!["control".into()],
        },
        0.1,
        0,
    )
    .unwrap_err();
    assert!(matches!(e, SplitError::ControlHeldOut(_)));
    let e = make_split(&ds, &Holdout::Fraction { fraction: 1.5 }, 0.1, 0).unwrap_err();
    assert!(matches!(e, SplitError::Fraction(_)));
    let e = make_split(
        &ds,
        &Holdout::Group {
            covariate: "cell_type".into(),
            level: "x".into(),
        },
        0.1,
        0,
    )
    .unwrap_err();
    assert!(
        matches!(e, SplitError::UnknownCovariate { .. })
            && e.to_string().contains("--covariate cell_type")
    );
    assert!(matches!(
        cellshift::split::parse_group("cell_type"),
        Err(SplitError::GroupSyntax(_))
    ));
}

#[test]
fn hyperparameters_are_validated_before_training_one_error_per_rule() {
    let device = Device::flex().autodiff();
    // Each rule names its setting, and its message says which one.
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (|c| c.epochs = 0, "epochs", "epochs"),
        (|c| c.batch_size = 0, "batch_size", "batch"),
        (|c| c.lr = -1.0, "lr", "learning rate"),
        (|c| c.lr = f64::NAN, "lr", "learning rate"),
        (|c| c.lr = 2.0, "lr", "learning rate"),
        (|c| c.beta = -0.5, "beta", "beta"),
        (|c| c.weight_decay = -1.0, "weight_decay", "weight decay"),
        (|c| c.grad_clip = f64::INFINITY, "grad_clip", "clipping"),
        (|c| c.latent = 0, "latent", "latent"),
        (|c| c.hidden = 0, "hidden", "hidden"),
        (|c| c.genes = 1, "genes", "panel"),
        (|c| c.val_fraction = 0.9, "val_fraction", "validation"),
        (
            |c| c.control_label = " ".into(),
            "control_label",
            "control label",
        ),
        (
            |c| c.holdout_group = "cell_type".into(),
            "holdout_group",
            "covariate=level",
        ),
        (
            |c| c.holdout_conditions = vec!["control".into()],
            "holdout_conditions",
            "control",
        ),
    ];
    for (mutate, key, needle) in cases {
        let mut settings = Settings::default();
        mutate(&mut settings);
        let err = settings.check().expect_err("invalid settings rejected");
        assert_eq!(err.key(), Some(key), "`{err}` should blame {key}");
        assert!(
            err.to_string().to_lowercase().contains(needle),
            "`{err}` should mention {needle}"
        );
    }
    // Text from a flag or a link: an unknown model is refused by name, and a model is typed.
    let mut s = Settings::default();
    let err = s.set("model", "vae9").unwrap_err();
    assert!(
        matches!(err, SettingError::Parse { key: "model", .. }) && err.to_string().contains("vae9"),
        "{err}"
    );
    s.set("model", "sams").unwrap();
    assert_eq!(s.model, ModelName::Sams);
    // NB needs counts: a rule that needs the data, checked when the session starts.
    let cont = parse_csv(
        b"condition,g1,g2\ncontrol,0.5,1.5\nA,0.25,2\n",
        &LoadOptions::default(),
    )
    .unwrap();
    let cfg = Settings {
        likelihood: cellshift::config::LikelihoodChoice::Nb,
        ..Default::default()
    }
    .check()
    .unwrap();
    assert!(matches!(
        Session::new(cont, "t", cfg, &device).err(),
        Some(RunError::NbNeedsCounts)
    ));
}

#[test]
fn kl_warmup_is_linear_then_flat() {
    assert_eq!(kl_weight(0, 0, 0.7), 0.7);
    assert!((kl_weight(0, 10, 1.0) - 0.1).abs() < 1e-12);
    assert!((kl_weight(4, 10, 2.0) - 1.0).abs() < 1e-12);
    assert_eq!(kl_weight(9, 10, 1.0), 1.0);
    assert_eq!(kl_weight(50, 10, 1.0), 1.0);
}

#[test]
fn lgamma_and_nb_log_probability_match_known_values() {
    let device = Device::flex();
    let z = Tensor::<1>::from_data(
        TensorData::new(vec![0.5f32, 1.0, 3.0, 10.5, 200.0], [5]),
        &device,
    );
    let got = lgamma(z).into_data().try_to_vec::<f32>().unwrap();
    // ln Γ(0.5) = ln √π; ln Γ(1) = 0; ln Γ(3) = ln 2; ln Γ(10.5); ln Γ(200).
    let want = [
        0.5723649429247001,
        0.0,
        std::f64::consts::LN_2,
        13.940625219403763,
        857.9336698258574,
    ];
    for (g, w) in got.iter().zip(want) {
        assert!(
            (*g as f64 - w).abs() < 1e-4 * w.abs().max(1.0),
            "lgamma {g} vs {w}"
        );
    }
    // NB(x=2; mu=3, theta=4): C(x+θ-1, x) (θ/(θ+μ))^θ (μ/(θ+μ))^x = 10 · (4/7)^4 · (3/7)^2.
    let x = Tensor::<2>::from_data(TensorData::new(vec![2.0f32], [1, 1]), &device);
    let lmu = Tensor::<2>::from_data(TensorData::new(vec![3.0f32.ln()], [1, 1]), &device);
    let lth = Tensor::<2>::from_data(TensorData::new(vec![4.0f32.ln()], [1, 1]), &device);
    let lp = nb_log_prob(x, lmu, lth)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()[0] as f64;
    let want = (10.0 * (4.0f64 / 7.0).powi(4) * (3.0f64 / 7.0).powi(2)).ln();
    assert!((lp - want).abs() < 1e-4, "{lp} vs {want}");
}

#[test]
fn digamma_matches_known_values_and_the_gamma_ratio_carries_its_gradient() {
    let device = Device::flex();
    let zs = [0.001f32, 0.5, 1.0, 3.0, 10.5, 200.0, 5000.0];
    let z = Tensor::<1>::from_data(TensorData::new(zs.to_vec(), [zs.len()]), &device);
    let (lg, psi) = lgamma_digamma(z);
    let (lg, psi) = (
        lg.into_data().try_to_vec::<f32>().unwrap(),
        psi.into_data().try_to_vec::<f32>().unwrap(),
    );
    // ln Γ(z) and ψ(z) to 15 digits.
    let want = [
        (6.90717888538385, -1000.57557193181),
        (0.5723649429247, -1.96351002602142),
        (0.0, -0.577215664901533),
        (std::f64::consts::LN_2, 0.922784335098467),
        (13.9406252194038, 2.30300103429769),
        (857.933669825857, 5.29581528321991),
        (37582.6263156854, 8.5170931880829),
    ];
    for (i, (wl, wp)) in want.into_iter().enumerate() {
        let close = |g: f32, w: f64| (g as f64 - w).abs() < 1e-5 * w.abs().max(1.0);
        assert!(close(lg[i], wl), "ln Γ({}) = {} vs {wl}", zs[i], lg[i]);
        assert!(close(psi[i], wp), "ψ({}) = {} vs {wp}", zs[i], psi[i]);
    }

    // The gamma ratio's value and gradient in θ match autodiff through lgamma itself, with
    // zeros, small and large counts and dispersions from 0.05 to 40.
    let ad = device.clone().autodiff();
    let counts: Vec<f32> = (0..24)
        .map(|i| [0.0, 1.0, 3.0, 0.0, 17.0, 250.0][i % 6] + (i / 6) as f32)
        .collect();
    let thetas = vec![0.05f32, 0.7, 4.0, 40.0, 1.3, 9.0];
    let x = Tensor::<2>::from_data(TensorData::new(counts, [4, 6]), &ad);
    let weights =
        Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -0.5, 2.0, 0.25], [4, 1]), &ad);
    let grad_of = |direct: bool| {
        let theta =
            Tensor::<2>::from_data(TensorData::new(thetas.clone(), [1, 6]), &ad).require_grad();
        let per_cell = if direct {
            (lgamma(x.clone() + theta.clone()) - lgamma(theta.clone())).sum_dim(1)
        } else {
            lgamma_ratio_sum(x.clone(), theta.clone())
        }; // [4, 1]
        let loss = (per_cell.clone() * weights.clone()).sum();
        let grads = loss.backward();
        let g = theta
            .grad(&grads)
            .expect("θ has a gradient")
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        (per_cell.into_data().try_to_vec::<f32>().unwrap(), g)
    };
    let ((v_direct, g_direct), (v_ratio, g_ratio)) = (grad_of(true), grad_of(false));
    for (a, b) in v_direct.iter().zip(&v_ratio) {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "value {b} vs {a}");
    }
    for (a, b) in g_direct.iter().zip(&g_ratio) {
        assert!(
            (a - b).abs() <= 1e-3 * a.abs().max(1.0),
            "gradient {b} vs {a}"
        );
    }
    assert!(
        g_ratio.iter().all(|g| *g != 0.0),
        "every θ gets a gradient: {g_ratio:?}"
    );
}

#[test]
fn dosage_encoding_makes_combinations_the_sum_of_singles() {
    let ds = sample();
    let d = Design::from_dataset(&ds).unwrap();
    let a = ds.conditions.iter().position(|c| c == "A").unwrap();
    let enc = |label: &str| d.encode(&ds, &[a], Some(label));
    let (ea, eb, eab) = (enc("A"), enc("B"), enc("A+B"));
    let sum: Vec<f32> = ea.data.iter().zip(&eb.data).map(|(x, y)| x + y).collect();
    assert_eq!(eab.data, sum);
    assert!(enc("control").data.iter().all(|&v| v == 0.0));
}

#[test]
fn sample_generator_is_seeded_sparse_and_keeps_its_truth() {
    let cfg = SampleConfig::default();
    let (a, truth) = generate(&cfg).unwrap();
    let (b, _) = generate(&cfg).unwrap();
    assert_eq!(a.values, b.values);
    assert_eq!(a.sha256, b.sha256);
    let (c, _) = generate(&SampleConfig {
        seed: cfg.seed + 1,
        ..cfg.clone()
    })
    .unwrap();
    assert_ne!(a.values, c.values);
    assert!(a.is_counts);
    assert_eq!(truth.perturbations.len(), cfg.singles);
    for e in truth.perturbations.values() {
        assert!((2..=3).contains(&e.dims.len()));
        assert!(e.effect.iter().all(|v| v.abs() >= 1.5 && v.abs() <= 2.5));
    }
    assert!(truth.combinations.contains(&"A+B".to_string()));
    let counts = a.condition_counts();
    assert_eq!(counts["control"], cfg.control_cells);
    assert_eq!(counts["A+B"], cfg.cells_per_combination);
    // The CSV the CLI writes reads back to the same data.
    let back = parse_csv(a.to_csv().as_bytes(), &LoadOptions::default()).unwrap();
    assert_eq!(back.values, a.values);
    let _ = Matrix::zeros(0, 0);
}

/// Runs on one data set and split share a scoreboard, one row per model; a run on another
/// split starts a new comparison and says what changed.
#[test]
fn comparison_keeps_one_row_per_model_and_restarts_when_the_split_changes() {
    use cellshift::comparison::{Added, Comparison};
    let quick = |model, seed| Settings {
        model,
        seed,
        epochs: 1,
        iwelbo_particles: 2,
        ate_samples: 50,
        ..Default::default()
    };
    let a = train(sample(), quick(ModelName::Cvae, 0));
    let b = train(sample(), quick(ModelName::Cpa, 0));
    let mut c = Comparison::new();
    assert_eq!(c.add(a.clone()), Added::default());
    let added = c.add(b.clone());
    assert!(!added.replaced && added.removed.is_empty(), "{added:?}");
    let merged = c.merged().expect("two runs");
    assert_eq!(merged.scores["cvae"], a.scores["cvae"]);
    assert_eq!(merged.scores["cpa"], b.scores["cpa"]);
    for (name, s) in &b.scores {
        if cellshift::baselines::is_baseline(name) {
            assert_eq!(
                &merged.scores[name], s,
                "{name}: the baselines once, as scored"
            );
        }
    }
    assert_eq!(
        merged.scores.len(),
        b.scores.len() + 1,
        "one row per model plus the baselines"
    );
    assert!(
        c.add(a.clone()).replaced,
        "retraining a model replaces its row"
    );
    assert_eq!(c.runs().len(), 2);
    // Another seed is another split: the comparison starts over and says why.
    let d = train(sample(), quick(ModelName::Cvae, 1));
    let added = c.add(d);
    assert_eq!(
        added.removed,
        vec!["cpa".to_string()],
        "cvae's row is replaced, not removed"
    );
    assert!(
        added.changes.iter().any(|x| x == "the seed (0 → 1)"),
        "{:?}",
        added.changes
    );
    assert_eq!(c.runs().len(), 1);
}

/// A loss that is not finite loses nothing: the epoch is undone (weights and optimizer), the
/// run ends saying where, and the model scored is exactly the one from the epoch before.
#[test]
fn divergence_rolls_back_to_the_last_good_epoch_and_is_scored() {
    let device = Device::flex().autodiff();
    let settings = || Settings {
        epochs: 6,
        iwelbo_particles: 5,
        ate_samples: 50,
        ..Default::default()
    };
    let scored =
        |s: &Session| pollster::block_on(s.evaluate(0.0, "flex")).expect("evaluation runs");
    // Three good epochs...
    let mut good = Session::new(sample(), "sample", settings().check().unwrap(), &device).unwrap();
    for _ in 0..3 {
        pollster::block_on(good.step()).unwrap();
    }
    let want = scored(&good);
    // ...then a fourth whose loss is NaN before the optimizer steps.
    let mut s = Session::new(sample(), "sample", settings().check().unwrap(), &device).unwrap();
    for _ in 0..3 {
        pollster::block_on(s.step()).unwrap();
    }
    s.trainer.drill_divergence();
    let err = pollster::block_on(s.step()).expect_err("a NaN loss ends the run");
    assert!(
        err.to_string().contains("epoch 4") && err.to_string().contains("the train "),
        "{err}"
    );
    assert!(s.is_done(), "a diverged run is over");
    let r = scored(&s);
    assert_eq!(r.train.epochs, 3);
    assert_eq!(r.train.history.len(), 3);
    assert!(
        r.train
            .diverged
            .as_deref()
            .unwrap()
            .contains("model from epoch 3"),
        "{:?}",
        r.train.diverged
    );
    assert_eq!(
        serde_json::to_string(&r.scores).unwrap(),
        serde_json::to_string(&want.scores).unwrap()
    );
    assert!(
        r.scores["cvae"]
            .pooled
            .mean_shift_r
            .is_some_and(f64::is_finite)
    );
    // A run that did not diverge says nothing about it in results.json.
    assert!(
        serde_json::to_value(&want).unwrap()["train"]
            .get("diverged")
            .is_none()
    );
}

/// The baselines can be scored before anything is trained, and their scores are exactly the
/// ones the full evaluation gives them.
#[test]
fn baselines_alone_score_exactly_as_beside_a_model() {
    let device = Device::flex().autodiff();
    let settings = Settings {
        epochs: 1,
        holdout_conditions: vec!["A+B".into(), "C".into()],
        iwelbo_particles: 2,
        ate_samples: 20,
        ..Default::default()
    };
    let mut s = Session::new(sample(), "sample", settings.check().unwrap(), &device).unwrap();
    let before = pollster::block_on(s.evaluate_baselines()).unwrap();
    assert!(
        !before.scores.contains_key("cvae"),
        "no model row before training"
    );
    assert!(before.figures.masks.is_none() && before.figures.pca.predicted.is_empty());
    pollster::block_on(s.step()).unwrap();
    let full = pollster::block_on(s.evaluate(0.0, "flex")).unwrap();
    for (name, scores) in &before.scores {
        assert!(cellshift::baselines::is_baseline(name), "{name}");
        assert_eq!(
            serde_json::to_string(scores).unwrap(),
            serde_json::to_string(&full.scores[name]).unwrap(),
            "{name}"
        );
    }
    assert_eq!(before.scores.len() + 1, full.scores.len());
}

/// Each setting is bounded, their product is not: a run is estimated before anything is
/// allocated, and one whose peak memory cannot fit is refused with the settings to lower.
/// The defaults on the sample and on data of Kang 2018's size need a small fraction of the
/// page's 3 GiB, and the estimate grows with what it is made of.
#[test]
fn a_run_whose_settings_multiply_past_the_memory_limit_is_refused_before_it_allocates() {
    use cellshift::config::{Estimate, Shape};
    let ds = sample();
    let huge = Settings {
        model: ModelName::Sams,
        hidden: 4096,
        particles: 256,
        batch_size: 65536,
        ..Default::default()
    };
    let cfg = huge.check().expect("each setting is within its bounds");
    let t0 = std::time::Instant::now();
    match Session::new(ds.clone(), "sample", cfg, &Device::flex().autodiff()) {
        Err(
            e @ RunError::TooBig {
                need_gib,
                limit_gib,
            },
        ) => {
            assert!(need_gib > limit_gib, "{e}");
            let text = e.to_string();
            assert!(
                text.contains("GiB") && text.contains("hidden units"),
                "{text}"
            );
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a run needing more memory than the limit was started"),
    }
    // Refused from the estimate, not after trying: no model of 4096 hidden units was built.
    assert!(t0.elapsed().as_secs_f64() < 5.0);

    let page_limit = 3.0 * 1024.0 * 1024.0 * 1024.0;
    let kang = Shape {
        cells: 1975,
        genes: 504,
        perturbations: 1,
        covariate_levels: 8,
    };
    let design = Design::from_dataset(&ds).unwrap();
    for shape in [Shape::of(&ds, &design), kang] {
        for model in [ModelName::Cvae, ModelName::Sams] {
            let s = Settings {
                model,
                ..Default::default()
            };
            let e = Estimate::of(&s, &shape);
            assert!(
                e.fits() && e.memory_bytes < 0.05 * page_limit,
                "{model:?} {shape:?}: {e:?}"
            );
            // Twice the epochs: twice the training work, the same memory.
            let longer = Estimate::of(
                &Settings {
                    epochs: 2 * s.epochs,
                    ..s.clone()
                },
                &shape,
            );
            assert!((longer.train_flops / e.train_flops - 2.0).abs() < 1e-9);
            assert_eq!(longer.memory_bytes, e.memory_bytes);
            let wider = Estimate::of(
                &Settings {
                    hidden: 4 * s.hidden,
                    ..s.clone()
                },
                &shape,
            );
            assert!(wider.memory_bytes > e.memory_bytes && wider.work() > 4.0 * e.work());
        }
    }
}
