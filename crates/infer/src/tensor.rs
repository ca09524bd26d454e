//! A plain owned `f32` tensor: the currency between pipelines and runtimes.
//!
//! It is deliberately minimal (a shape and a row-major buffer) so that no runtime's
//! tensor type leaks into the pipelines' APIs.

use crate::InferError;

/// A dense, row-major `f32` tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Tensor {
    /// Wraps `data` with `shape`, checking that the element counts agree.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self, InferError> {
        let expected = element_count(&shape)?;
        if expected != data.len() {
            return Err(InferError::BadInput(format!(
                "shape {shape:?} needs {expected} values, got {}",
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }

    /// The tensor's dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values in row-major order.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Consumes the tensor and returns its values.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Concatenates tensors of identical shape `[1, ...]` (or `[...]`, treated as one item)
    /// into one batch along a new or existing first axis.
    pub fn stack(items: &[&Tensor]) -> Result<Tensor, InferError> {
        let Some(first) = items.first() else {
            return Err(InferError::BadInput("cannot stack zero tensors".into()));
        };
        let item_shape = batch_item_shape(first.shape());
        let mut data = Vec::with_capacity(first.data.len() * items.len());
        for item in items {
            if batch_item_shape(item.shape()) != item_shape {
                return Err(InferError::ShapeMismatch {
                    expected: first.shape.clone(),
                    got: item.shape.clone(),
                });
            }
            data.extend_from_slice(&item.data);
        }
        let mut shape = Vec::with_capacity(item_shape.len() + 1);
        shape.push(items.len());
        shape.extend_from_slice(item_shape);
        Tensor::new(shape, data)
    }

    /// Splits the first axis into `n` tensors of shape `[1, ...]`.
    pub fn split_batch(&self, n: usize) -> Result<Vec<Tensor>, InferError> {
        if self.shape.first() != Some(&n) {
            return Err(InferError::BadOutput(format!(
                "expected an output batch of {n}, got shape {:?}",
                self.shape
            )));
        }
        let mut shape = self.shape.clone();
        shape[0] = 1;
        let chunk = self.data.len().checked_div(n).unwrap_or(0);
        Ok((0..n)
            .map(|i| Tensor {
                shape: shape.clone(),
                data: self.data[i * chunk..(i + 1) * chunk].to_vec(),
            })
            .collect())
    }
    /// Cuts the first axis into at most `parts` contiguous slices whose sizes differ by at
    /// most one (the first slices take the extra items); never returns an empty slice.
    pub fn slice_batch(&self, parts: usize) -> Result<Vec<Tensor>, InferError> {
        let batch = self.shape.first().copied().unwrap_or(0);
        if batch == 0 || parts == 0 {
            return Err(InferError::BadInput(format!(
                "cannot cut shape {:?} into {parts} slices",
                self.shape
            )));
        }
        let parts = parts.min(batch);
        let item = self.data.len() / batch;
        let (base, extra) = (batch / parts, batch % parts);
        let mut slices = Vec::with_capacity(parts);
        let mut start = 0;
        for index in 0..parts {
            let count = base + usize::from(index < extra);
            let mut shape = self.shape.clone();
            shape[0] = count;
            slices.push(Tensor {
                shape,
                data: self.data[start * item..(start + count) * item].to_vec(),
            });
            start += count;
        }
        Ok(slices)
    }

    /// Joins tensors along their first axis; all other dimensions must agree.
    pub fn concat_batches(parts: &[&Tensor]) -> Result<Tensor, InferError> {
        let Some(first) = parts.first() else {
            return Err(InferError::BadOutput("cannot join zero tensors".into()));
        };
        let rest = first.shape.get(1..).unwrap_or_default();
        let mut batch = 0;
        let mut data = Vec::with_capacity(parts.iter().map(|p| p.data.len()).sum());
        for part in parts {
            if part.shape.get(1..).unwrap_or_default() != rest || part.shape.is_empty() {
                return Err(InferError::ShapeMismatch {
                    expected: first.shape.clone(),
                    got: part.shape.clone(),
                });
            }
            batch += part.shape[0];
            data.extend_from_slice(&part.data);
        }
        let mut shape = first.shape.clone();
        shape[0] = batch;
        Tensor::new(shape, data)
    }
}

/// The shape of one batch item: `[1, c, h, w]` and `[c, h, w]` both give `[c, h, w]`.
fn batch_item_shape(shape: &[usize]) -> &[usize] {
    match shape.split_first() {
        Some((1, rest)) if shape.len() == 4 => rest,
        _ => shape,
    }
}

fn element_count(shape: &[usize]) -> Result<usize, InferError> {
    shape.iter().try_fold(1usize, |acc, &d| {
        acc.checked_mul(d)
            .ok_or_else(|| InferError::BadInput(format!("shape {shape:?} overflows")))
    })
}

/// Named output tensors of one model run, in the model's output order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs(Vec<(String, Tensor)>);

impl Outputs {
    /// Builds outputs from `(name, tensor)` pairs.
    pub fn new(outputs: Vec<(String, Tensor)>) -> Self {
        Self(outputs)
    }

    /// The output called `name`, if the model has one.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The first output (classifiers have exactly one).
    pub fn first(&self) -> Option<&Tensor> {
        self.0.first().map(|(_, t)| t)
    }

    /// Iterates over `(name, tensor)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.0.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no outputs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Joins the outputs of runs on consecutive slices of one batch, output by output.
    pub fn concat_batches(parts: &[Outputs]) -> Result<Outputs, InferError> {
        let Some(first) = parts.first() else {
            return Err(InferError::BadOutput("cannot join zero outputs".into()));
        };
        let mut joined = Vec::with_capacity(first.0.len());
        for (index, (name, _)) in first.0.iter().enumerate() {
            let tensors = parts
                .iter()
                .map(|part| {
                    part.0
                        .get(index)
                        .filter(|(n, _)| n == name)
                        .map(|(_, t)| t)
                        .ok_or_else(|| {
                            InferError::BadOutput(format!("a slice lacks output {name}"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            joined.push((name.clone(), Tensor::concat_batches(&tensors)?));
        }
        Ok(Outputs(joined))
    }

    /// Splits batched outputs into one [`Outputs`] per batch item.
    pub fn split_batch(&self, n: usize) -> Result<Vec<Outputs>, InferError> {
        let mut per_item: Vec<Vec<(String, Tensor)>> = (0..n).map(|_| Vec::new()).collect();
        for (name, tensor) in &self.0 {
            for (slot, part) in per_item.iter_mut().zip(tensor.split_batch(n)?) {
                slot.push((name.clone(), part));
            }
        }
        Ok(per_item.into_iter().map(Outputs).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tensor_whose_data_does_not_fill_its_shape_is_rejected() {
        assert!(Tensor::new(vec![2, 3], vec![0.0; 5]).is_err());
    }

    #[test]
    fn stacking_single_items_adds_a_batch_axis_and_splitting_undoes_it() {
        let a = Tensor::new(vec![1, 1, 1, 2], vec![1.0, 2.0]).expect("valid");
        let b = Tensor::new(vec![1, 2], vec![3.0, 4.0]).expect("valid");
        let c = Tensor::new(vec![1, 1, 1, 2], vec![3.0, 4.0]).expect("valid");
        let batch = Tensor::stack(&[&a, &c]).expect("same shapes");
        assert_eq!(batch.shape(), &[2, 1, 1, 2]);
        assert_eq!(batch.data(), &[1.0, 2.0, 3.0, 4.0]);
        assert!(Tensor::stack(&[&a, &b]).is_err());
        let parts = batch.split_batch(2).expect("batch of two");
        assert_eq!(parts[1], c);
    }
}
