//! Reading a PyTorch `state_dict` file (`torch.save`) without PyTorch.
//!
//! Both formats are supported:
//! - the legacy one (PyTorch < 1.6, e.g. `efficientnet-lite0-57934424.pth`): a sequence
//!   of pickles (magic number, protocol version, system info, the object, the storage
//!   keys) followed by each storage as an 8-byte element count and its raw bytes;
//! - the zip one (PyTorch ≥ 1.6): `*/data.pkl` plus one `*/data/<key>` file per storage.
//!
//! Tensors are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
//! reductions whose storage is a persistent id `("storage", <dtype>Storage, key,
//! location, numel)`. Strided (non-contiguous) tensors are gathered into row-major order.

use std::collections::HashMap;
use std::io::Read;

use super::ConvertError;
use super::pickle::{self, Value};

/// The legacy format's magic number, 0x1950a86a20f9469cfc6c, as LONG1 bytes.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const MAX_TENSOR_ELEMENTS: usize = 1 << 31;

/// A tensor read from a state dict, converted to `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    /// Its dimensions.
    pub shape: Vec<usize>,
    /// Its values in row-major order.
    pub data: Vec<f32>,
}

/// A state dict: parameter name → tensor, in file order. Integer buffers such as
/// `num_batches_tracked` are converted to `f32` too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDict {
    entries: Vec<(String, TorchTensor)>,
    index: HashMap<String, usize>,
}

impl StateDict {
    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Result<&TorchTensor, ConvertError> {
        self.index
            .get(name)
            .map(|&i| &self.entries[i].1)
            .ok_or_else(|| ConvertError::MissingTensor(name.to_string()))
    }

    /// Whether there is a tensor called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Parameter names in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn push(&mut self, name: String, tensor: TorchTensor) {
        self.index.insert(name.clone(), self.entries.len());
        self.entries.push((name, tensor));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    F64,
    F16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl DType {
    fn from_storage(name: &str) -> Result<Self, ConvertError> {
        Ok(match name {
            "FloatStorage" => DType::F32,
            "DoubleStorage" => DType::F64,
            "HalfStorage" => DType::F16,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "ShortStorage" => DType::I16,
            "CharStorage" => DType::I8,
            "ByteStorage" => DType::U8,
            "BoolStorage" => DType::Bool,
            other => return Err(ConvertError::Torch(format!("unsupported storage {other}"))),
        })
    }

    fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    fn read(self, b: &[u8]) -> f32 {
        let arr = |n: usize| {
            let mut a = [0u8; 8];
            a[..n].copy_from_slice(&b[..n]);
            a
        };
        match self {
            DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            DType::F64 => f64::from_le_bytes(arr(8)) as f32,
            DType::F16 => f16_to_f32(u16::from_le_bytes([b[0], b[1]])),
            DType::I64 => i64::from_le_bytes(arr(8)) as f32,
            DType::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            DType::I16 => i16::from_le_bytes([b[0], b[1]]) as f32,
            DType::I8 => b[0] as i8 as f32,
            DType::U8 | DType::Bool => b[0] as f32,
        }
    }
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

/// A storage reference from a persistent id.
struct StorageRef {
    key: String,
    dtype: DType,
    numel: usize,
}

/// Reads a state dict from the bytes of a `.pth`/`.pt` file (either format).
pub fn read_state_dict(bytes: &[u8]) -> Result<StateDict, ConvertError> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_zip(bytes)
    } else {
        read_legacy(bytes)
    }
}

fn torch_err(message: impl Into<String>) -> ConvertError {
    ConvertError::Torch(message.into())
}

fn read_legacy(bytes: &[u8]) -> Result<StateDict, ConvertError> {
    let mut pos = 0;
    match pickle::parse(bytes, &mut pos)? {
        Value::Bytes(b) if b == LEGACY_MAGIC => {}
        _ => return Err(torch_err("not a PyTorch file (bad magic number)")),
    }
    match pickle::parse(bytes, &mut pos)? {
        Value::Int(1001) => {}
        other => return Err(torch_err(format!("unsupported legacy protocol {other:?}"))),
    }
    let _sys_info = pickle::parse(bytes, &mut pos)?;
    let object = pickle::parse(bytes, &mut pos)?;
    let keys = match pickle::parse(bytes, &mut pos)? {
        Value::List(keys) => keys,
        _ => return Err(torch_err("storage key list missing")),
    };
    let refs = collect_storages(&object)?;
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err(torch_err("storage key is not a string"));
        };
        let storage = refs
            .get(&key)
            .ok_or_else(|| torch_err(format!("storage {key} is not referenced")))?;
        let header = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| torch_err("truncated storage header"))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(header);
        let numel =
            usize::try_from(u64::from_le_bytes(a)).map_err(|_| torch_err("storage too large"))?;
        let len = numel
            .checked_mul(storage.dtype.size())
            .filter(|&l| l <= bytes.len())
            .ok_or_else(|| torch_err("storage too large"))?;
        let end = pos
            .checked_add(8 + len)
            .ok_or_else(|| torch_err("storage too large"))?;
        let data = bytes
            .get(pos + 8..end)
            .ok_or_else(|| torch_err(format!("storage {key} is truncated")))?;
        pos = end;
        storages.insert(key, data);
    }
    build(&object, &refs, &storages)
}

