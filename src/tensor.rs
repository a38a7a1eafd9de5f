//! Tensor I/O: host matrices onto the device and values back, without blocking.
//!
//! Readback is asynchronous (the only kind WebGPU allows), so the same code runs in the browser
//! and natively under `block_on`.

use burn::tensor::{Device, Tensor, TensorData};
use thiserror::Error;

use crate::matrix::Matrix;

/// The device could not hand values back to the host.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("reading values back from the device failed: {0}")]
pub struct ReadbackError(pub String);

pub fn to_tensor(m: &Matrix, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(m.data.clone(), [m.rows, m.cols]), device)
}

pub fn tensor2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

pub fn tensor3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Reads a small tensor back without blocking (the only readback WebGPU allows).
pub async fn read_vec(t: Tensor<1>) -> Result<Vec<f32>, ReadbackError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ReadbackError(format!("{e:?}")))?;
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| ReadbackError(format!("{e:?}")))
}

pub async fn read_matrix(t: Tensor<2>) -> Result<Matrix, ReadbackError> {
    let [rows, cols] = t.dims();
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ReadbackError(format!("{e:?}")))?;
    let v = data
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| ReadbackError(format!("{e:?}")))?;
    Ok(Matrix::from_vec(rows, cols, v))
}
