//! Training: a `Trainer` owns the model and its optimizer and runs one epoch per call.
//!
//! Loss values are accumulated on the device and read back once per epoch with burn's async
//! readback, so the same code runs on WebGPU in the browser (where synchronous readback is not
//! allowed) and natively under `block_on`.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError, TrainState, put_params, read_params};
use crate::matrix::Matrix;
use crate::model::{Batch, LossOutput, Model};
use crate::results::EpochRecord;
use crate::rng::Rng;
use crate::tensor::{ReadbackError, read_vec, to_tensor};

/// The trainer's options, built from a checked [`crate::config::RunConfig`] (where their
/// defaults and bounds are declared).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Epochs over which the KL weight rises linearly from beta/warmup to beta.
    pub kl_warmup: usize,
    pub beta: f64,
    /// Maximum gradient norm (0 disables clipping).
    pub grad_clip: f64,
    /// Stop after this many epochs past warm-up without a better validation loss (0: never).
    pub patience: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum TrainError {
    #[error("there are no training cells")]
    NoTrainingCells,
    #[error(
        "training diverged at epoch {epoch}: the {term} loss is not a finite number; the model from the epoch before is kept (try a lower learning rate)"
    )]
    NonFinite { epoch: usize, term: String },
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// KL weight for a 0-based epoch: a linear warm-up to `beta` over `warmup` epochs.
pub fn kl_weight(epoch: usize, warmup: usize, beta: f64) -> f64 {
    if warmup == 0 {
        beta
    } else {
        beta * ((epoch + 1) as f64 / warmup as f64).min(1.0)
    }
}

/// Host-side model inputs for a set of cells (all matrices have one row per cell).
#[derive(Debug, Clone)]
pub struct CellSet {
    pub x_std: Matrix,
    pub target: Matrix,
    pub library: Vec<f32>,
    pub condition: Matrix,
}

impl CellSet {
    pub fn len(&self) -> usize {
        self.x_std.rows
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct DeviceCells {
    x_std: Tensor<2>,
    target: Tensor<2>,
    library: Tensor<2>,
    condition: Tensor<2>,
    n: usize,
}

impl DeviceCells {
    fn upload(set: &CellSet, device: &Device) -> Self {
        Self {
            x_std: to_tensor(&set.x_std, device),
            target: to_tensor(&set.target, device),
            library: Tensor::from_data(
                TensorData::new(set.library.clone(), [set.len(), 1]),
                device,
            ),
            condition: to_tensor(&set.condition, device),
            n: set.len(),
        }
    }

    fn batch(&self, idx: &[usize], device: &Device) -> Batch {
        let ids: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [idx.len()]), device);
        Batch {
            x_std: self.x_std.clone().select(0, ids.clone()),
            target: self.target.clone().select(0, ids.clone()),
            library: self.library.clone().select(0, ids.clone()),
            condition: self.condition.clone().select(0, ids),
        }
    }
}

pub struct Trainer {
    cfg: TrainConfig,
    model: Model,
    /// Built once: rebuilding it would reset Adam's moment estimates.
    optim: ModuleOptimizer,
    /// Per-group learning rates when the model has a parameter group of its own (the SAMS
    /// family's global variational parameters); `None`: `cfg.lr` for every parameter.
    lr_groups: Option<ModuleLearningRate>,
    device: Device,
    train: DeviceCells,
    val: Option<DeviceCells>,
    rng: Rng,
    epoch: usize,
    history: Vec<EpochRecord>,
    best: Option<(f64, usize, Model)>,
    stale: usize,
    stopped_early: bool,
    /// Set when an epoch's loss was not finite: the model and optimizer were rolled back to
    /// the epoch before, and the run is over.
    diverged: Option<Divergence>,
    /// A fault drill: the next epoch's loss is made non-finite (see [`Trainer::drill_divergence`]).
    drill: bool,
}

/// Where and how a run diverged.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// The epoch whose loss was not finite (1-based); the model is the one from before it.
    pub epoch: usize,
    /// The loss term that was not finite, with its set (`train recon`, `val loss`, ...).
    pub term: String,
}

/// The state an epoch may have to be undone to.
struct Snapshot {
    model: Model,
    optim: ModuleOptimizer,
    best: Option<(f64, usize, Model)>,
    stale: usize,
}

impl Trainer {
    /// `device` should be an autodiff device (`Device::flex().autodiff()`, or WebGPU's).
    pub fn new(
        model: Model,
        cfg: TrainConfig,
        train: &CellSet,
        val: &CellSet,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if train.is_empty() {
            return Err(TrainError::NoTrainingCells);
        }
        let optim = Self::optimizer(&cfg);
        let lr_groups = model
            .param_group_lr()
            .map(|(group, lr)| ModuleLrScheduler::new(cfg.lr).with_group(group, lr).step());
        let inner = device.clone().inner();
        let val = (!val.is_empty()).then(|| DeviceCells::upload(val, &inner));
        Ok(Self {
            rng: Rng::derive(cfg.seed, "training"),
            train: DeviceCells::upload(train, device),
            val,
            model,
            optim,
            lr_groups,
            device: device.clone(),
            epoch: 0,
            history: Vec::new(),
            best: None,
            stale: 0,
            stopped_early: false,
            diverged: None,
            drill: false,
            cfg,
        })
    }

