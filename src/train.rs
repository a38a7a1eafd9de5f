//! Training: a `Trainer` owns the model and its optimizer and runs one epoch per call.
//!
//! Loss values are accumulated on the device and read back once per epoch with burn's async
//! readback, so the same code runs on WebGPU in the browser (where synchronous readback is not
//! allowed) and natively under `block_on`.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError, TrainState, put_params, read_params};
use crate::matrix::Matrix;
use crate::model::{Batch, GlobalNoise, LossOutput, Model};
use crate::results::EpochRecord;
use crate::rng::Rng;
use crate::shards::{default_threads, run_shards, shard_count, split};
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
    /// NB: Σ_g ln x_g! per cell (see [`Batch::ln_factorial`]); Gaussian: zeros.
    pub ln_factorial: Vec<f32>,
}

impl CellSet {
    pub fn len(&self) -> usize {
        self.x_std.rows
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Σ_g ln x_g! of each row of `counts`, in f64 and rounded once.
    pub fn ln_factorials(counts: &Matrix) -> Vec<f32> {
        (0..counts.rows)
            .map(|i| {
                let row = counts.row(i);
                row.iter()
                    .map(|&x| crate::rng::ln_factorial(x.max(0.0).round() as f64))
                    .sum::<f64>() as f32
            })
            .collect()
    }
}

struct DeviceCells {
    x_std: Tensor<2>,
    target: Tensor<2>,
    library: Tensor<2>,
    condition: Tensor<2>,
    ln_factorial: Tensor<2>,
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
            ln_factorial: Tensor::from_data(
                TensorData::new(set.ln_factorial.clone(), [set.len(), 1]),
                device,
            ),
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
            condition: self.condition.clone().select(0, ids.clone()),
            ln_factorial: self.ln_factorial.clone().select(0, ids),
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
    /// Threads the shards of a large batch may run on; never changes results.
    threads: usize,
}

/// Where a set's losses are computed: the model, the cells on their device, and the threads
/// a large chunk's shards may run on.
struct Shards<'a> {
    model: &'a Model,
    /// Training: each shard runs on a copy of the model with autodiff nodes of its own.
    train: bool,
    set: &'a DeviceCells,
    device: &'a Device,
    threads: usize,
}

impl Shards<'_> {
    /// `f(model, loss, cells, weight)` of each shard of the cells `chunk`, in shard order;
    /// `weight` is the shard's share of the chunk's cells.
    ///
    /// A chunk too small to shard (see [`shard_count`]) is one shard whose noise all comes
    /// from `rng`, as an unsharded batch's always has. Otherwise `rng` gives the chunk's draw
    /// of the global variables, shared by every shard, and a key from which each shard's
    /// per-cell noise is a stream of its own: the noise depends on the chunk and the shard,
    /// never on the thread. In training, each shard's copy of the model has fresh autodiff
    /// nodes under the same parameter ids, so the shards' graphs share nothing (autodiff
    /// would otherwise run them one at a time) and their gradients are keyed as the model's.
    fn losses<T: Send>(
        &self,
        chunk: &[usize],
        beta: f64,
        rng: &mut Rng,
        f: impl Fn(&Model, LossOutput, usize, f64) -> T + Sync,
    ) -> Vec<T> {
        let (set, device) = (self.set, self.device);
        let shards = shard_count(chunk.len());
        if shards == 1 {
            let out = self.model.loss(set.batch(chunk, device), beta, rng);
            return vec![f(self.model, out, chunk.len(), 1.0)];
        }
        let global = self.model.draw_step_noise(rng);
        let key = rng.next_u64();
        let noise = (0..shards).map(|i| Rng::split(key, i as u64)).collect();
        self.run(&split(chunk, shards), beta, global.as_ref(), noise, f)
    }

    /// `f(model, loss, cells, weight)` of each of the `parts` of a chunk under the chunk's
    /// `global` draw, part `i` with its per-cell noise from `noise[i]`.
    fn run<T: Send>(
        &self,
        parts: &[&[usize]],
        beta: f64,
        global: Option<&GlobalNoise>,
        noise: Vec<Rng>,
        f: impl Fn(&Model, LossOutput, usize, f64) -> T + Sync,
    ) -> Vec<T> {
        let (set, device) = (self.set, self.device);
        let cells: usize = parts.iter().map(|p| p.len()).sum();
        run_shards(parts.len(), self.threads, |i| {
            let part = parts[i];
            let copy = self.train.then(|| self.model.clone().fork(device));
            let model = copy.as_ref().unwrap_or(self.model);
            let mut noise = noise[i].clone();
            let out = model.loss_with(set.batch(part, device), beta, global, &mut noise);
            f(model, out, part.len(), part.len() as f64 / cells as f64)
        })
    }
}

/// What one step (or one shard of it) hands to the optimizer and the epoch's record.
struct StepGradients {
    /// The loss terms' names, `loss` first.
    names: Vec<&'static str>,
    /// The loss terms summed over the step's cells (per-cell averages times cells). [terms]
    terms: Tensor<1>,
    grads: GradientsParams,
}