fn read_zip(bytes: &[u8]) -> Result<StateDict, ConvertError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| torch_err(format!("bad zip: {e}")))?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| torch_err(format!("bad zip: {e}")))?;
    let pkl = names
        .iter()
        .find(|n| n.ends_with("data.pkl"))
        .ok_or_else(|| torch_err("no data.pkl in the archive"))?
        .clone();
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    let read = |zip: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>, name: &str| {
        let mut entry = zip
            .by_name(name)
            .map_err(|e| torch_err(format!("{name}: {e}")))?;
        let mut out = Vec::new();
        (&mut entry)
            .take(1 << 34)
            .read_to_end(&mut out)
            .map_err(|e| torch_err(format!("{name}: {e}")))?;
        Ok::<_, ConvertError>(out)
    };
    let pickle_bytes = read(&mut zip, &pkl)?;
    let mut pos = 0;
    let object = pickle::parse(&pickle_bytes, &mut pos)?;
    let refs = collect_storages(&object)?;
    let mut owned: HashMap<String, Vec<u8>> = HashMap::new();
    for key in refs.keys() {
        owned.insert(key.clone(), read(&mut zip, &format!("{prefix}data/{key}"))?);
    }
    let storages = owned
        .iter()
        .map(|(k, v)| (k.clone(), v.as_slice()))
        .collect();
    build(&object, &refs, &storages)
}

/// Finds every storage persistent id in the object.
fn collect_storages(object: &Value) -> Result<HashMap<String, StorageRef>, ConvertError> {
    let mut refs = HashMap::new();
    let mut todo = vec![object];
    while let Some(v) = todo.pop() {
        match v {
            Value::PersistentId(id) => {
                let r = storage_ref(id)?;
                refs.insert(r.key.clone(), r);
            }
            Value::Tuple(items) | Value::List(items) => todo.extend(items.iter()),
            Value::Dict(entries) => todo.extend(entries.iter().map(|(_, v)| v)),
            Value::Reduce { callable, args } => {
                todo.push(callable);
                todo.push(args);
            }
            Value::Build { object, state } => {
                todo.push(object);
                todo.push(state);
            }
            _ => {}
        }
    }
    Ok(refs)
}

fn storage_ref(id: &Value) -> Result<StorageRef, ConvertError> {
    let Value::Tuple(parts) = id else {
        return Err(torch_err("persistent id is not a tuple"));
    };
    match parts.as_slice() {
        [
            Value::Str(kind),
            Value::Global { name, .. },
            Value::Str(key),
            _location,
            Value::Int(numel),
            ..,
        ] if kind == "storage" => Ok(StorageRef {
            key: key.clone(),
            dtype: DType::from_storage(name)?,
            numel: usize::try_from(*numel).map_err(|_| torch_err("negative numel"))?,
        }),
        _ => Err(torch_err(format!("unsupported persistent id {parts:?}"))),
    }
}

fn build(
    object: &Value,
    refs: &HashMap<String, StorageRef>,
    storages: &HashMap<String, &[u8]>,
) -> Result<StateDict, ConvertError> {
    // A checkpoint may wrap the state dict: {"state_dict": {...}} or {"model": {...}}.
    let Value::Dict(entries) = object else {
        return Err(torch_err("the file does not hold a dict"));
    };
    for wrapper in ["state_dict", "model"] {
        if let Some((_, inner @ Value::Dict(_))) = entries
            .iter()
            .find(|(k, _)| *k == Value::Str(wrapper.into()))
        {
            return build(inner, refs, storages);
        }
    }
    let mut dict = StateDict::default();
    for (key, value) in entries {
        let Value::Str(name) = key else { continue };
        if let Some(tensor) = rebuild_tensor(value, refs, storages)? {
            dict.push(name.clone(), tensor);
        }
    }
    if dict.is_empty() {
        return Err(torch_err("no tensors found"));
    }
    Ok(dict)
}