    fn optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
        let mut adam = AdamConfig::new();
        if cfg.weight_decay > 0.0 {
            adam = adam.with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)));
        }
        if cfg.grad_clip > 0.0 {
            adam =
                adam.with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.grad_clip as f32)));
        }
        adam.init()
    }

    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }
    /// The epoch budget (raised by [`Trainer::extend`]).
    pub fn budget(&self) -> usize {
        self.cfg.epochs
    }
    pub fn epoch(&self) -> usize {
        self.epoch
    }
    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }
    pub fn stopped_early(&self) -> bool {
        self.stopped_early
    }
    pub fn best_epoch(&self) -> usize {
        self.best.as_ref().map_or(self.epoch, |b| b.1)
    }

    /// True once the epoch budget is spent, early stopping fired or the run diverged.
    pub fn is_done(&self) -> bool {
        self.stopped_early || self.diverged.is_some() || self.epoch >= self.cfg.epochs
    }

    /// Fault drill for tests: the next epoch's loss becomes NaN before the optimizer steps, as
    /// in a real divergence (NaN gradients, NaN weights), so the roll-back can be checked.
    #[doc(hidden)]
    pub fn drill_divergence(&mut self) {
        self.drill = true;
    }

    /// Where the run diverged, if it did.
    pub fn diverged(&self) -> Option<&Divergence> {
        self.diverged.as_ref()
    }

    /// Raise the epoch budget (to resume a finished run); clears an early stop.
    pub fn extend(&mut self, epochs: usize) {
        self.cfg.epochs = self.cfg.epochs.max(self.epoch + epochs);
        self.stopped_early = false;
        self.stale = 0;
    }

    /// The training state on the host (see [`crate::checkpoint`]), read without blocking.
    pub async fn checkpoint(&self) -> Result<Checkpoint, TrainError> {
        let params = read_params(&self.model).await?;
        let best_params = match &self.best {
            Some((_, _, m)) => Some(read_params(m).await?),
            None => None,
        };
        Ok(Checkpoint {
            state: TrainState {
                epoch: self.epoch,
                budget: self.cfg.epochs,
                history: self.history.clone(),
                stale: self.stale,
                stopped_early: self.stopped_early,
                rng: self.rng.state(),
                masks_on: self.model.masks_on(),
                best: self.best.as_ref().map(|(v, e, _)| (*v, *e)),
            },
            params,
            best_params,
        })
    }

    /// Continues from a checkpoint of a run of the same settings and data (made on any
    /// device): this trainer's model, built fresh on its own device, takes the stored values.
    /// Adam starts afresh.
    pub fn restore(&mut self, cp: &Checkpoint) -> Result<(), CheckpointError> {
        let s = &cp.state;
        let with = |values: &[Vec<f32>]| -> Result<Model, CheckpointError> {
            let mut m = put_params(self.model.clone(), values)?;
            m.set_masks_on(s.masks_on);
            Ok(m)
        };
        let model = with(&cp.params)?;
        let best = match (s.best, &cp.best_params) {
            (Some((v, e)), Some(p)) => Some((v, e, with(p)?)),
            _ => None,
        };
        self.model = model;
        self.best = best;
        self.optim = Self::optimizer(&self.cfg);
        self.epoch = s.epoch;
        self.cfg.epochs = self.cfg.epochs.max(s.budget);
        self.history = s.history.clone();
        self.stale = s.stale;
        self.stopped_early = s.stopped_early;
        self.rng = Rng::from_state(s.rng);
        self.diverged = None;
        Ok(())
    }

    /// The model to predict with: the best one on validation loss after warm-up, else the
    /// latest, without autodiff.
    pub fn model(&self) -> Model {
        match &self.best {
            Some((_, _, m)) => m.valid(),
            None => self.model.valid(),
        }
    }

    /// Runs one epoch over the training cells in a seeded order and returns its record.
    ///
    /// When a loss term comes back not finite, the epoch is undone (model, optimizer and the
    /// best model so far are restored to what they were before it), the run ends, and the
    /// error says which term diverged at which epoch; the session can still be scored.
    pub async fn run_epoch(&mut self) -> Result<EpochRecord, TrainError> {
        // Parameters are immutable tensors: these clones share them, so keeping the state
        // before the epoch costs no copy.
        let before = Snapshot {
            model: self.model.clone(),
            optim: self.optim.clone(),
            best: self.best.clone(),
            stale: self.stale,
        };
        if self.model.needs_alignment(self.epoch) {
            self.model.align(&mut self.rng).await?;
            // A new latent basis: Adam's moment estimates and the best model so far refer to
            // the old one (and to an objective without masks).
            self.optim = Self::optimizer(&self.cfg);
            self.best = None;
            self.stale = 0;
        }
        let beta = kl_weight(self.epoch, self.cfg.kl_warmup, self.cfg.beta);
        let n = self.train.n;
        let mut order: Vec<usize> = (0..n).collect();
        self.rng.shuffle(&mut order);
        let mut sum: Option<Tensor<1>> = None;
        let mut names = Vec::new();
        for chunk in order.chunks(self.cfg.batch_size) {
            let batch = self.train.batch(chunk, &self.device);
            let mut out: LossOutput = self.model.loss(batch, beta, &mut self.rng);
            if std::mem::take(&mut self.drill) {
                out.loss = out.loss.mul_scalar(f64::NAN);
            }
            names = out.names();
            let terms = out.stacked().mul_scalar(chunk.len() as f64); // [terms]
            sum = Some(match sum {
                Some(s) => s + terms,
                None => terms,
            });
            let grads = GradientsParams::from_grads(out.loss.backward(), &self.model);
            self.model = match &self.lr_groups {
                Some(lr) => self.optim.step(lr.clone(), self.model.clone(), grads),
                None => self.optim.step(self.cfg.lr, self.model.clone(), grads),
            };
        }
        let mut record = EpochRecord {
            epoch: self.epoch + 1,
            beta,
            train: BTreeMap::new(),
            val: BTreeMap::new(),
        };
        if let Some(s) = sum {
            for (name, v) in names.iter().zip(read_vec(s).await?) {
                record.train.insert(name.to_string(), v as f64 / n as f64);
            }
        }
        if let Some(val) = &self.val {
            let model = self.model.valid();
            // Fixed noise: the validation loss then moves only when the model does.
            let mut vrng = Rng::derive(self.cfg.seed, "validation-noise");
            let all: Vec<usize> = (0..val.n).collect();
            let mut vsum: Option<Tensor<1>> = None;
            let mut names = Vec::new();
            for chunk in all.chunks(1024) {
                let out = model.loss(
                    val.batch(chunk, &val.x_std.device()),
                    self.cfg.beta,
                    &mut vrng,
                );
                names = out.names();
                let terms = out.stacked().mul_scalar(chunk.len() as f64);
                vsum = Some(match vsum {
                    Some(s) => s + terms,
                    None => terms,
                });
            }
            if let Some(s) = vsum {
                for (name, v) in names.iter().zip(read_vec(s).await?) {
                    record.val.insert(name.to_string(), v as f64 / val.n as f64);
                }
            }
        }
        let sets = [("train", &record.train), ("val", &record.val)];
        let bad = sets.iter().find_map(|(set, terms)| {
            terms
                .iter()
                .find(|(_, v)| !v.is_finite())
                .map(|(t, _)| format!("{set} {t}"))
        });
        if let Some(term) = bad {
            self.model = before.model;
            self.optim = before.optim;
            self.best = before.best;
            self.stale = before.stale;
            let d = Divergence {
                epoch: record.epoch,
                term,
            };
            self.diverged = Some(d.clone());
            return Err(TrainError::NonFinite {
                epoch: d.epoch,
                term: d.term,
            });
        }
        self.epoch += 1;
        self.track_best(&record);
        self.history.push(record.clone());
        Ok(record)
    }

    /// Runs `steps` optimizer steps on the first batches of the training cells, then waits for
    /// the device to finish them: what one step of this model costs on this device, for
    /// choosing between devices. The model moves, so probe a trainer built for the purpose.
    pub async fn probe(&mut self, steps: usize) -> Result<(), TrainError> {
        let beta = kl_weight(self.epoch, self.cfg.kl_warmup, self.cfg.beta);
        let order: Vec<usize> = (0..self.train.n).collect();
        let batches = order.chunks(self.cfg.batch_size.max(1)).cycle().take(steps);
        for chunk in batches {
            let out = self
                .model
                .loss(self.train.batch(chunk, &self.device), beta, &mut self.rng);
            let grads = GradientsParams::from_grads(out.loss.backward(), &self.model);
            self.model = match &self.lr_groups {
                Some(lr) => self.optim.step(lr.clone(), self.model.clone(), grads),
                None => self.optim.step(self.cfg.lr, self.model.clone(), grads),
            };
        }
        // A loss of the updated model needs every step before it: reading it back waits for them.
        let head = &order[..order.len().min(self.cfg.batch_size.max(1))];
        let out = self
            .model
            .loss(self.train.batch(head, &self.device), beta, &mut self.rng);
        read_vec(out.stacked()).await?;
        Ok(())
    }

    fn track_best(&mut self, record: &EpochRecord) {
        // Before warm-up ends the objective itself is still changing: nothing to compare.
        if self.epoch < self.cfg.kl_warmup.max(self.model.schedule_epochs()) {
            return;
        }
        let Some(&v) = record.val.get("loss") else {
            return;
        };
        let improved = match &self.best {
            None => true,
            Some((best, _, _)) => v < best - 1e-4 * best.abs().max(1.0),
        };
        if improved {
            self.best = Some((v, self.epoch, self.model.clone()));
            self.stale = 0;
        } else {
            self.stale += 1;
            if self.cfg.patience > 0 && self.stale >= self.cfg.patience {
                self.stopped_early = true;
            }
        }
    }
}