impl StepGradients {
    /// Backward of `out`, the loss of `cells` cells, weighted by `weight` (the cells' share
    /// of the step). A fault drill makes the loss NaN first.
    fn new(model: &Model, mut out: LossOutput, cells: usize, weight: f64, drill: bool) -> Self {
        if drill {
            out.loss = out.loss.mul_scalar(f64::NAN);
        }
        let names = out.names();
        let terms = out.stacked().mul_scalar(cells as f64);
        let loss = if weight == 1.0 {
            out.loss
        } else {
            out.loss.mul_scalar(weight)
        };
        Self {
            names,
            terms,
            grads: GradientsParams::from_grads(loss.backward(), model),
        }
    }
}

impl StepGradients {
    /// The shards' terms and gradients added up in shard order.
    fn sum(model: &Model, steps: Vec<Self>) -> Self {
        let mut steps = steps.into_iter();
        let mut total = steps.next().expect("a batch has at least one shard");
        for step in steps {
            total.terms = total.terms + step.terms;
            total.grads = add_gradients(model, total.grads, step.grads);
        }
        total
    }
}

/// `a + b`, parameter by parameter (a parameter without a gradient in one counts as zero).
fn add_gradients(model: &Model, mut a: GradientsParams, mut b: GradientsParams) -> GradientsParams {
    struct Add<'a> {
        a: &'a mut GradientsParams,
        b: &'a mut GradientsParams,
    }
    impl ModuleVisitor for Add<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let id = param.id;
            let sum = match (self.a.remove::<D>(id), self.b.remove::<D>(id)) {
                (Some(x), Some(y)) => x + y,
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => return,
            };
            self.a.register(id, sum);
        }
    }
    model.visit(&mut Add {
        a: &mut a,
        b: &mut b,
    });
    a
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
        crate::shards::keep_freed_memory();
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
            threads: default_threads(),
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

    /// Threads the shards of a large batch may run on (by default
    /// [`crate::shards::default_threads`]): the results are the same on any number, only the
    /// time changes.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// The threads this run may use, for its scoring too.
    pub fn threads(&self) -> usize {
        self.threads
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
            let drill = std::mem::take(&mut self.drill);
            let step = self.gradients(chunk, beta, drill);
            names = step.names;
            sum = Some(match sum {
                Some(s) => s + step.terms,
                None => step.terms,
            });
            self.apply(step.grads);
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
            let device = val.x_std.device();
            let shards = Shards {
                model: &model,
                train: false,
                set: val,
                device: &device,
                threads: self.threads,
            };
            for chunk in all.chunks(1024) {
                let parts = shards.losses(chunk, self.cfg.beta, &mut vrng, |_, out, n, _| {
                    (out.names(), out.stacked().mul_scalar(n as f64))
                });
                for (part_names, terms) in parts {
                    names = part_names;
                    vsum = Some(match vsum {
                        Some(s) => s + terms,
                        None => terms,
                    });
                }
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

    /// One step's loss terms and gradients on the cells `chunk` (see [`shard_losses`]): the
    /// shards' gradients, each of its loss weighted by its share of the cells, add up to those
    /// of the whole batch's loss.
    fn gradients(&mut self, chunk: &[usize], beta: f64, drill: bool) -> StepGradients {
        let shards = Shards {
            model: &self.model,
            train: true,
            set: &self.train,
            device: &self.device,
            threads: self.threads,
        };
        let steps = shards.losses(chunk, beta, &mut self.rng, |model, out, n, weight| {
            StepGradients::new(model, out, n, weight, drill)
        });
        StepGradients::sum(&self.model, steps)
    }

    /// One optimizer step (the global variables at their own learning rate, if they have one).
    fn apply(&mut self, grads: GradientsParams) {
        self.model = match &self.lr_groups {
            Some(lr) => self.optim.step(lr.clone(), self.model.clone(), grads),
            None => self.optim.step(self.cfg.lr, self.model.clone(), grads),
        };
    }

    /// Runs `steps` optimizer steps on the first batches of the training cells, then waits for
    /// the device to finish them: what one step of this model costs on this device, for
    /// choosing between devices. The model moves, so probe a trainer built for the purpose.
    pub async fn probe(&mut self, steps: usize) -> Result<(), TrainError> {
        let beta = kl_weight(self.epoch, self.cfg.kl_warmup, self.cfg.beta);
        let order: Vec<usize> = (0..self.train.n).collect();
        let batches = order.chunks(self.cfg.batch_size.max(1)).cycle().take(steps);
        for chunk in batches {
            let step = self.gradients(chunk, beta, false);
            self.apply(step.grads);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::model::{CvaeConfig, Likelihood, SamsConfig, SamsKind};

    const GENES: usize = 12;
    const TREATMENTS: usize = 3;
    const LATENT: usize = 4;

    /// Random cells: counts, their standardised logs, a dosage of one treatment (or none).
    fn cells(n: usize, rng: &mut Rng) -> CellSet {
        let counts: Vec<f32> = (0..n * GENES).map(|_| rng.poisson(3.0) as f32).collect();
        let library = counts
            .chunks(GENES)
            .map(|r| r.iter().sum::<f32>() + 1.0)
            .collect();
        let x_std = counts.iter().map(|&c| (c + 1.0).ln() - 1.0).collect();
        let mut condition = vec![0.0; n * TREATMENTS];
        for row in condition.chunks_mut(TREATMENTS) {
            if let Some(t) = rng.below(TREATMENTS + 1).checked_sub(1) {
                row[t] = 1.0;
            }
        }
        let target = Matrix::from_vec(n, GENES, counts);
        CellSet {
            x_std: Matrix::from_vec(n, GENES, x_std),
            ln_factorial: CellSet::ln_factorials(&target),
            target,
            library,
            condition: Matrix::from_vec(n, TREATMENTS, condition),
        }
    }

    fn models(device: &Device) -> Vec<Model> {
        let cvae = CvaeConfig::new(GENES, TREATMENTS, 0)
            .with_latent(LATENT)
            .with_hidden(16)
            .init(3, device);
        // One particle: its noise is one row per cell, so the parts' streams can be made to
        // continue the whole batch's exactly (see the test).
        let mut options = Settings::default()
            .check()
            .expect("defaults are valid")
            .sams();
        options.particles = 1;
        options.align_epochs = 0;
        let sams = |kind| {
            Model::Sams(
                SamsConfig {
                    kind,
                    n_genes: GENES,
                    n_treatments: TREATMENTS,
                    n_covariates: 0,
                    latent: LATENT,
                    hidden: 16,
                    likelihood: Likelihood::Nb,
                    options: options.clone(),
                    n_obs: vec![90.0, 70.0, 80.0],
                }
                .init(5, device),
            )
        };
        vec![
            Model::Cvae(cvae),
            sams(SamsKind::Correlated),
            sams(SamsKind::MeanField),
            sams(SamsKind::SvaePlus),
        ]
    }

    /// Every parameter's gradient as host values, in the model's order.
    fn host(model: &Model, grads: &GradientsParams) -> Vec<Vec<f32>> {
        struct Read<'a>(&'a GradientsParams, Vec<Vec<f32>>);
        impl ModuleVisitor for Read<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if let Some(g) = self.0.get::<D>(param.id) {
                    self.1
                        .push(g.into_data().convert::<f32>().try_to_vec().unwrap());
                }
            }
        }
        let mut read = Read(grads, Vec::new());
        model.visit(&mut read);
        read.1
    }

    /// A batch cut in two shards, run on two threads on copies of the model, gives the
    /// gradients and loss terms of the whole batch under the same noise: the global terms are
    /// each cell's share, counted once, and the shards' losses are weighted by their cells.
    #[test]
    fn sharded_gradients_equal_the_whole_batch_gradients() {
        let device = Device::flex().autodiff();
        let mut data = Rng::new(1);
        let set = DeviceCells::upload(&cells(300, &mut data), &device);
        let mut chunk: Vec<usize> = (0..set.n).collect();
        data.shuffle(&mut chunk);
        let chunk = &chunk[..290];
        assert_eq!(shard_count(chunk.len()), 2);
        for model in models(&device) {
            let beta = 0.7;
            let mut rng = Rng::new(9);
            let global = model.draw_step_noise(&mut rng);
            let batch = set.batch(chunk, &device);
            let out = model.loss_with(batch, beta, global.as_ref(), &mut rng.clone());
            let whole = StepGradients::new(&model, out, chunk.len(), 1.0, false);

            let parts = split(chunk, 2);
            let mut second = rng.clone();
            second.normal_vec(parts[0].len() * LATENT);
            let shards = Shards {
                model: &model,
                train: true,
                set: &set,
                device: &device,
                threads: 2,
            };
            let steps = shards.run(
                &parts,
                beta,
                global.as_ref(),
                vec![rng, second],
                |m, o, n, w| StepGradients::new(m, o, n, w, false),
            );
            let sharded = StepGradients::sum(&model, steps);

            let close = |a: &[f32], b: &[f32], what: &str| {
                assert_eq!(a.len(), b.len(), "{what}");
                let scale = a.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                for (x, y) in a.iter().zip(b) {
                    assert!(
                        (x - y).abs() <= 1e-4 * scale,
                        "{what}: {x} vs {y} (scale {scale})"
                    );
                }
            };
            let terms = |t: Tensor<1>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            let kind = format!("{:?}", model.sams_kind());
            close(&terms(whole.terms), &terms(sharded.terms), &kind);
            let (a, b) = (host(&model, &whole.grads), host(&model, &sharded.grads));
            assert_eq!(
                a.len(),
                b.len(),
                "{kind}: the same parameters have gradients"
            );
            assert!(!a.is_empty());
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                close(x, y, &format!("{kind} parameter {i}"));
            }
        }
    }
}
