//! A run's training state carried to another device: a checkpoint read from one session,
//! through bytes, restores a fresh session of the same settings to the same model — scored the
//! same, to the last digit — and training goes on from there. Damaged or foreign checkpoints
//! are refused with their reason.

use burn::tensor::Device;
use cellshift::checkpoint::{Checkpoint, CheckpointError, read_params};
use cellshift::config::{ModelName, Settings};
use cellshift::pipeline::Session;
use cellshift::sample::{SampleConfig, generate};

fn session(settings: &Settings) -> Session {
    let ds = generate(&SampleConfig::default()).expect("sample").0;
    let cfg = settings.clone().check().expect("valid settings");
    // A device of its own, as after a switch of backend.
    Session::new(ds, "sample", cfg, &Device::flex().autodiff()).expect("session starts")
}

fn scores_json(s: &Session) -> String {
    let r = pollster::block_on(s.evaluate(0.0, "flex")).expect("scored");
    serde_json::to_string(&r.scores).expect("json")
}

fn check(settings: Settings, epochs_before: usize) {
    let mut a = session(&settings);
    for _ in 0..epochs_before {
        pollster::block_on(a.step()).expect("epoch runs");
    }
    let cp = pollster::block_on(a.trainer.checkpoint()).expect("checkpoint reads");
    let bytes = cp.to_bytes();
    let back = Checkpoint::from_bytes(&bytes).expect("the bytes read back");
    assert_eq!(back, cp, "bytes round trip exactly");

    let mut b = session(&settings);
    b.trainer.restore(&back).expect("restores");
    assert_eq!(b.trainer.epoch(), epochs_before);
    assert_eq!(b.trainer.history(), a.trainer.history());
    assert_eq!(
        pollster::block_on(read_params(&b.trainer.model())).unwrap(),
        pollster::block_on(read_params(&a.trainer.model())).unwrap(),
        "the model to predict with is the same"
    );
    assert_eq!(scores_json(&b), scores_json(&a), "scored the same");

    // Training goes on from there, to the budget.
    while !b.is_done() {
        let r = pollster::block_on(b.step()).expect("epoch runs after a restore");
        assert!(r.train.values().all(|v| v.is_finite()), "{r:?}");
    }
    assert_eq!(b.trainer.epoch(), settings.epochs);
    assert_eq!(
        b.trainer.history()[..epochs_before],
        a.trainer.history()[..]
    );
}

#[test]
fn a_cvae_run_restored_from_a_checkpoint_scores_the_same_and_goes_on() {
    check(
        Settings {
            epochs: 6,
            hidden: 32,
            genes: 50,
            iwelbo_particles: 5,
            ate_samples: 50,
            ..Default::default()
        },
        3,
    );
}

/// After SAMS-VAE has switched its masks on (align_epochs 2), the restored model has them on.
#[test]
fn a_sams_run_restored_after_its_masks_started_scores_the_same_and_goes_on() {
    check(
        Settings {
            model: ModelName::Sams,
            epochs: 5,
            align_epochs: 2,
            hidden: 32,
            genes: 50,
            particles: 2,
            iwelbo_particles: 5,
            ate_samples: 50,
            ..Default::default()
        },
        3,
    );
}

#[test]
fn damaged_or_foreign_checkpoints_are_refused_with_their_reason() {
    let small = Settings {
        epochs: 2,
        hidden: 16,
        genes: 50,
        ..Default::default()
    };
    let mut a = session(&small);
    pollster::block_on(a.step()).unwrap();
    let bytes = pollster::block_on(a.trainer.checkpoint())
        .unwrap()
        .to_bytes();
    for cut in [0, 3, 10, bytes.len() - 1] {
        match Checkpoint::from_bytes(&bytes[..cut]) {
            Err(CheckpointError::Damaged(why)) => assert!(!why.is_empty()),
            other => panic!("{cut} bytes: {other:?}"),
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Checkpoint::from_bytes(&longer),
        Err(CheckpointError::Damaged(_))
    ));
    // A checkpoint of another model size does not fit, and the session is left as it was.
    let cp = Checkpoint::from_bytes(&bytes).unwrap();
    let mut wider = session(&Settings {
        hidden: 32,
        ..small.clone()
    });
    let before = pollster::block_on(read_params(&wider.trainer.model())).unwrap();
    let err = wider.trainer.restore(&cp).unwrap_err();
    assert!(matches!(err, CheckpointError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("does not fit"), "{err}");
    assert_eq!(
        pollster::block_on(read_params(&wider.trainer.model())).unwrap(),
        before
    );
    assert_eq!(wider.trainer.epoch(), 0);
}