fn as_usizes(v: &Value) -> Result<Vec<usize>, ConvertError> {
    let Value::Tuple(items) = v else {
        return Err(torch_err("size/stride is not a tuple"));
    };
    items
        .iter()
        .map(|i| match i {
            Value::Int(n) => usize::try_from(*n).map_err(|_| torch_err("negative dimension")),
            _ => Err(torch_err("dimension is not an integer")),
        })
        .collect()
}

fn rebuild_tensor(
    value: &Value,
    refs: &HashMap<String, StorageRef>,
    storages: &HashMap<String, &[u8]>,
) -> Result<Option<TorchTensor>, ConvertError> {
    let Value::Reduce { callable, args } = value else {
        return Ok(None);
    };
    let Value::Global { name, .. } = &**callable else {
        return Ok(None);
    };
    if name != "_rebuild_tensor_v2" && name != "_rebuild_tensor" {
        return Ok(None);
    }
    let Value::Tuple(args) = &**args else {
        return Err(torch_err("tensor arguments are not a tuple"));
    };
    let [
        Value::PersistentId(id),
        Value::Int(offset),
        size,
        stride,
        ..,
    ] = args.as_slice()
    else {
        return Err(torch_err("unexpected tensor arguments"));
    };
    let storage_key = storage_ref(id)?.key;
    let storage = refs
        .get(&storage_key)
        .ok_or_else(|| torch_err("unknown storage"))?;
    let bytes = storages
        .get(&storage_key)
        .ok_or_else(|| torch_err(format!("storage {storage_key} has no data")))?;
    let elem = storage.dtype.size();
    let available = (bytes.len() / elem).min(storage.numel);
    let shape = as_usizes(size)?;
    let strides = as_usizes(stride)?;
    if strides.len() != shape.len() {
        return Err(torch_err("size and stride ranks differ"));
    }
    let offset = usize::try_from(*offset).map_err(|_| torch_err("negative offset"))?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&c| c <= MAX_TENSOR_ELEMENTS)
        .ok_or_else(|| torch_err("tensor too large"))?;
    // The largest storage index touched must exist.
    if count > 0 {
        let last = shape
            .iter()
            .zip(&strides)
            .try_fold(offset, |a, (&d, &s)| {
                (d - 1).checked_mul(s).and_then(|x| a.checked_add(x))
            })
            .ok_or_else(|| torch_err("tensor extent overflows"))?;
        if last >= available {
            return Err(torch_err("tensor reaches past its storage"));
        }
    }
    let mut data = Vec::with_capacity(count);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..count {
        let at = offset
            + index
                .iter()
                .zip(&strides)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        data.push(storage.dtype.read(&bytes[at * elem..(at + 1) * elem]));
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    Ok(Some(TorchTensor { shape, data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    }

    #[test]
    fn a_file_that_is_neither_format_is_rejected() {
        assert!(read_state_dict(b"hello world").is_err());
        assert!(read_state_dict(b"PK\x03\x04 truncated").is_err());
    }

    #[test]
    fn a_hand_made_legacy_file_with_a_transposed_tensor_reads_back_in_row_major_order() {
        // magic, protocol 1001, sys info {}, the dict, the keys, then the storage.
        let mut f = vec![0x80, 2, 0x8a, 10];
        f.extend(LEGACY_MAGIC);
        f.push(b'.');
        f.extend(b"\x80\x02M\xe9\x03.");
        f.extend(b"\x80\x02}.");
        f.extend(b"\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n(");
        f.extend(b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x007X\x03\x00\x00\x00cpuK\x06NtQ");
        // size (2, 3), stride (1, 2): the transpose of a row-major 3x2 storage
        f.extend(b"K\x00K\x02K\x03\x86K\x01K\x02\x86\x89}tRu.");
        f.extend(b"\x80\x02]X\x01\x00\x00\x007a.");
        f.extend(6u64.to_le_bytes());
        for v in [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0] {
            f.extend(v.to_le_bytes());
        }
        let dict = read_state_dict(&f).expect("reads");
        let w = dict.get("w").expect("w");
        assert_eq!(w.shape, vec![2, 3]);
        assert_eq!(w.data, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    }
}
