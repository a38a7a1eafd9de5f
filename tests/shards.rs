//! Large batches are cut into shards that run in parallel: the numbers must not depend on how
//! many threads ran them.

use burn::tensor::Device;
use cellshift::config::{ModelName, Settings};
use cellshift::pipeline::Session;
use cellshift::results::EpochRecord;
use cellshift::sample::{SampleConfig, generate};
use cellshift::shards::shard_count;

/// A run on the sample trained to its end on `threads` threads.
fn trained_session(settings: &Settings, threads: usize) -> Session {
    let (ds, _) = generate(&SampleConfig::default()).expect("sample generates");
    let cfg = settings.clone().check().expect("valid settings");
    let device = Device::flex().autodiff();
    let mut s = Session::new(ds, "sample", cfg, &device).expect("session starts");
    s.trainer.set_threads(threads);
    while !s.is_done() {
        pollster::block_on(s.step()).expect("epoch runs");
    }
    s
}

/// Trained on `threads` threads: the loss history and the parameters (latest and best).
fn trained(settings: &Settings, threads: usize) -> (Vec<EpochRecord>, Vec<Vec<u32>>) {
    let s = trained_session(settings, threads);
    let cp = pollster::block_on(s.trainer.checkpoint()).expect("checkpoint reads back");
    let bits = cp
        .params
        .iter()
        .chain(cp.best_params.iter().flatten())
        .map(|p| p.iter().map(|v| v.to_bits()).collect())
        .collect();
    (s.trainer.history().to_vec(), bits)
}

#[test]
fn sharded_training_gives_the_same_bits_on_one_thread_and_on_two() {
    for model in [ModelName::Sams, ModelName::Cvae] {
        let settings = Settings {
            model,
            batch_size: 512,
            epochs: 4,
            // The masks start halfway: both objectives are trained sharded.
            align_epochs: 2,
            kl_warmup: 2,
            patience: 0,
            ..Settings::default()
        };
        assert_eq!(
            shard_count(settings.batch_size),
            2,
            "the batches are sharded"
        );
        let (history, params) = trained(&settings, 1);
        assert_eq!(history.len(), 4);
        assert!(history.iter().all(|r| r.train["loss"].is_finite()));
        let (history2, params2) = trained(&settings, 2);
        assert_eq!(history, history2, "{model:?}: loss history");
        assert!(
            params == params2,
            "{model:?}: parameters differ between 1 and 2 threads"
        );
    }
}

/// A sharded epoch whose loss is NaN is undone as an unsharded one is.
#[test]
fn a_sharded_epoch_that_diverges_is_rolled_back() {
    let (ds, _) = generate(&SampleConfig::default()).expect("sample generates");
    let settings = Settings {
        model: ModelName::Sams,
        batch_size: 512,
        epochs: 3,
        ..Settings::default()
    };
    let device = Device::flex().autodiff();
    let mut s = Session::new(ds, "sample", settings.check().unwrap(), &device).unwrap();
    s.trainer.set_threads(2);
    pollster::block_on(s.step()).unwrap();
    let before = pollster::block_on(s.trainer.checkpoint()).unwrap().params;
    s.trainer.drill_divergence();
    let err = pollster::block_on(s.step()).expect_err("a NaN loss ends the run");
    assert!(err.to_string().contains("epoch 2"), "{err}");
    let after = pollster::block_on(s.trainer.checkpoint()).unwrap().params;
    assert_eq!(before, after, "the model from epoch 1 is kept");
    assert_eq!(s.trainer.history().len(), 1);
}

/// Scoring draws its cells and its IWELBO particles in blocks that run on the run's threads:
/// the scores must not depend on how many.
#[test]
fn scores_are_the_same_on_one_thread_and_on_two() {
    for model in [ModelName::Cvae, ModelName::Sams] {
        let settings = Settings {
            model,
            epochs: 2,
            patience: 0,
            ..Settings::default()
        };
        let scores = |threads| {
            let s = trained_session(&settings, threads);
            let r = pollster::block_on(s.evaluate(1.0, "flex")).expect("scores");
            serde_json::to_string(&r.scores).expect("scores serialise")
        };
        let one = scores(1);
        assert!(
            one.contains("\"iwelbo\":-") && one.contains("\"r_top20\""),
            "{model:?}: {one}"
        );
        assert_eq!(
            one,
            scores(2),
            "{model:?}: scores differ between 1 and 2 threads"
        );
    }
}
