//! A run's training state on the host, so that training can go on on another device when the
//! one it ran on is lost: the page keeps the checkpoint of the last good epoch of a WebGPU run,
//! and when the GPU is lost or hangs it restarts the engine on the CPU from there.
//!
//! Kept: every float parameter of the model and of the best model so far, the epoch, the loss
//! history, early-stopping state, the random stream and whether the masks are on. Not kept:
//! Adam's moment estimates, which restart (as they do when SAMS-VAE switches its masks on) and
//! settle again within a few dozen steps.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::Model;
use crate::results::EpochRecord;
use crate::tensor::{ReadbackError, read_vec};

/// What a checkpoint is made of, apart from the parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub epoch: usize,
    /// The epoch budget (raised by Resume).
    pub budget: usize,
    pub history: Vec<EpochRecord>,
    pub stale: usize,
    pub stopped_early: bool,
    pub rng: [u64; 4],
    pub masks_on: bool,
    /// Validation loss and epoch of the best model so far, when there is one.
    pub best: Option<(f64, usize)>,
}

/// A checkpoint: the state, the model's parameters and the best model's (same layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub state: TrainState,
    pub params: Vec<Vec<f32>>,
    pub best_params: Option<Vec<Vec<f32>>>,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CheckpointError {
    #[error("the checkpoint is damaged: {0}")]
    Damaged(String),
    #[error(
        "the checkpoint does not fit this model: parameter {index} holds {found} values, the model's {expected}"
    )]
    Mismatch {
        index: usize,
        expected: usize,
        found: usize,
    },
    #[error("the checkpoint has {found} parameters, the model {expected}")]
    Count { expected: usize, found: usize },
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// Every float parameter of a module, flattened, in the module's visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().flatten(0, D - 1)); // [values]
    }
}

/// Reads a model's parameters back, without blocking.
pub async fn read_params(model: &Model) -> Result<Vec<Vec<f32>>, ReadbackError> {
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    let mut out = Vec::with_capacity(c.0.len());
    for t in c.0 {
        out.push(read_vec(t).await?);
    }
    Ok(out)
}

/// Replaces each float parameter's values (on its own device, keeping whether it takes a
/// gradient) with the next stored one.
struct Put<'a> {
    values: &'a [Vec<f32>],
    next: usize,
    error: Option<CheckpointError>,
}

impl ModuleMapper for Put<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let index = self.next;
        self.next += 1;
        if self.error.is_some() {
            return param;
        }
        let Some(values) = self.values.get(index) else {
            return param;
        };
        param.map(|t| {
            let shape = t.shape();
            if shape.num_elements() != values.len() {
                self.error = Some(CheckpointError::Mismatch {
                    index,
                    expected: shape.num_elements(),
                    found: values.len(),
                });
                return t;
            }
            let grad = t.is_require_grad();
            let fresh = Tensor::<D>::from_data(TensorData::new(values.clone(), shape), &t.device());
            if grad { fresh.require_grad() } else { fresh }
        })
    }
}

/// `model` (built fresh, of the same settings) with the stored parameters.
pub fn put_params(model: Model, values: &[Vec<f32>]) -> Result<Model, CheckpointError> {
    let mut put = Put {
        values,
        next: 0,
        error: None,
    };
    let model = model.map(&mut put);
    if let Some(e) = put.error {
        return Err(e);
    }
    if put.next != values.len() {
        return Err(CheckpointError::Count {
            expected: put.next,
            found: values.len(),
        });
    }
    Ok(model)
}

impl Checkpoint {
    /// Bytes: a little-endian u32 length, the state and the parameter sizes as JSON, then every
    /// value as little-endian f32 (exact, and a quarter of the size of text).
    pub fn to_bytes(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Header<'a> {
            state: &'a TrainState,
            sizes: Vec<usize>,
            best_sizes: Option<Vec<usize>>,
        }
        let sizes = |p: &[Vec<f32>]| p.iter().map(Vec::len).collect::<Vec<_>>();
        let header = Header {
            state: &self.state,
            sizes: sizes(&self.params),
            best_sizes: self.best_params.as_deref().map(sizes),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(4 + json.len());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for v in self.params.iter().chain(self.best_params.iter().flatten()) {
            for x in v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        #[derive(Deserialize)]
        struct Header {
            state: TrainState,
            sizes: Vec<usize>,
            best_sizes: Option<Vec<usize>>,
        }
        let damaged = |what: &str| CheckpointError::Damaged(what.to_string());
        let (len, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or_else(|| damaged("too short"))?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > rest.len() {
            return Err(damaged("the header is cut short"));
        }
        let (json, mut data) = rest.split_at(len);
        let header: Header =
            serde_json::from_slice(json).map_err(|e| CheckpointError::Damaged(e.to_string()))?;
        let mut take = |sizes: &[usize]| -> Result<Vec<Vec<f32>>, CheckpointError> {
            let mut out = Vec::with_capacity(sizes.len());
            for &n in sizes {
                let bytes = n
                    .checked_mul(4)
                    .ok_or_else(|| damaged("a size overflows"))?;
                if bytes > data.len() {
                    return Err(damaged("the values are cut short"));
                }
                let (head, tail) = data.split_at(bytes);
                out.push(
                    head.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                );
                data = tail;
            }
            Ok(out)
        };
        let params = take(&header.sizes)?;
        let best_params = header.best_sizes.as_deref().map(&mut take).transpose()?;
        if !data.is_empty() {
            return Err(damaged("bytes are left over"));
        }
        Ok(Self {
            state: header.state,
            params,
            best_params,
        })
    }
}
