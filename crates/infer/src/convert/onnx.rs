//! A tiny ONNX writer: the subset of `onnx.proto` (ModelProto, GraphProto, NodeProto,
//! AttributeProto, TensorProto, ValueInfoProto) needed to emit inference graphs,
//! encoded by hand in the protobuf wire format. Output is byte-for-byte deterministic.
//! [`Graph::decode`] reads the same subset back (for extending a written model, e.g. the
//! detector studio's export appends its head to the backbone).

/// A protobuf message being encoded.
#[derive(Debug, Default, Clone)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }

    fn msg(&mut self, field: u32, m: &Msg) {
        self.bytes(field, &m.0);
    }

    fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
}

/// ONNX tensor element types used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `float`.
    Float = 1,
    /// `int64`.
    Int64 = 7,
}

/// A node attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// A float.
    Float(f32),
    /// An integer.
    Int(i64),
    /// A list of integers.
    Ints(Vec<i64>),
    /// A string.
    Str(String),
}

/// An initializer (a constant tensor).
#[derive(Debug, Clone, PartialEq)]
pub struct Initializer {
    /// Its name.
    pub name: String,
    /// Its dimensions.
    pub dims: Vec<i64>,
    /// Element type and little-endian raw bytes.
    pub data_type: DataType,
    /// The raw little-endian data.
    pub raw: Vec<u8>,
}

impl Initializer {
    /// An `f32` initializer.
    pub fn f32(name: &str, dims: &[usize], values: &[f32]) -> Self {
        Self {
            name: name.to_string(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float,
            raw: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// An `i64` initializer.
    pub fn i64(name: &str, dims: &[usize], values: &[i64]) -> Self {
        Self {
            name: name.to_string(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Int64,
            raw: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// One graph node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's name.
    pub name: String,
    /// The operator, e.g. `Conv`.
    pub op_type: String,
    /// Input value names.
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// Attributes, in order.
    pub attrs: Vec<(String, Attr)>,
}

/// A dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A named, variable size (e.g. `batch`).
    Symbolic(String),
}

/// A typed graph input or output (`f32` tensors only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueInfo {
    /// The value's name.
    pub name: String,
    /// Its shape.
    pub dims: Vec<Dim>,
}

/// A whole model: one graph and its opset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// The graph's name.
    pub name: String,
    /// Nodes in topological order.
    pub nodes: Vec<Node>,
    /// Constant tensors.
    pub initializers: Vec<Initializer>,
    /// Graph inputs.
    pub inputs: Vec<ValueInfo>,
    /// Graph outputs.
    pub outputs: Vec<ValueInfo>,
}

/// The ONNX opset emitted.
pub const OPSET: i64 = 13;
const IR_VERSION: i64 = 7;

impl Graph {
    /// Adds a node and returns the name of its (first) output.
    pub fn node(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        attrs: Vec<(&str, Attr)>,
    ) -> String {
        let output = format!("{name}:0");
        self.nodes.push(Node {
            name: name.to_string(),
            op_type: op_type.to_string(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![output.clone()],
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        });
        output
    }

    /// Encodes the model as ONNX protobuf bytes.
    pub fn encode(&self, producer: &str) -> Vec<u8> {
        let mut graph = Msg::default();
        for node in &self.nodes {
            graph.msg(1, &encode_node(node));
        }
        graph.str(2, &self.name);
        for init in &self.initializers {
            graph.msg(5, &encode_tensor(init));
        }
        for vi in &self.inputs {
            graph.msg(11, &encode_value_info(vi));
        }
        for vi in &self.outputs {
            graph.msg(12, &encode_value_info(vi));
        }
        let mut opset = Msg::default();
        opset.str(1, "");
        opset.int(2, OPSET);
        let mut model = Msg::default();
        model.int(1, IR_VERSION);
        model.str(2, producer);
        model.str(3, env!("CARGO_PKG_VERSION"));
        model.msg(7, &graph);
        model.msg(8, &opset);
        model.0
    }
}

/// Why ONNX bytes could not be read back by [`Graph::decode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ONNX decode: {0}")]
pub struct DecodeError(String);

/// A protobuf field value as read from the wire.
enum Field<'a> {
    Varint(u64),
    Fixed32(u32),
    Fixed64,
    Bytes(&'a [u8]),
}

/// Reads the fields of one encoded message.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| DecodeError("truncated varint".into()))?;
            self.buf = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long".into()))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError("truncated field".into()));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<Option<(u32, Field<'a>)>, DecodeError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| DecodeError("bad field number".into()))?;
        let value = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Fixed64
            }
            2 => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| DecodeError("bad length".into()))?;
                Field::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Field::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            w => return Err(DecodeError(format!("unsupported wire type {w}"))),
        };
        Ok(Some((field, value)))
    }
}

/// Calls `f` on each field of the message in `buf`.
fn fields<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(u32, Field<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut r = Reader { buf };
    while let Some((n, v)) = r.field()? {
        f(n, v)?;
    }
    Ok(())
}

fn text(b: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(b.to_vec()).map_err(|_| DecodeError("a name is not UTF-8".into()))
}

/// Appends a repeated int64 field, packed or not.
fn ints(out: &mut Vec<i64>, v: Field<'_>) -> Result<(), DecodeError> {
    match v {
        Field::Varint(x) => out.push(x as i64),
        Field::Bytes(b) => {
            let mut r = Reader { buf: b };
            while !r.buf.is_empty() {
                out.push(r.varint()? as i64);
            }
        }
        _ => return Err(DecodeError("bad repeated int".into())),
    }
    Ok(())
}

fn decode_node(buf: &[u8]) -> Result<Node, DecodeError> {
    let mut node = Node {
        name: String::new(),
        op_type: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attrs: Vec::new(),
    };
    fields(buf, |n, v| {
        match (n, v) {
            (1, Field::Bytes(b)) => node.inputs.push(text(b)?),
            (2, Field::Bytes(b)) => node.outputs.push(text(b)?),
            (3, Field::Bytes(b)) => node.name = text(b)?,
            (4, Field::Bytes(b)) => node.op_type = text(b)?,
            (5, Field::Bytes(b)) => node.attrs.push(decode_attr(b)?),
            (7, Field::Bytes(b)) if !b.is_empty() => {
                return Err(DecodeError("operator domains are not supported".into()));
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(node)
}

fn decode_attr(buf: &[u8]) -> Result<(String, Attr), DecodeError> {
    let (mut name, mut kind) = (String::new(), 0u64);
    let (mut f, mut i, mut s, mut list) = (0.0f32, 0i64, String::new(), Vec::new());
    fields(buf, |n, v| {
        match (n, v) {
            (1, Field::Bytes(b)) => name = text(b)?,
            (2, Field::Fixed32(x)) => f = f32::from_bits(x),
            (3, Field::Varint(x)) => i = x as i64,
            (4, Field::Bytes(b)) => s = text(b)?,
            (8, v) => ints(&mut list, v)?,
            (20, Field::Varint(x)) => kind = x,
            _ => {}
        }
        Ok(())
    })?;
    let attr = match kind {
        1 => Attr::Float(f),
        2 => Attr::Int(i),
        3 => Attr::Str(s),
        7 => Attr::Ints(list),
        k => {
            return Err(DecodeError(format!(
                "attribute {name:?}: unsupported type {k}"
            )));
        }
    };
    Ok((name, attr))
}

fn decode_tensor(buf: &[u8]) -> Result<Initializer, DecodeError> {
    let (mut name, mut dims, mut kind, mut raw) = (String::new(), Vec::new(), 0u64, None);
    fields(buf, |n, v| {
        match (n, v) {
            (1, v) => ints(&mut dims, v)?,
            (2, Field::Varint(x)) => kind = x,
            (8, Field::Bytes(b)) => name = text(b)?,
            (9, Field::Bytes(b)) => raw = Some(b.to_vec()),
            (4 | 5 | 7 | 13, _) => {
                return Err(DecodeError("only raw_data tensors are supported".into()));
            }
            _ => {}
        }
        Ok(())
    })?;
    let data_type = match kind {
        1 => DataType::Float,
        7 => DataType::Int64,
        k => {
            return Err(DecodeError(format!(
                "tensor {name:?}: unsupported type {k}"
            )));
        }
    };
    let raw = raw.unwrap_or_default();
    Ok(Initializer {
        name,
        dims,
        data_type,
        raw,
    })
}

fn decode_value_info(buf: &[u8]) -> Result<ValueInfo, DecodeError> {
    let (mut name, mut dims) = (String::new(), Vec::new());
    fields(buf, |n, v| {
        match (n, v) {
            (1, Field::Bytes(b)) => name = text(b)?,
            // TypeProto.tensor_type.shape.dim
            (2, Field::Bytes(ty)) => fields(ty, |n, v| {
                if let (1, Field::Bytes(tensor)) = (n, v) {
                    fields(tensor, |n, v| {
                        match (n, v) {
                            (1, Field::Varint(t)) if t != DataType::Float as u64 => {
                                return Err(DecodeError("only float values are supported".into()));
                            }
                            (2, Field::Bytes(shape)) => fields(shape, |n, v| {
                                if let (1, Field::Bytes(dim)) = (n, v) {
                                    let mut d = Dim::Symbolic(String::new());
                                    fields(dim, |n, v| {
                                        match (n, v) {
                                            (1, Field::Varint(x)) => d = Dim::Fixed(x as i64),
                                            (2, Field::Bytes(b)) => d = Dim::Symbolic(text(b)?),
                                            _ => {}
                                        }
                                        Ok(())
                                    })?;
                                    dims.push(d);
                                }
                                Ok(())
                            })?,
                            _ => {}
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(ValueInfo { name, dims })
}

impl Graph {
    /// Reads a model back from ONNX bytes: the subset [`Graph::encode`] writes (default-domain
    /// operators at [`OPSET`] or below, float/int64 raw-data initializers, float inputs and
    /// outputs). Anything else is an error, never silently dropped.
    pub fn decode(bytes: &[u8]) -> Result<Graph, DecodeError> {
        let mut graph = None;
        fields(bytes, |n, v| {
            match (n, v) {
                (7, Field::Bytes(b)) => graph = Some(b),
                (8, Field::Bytes(b)) => {
                    let (mut domain, mut version) = (String::new(), 0i64);
                    fields(b, |n, v| {
                        match (n, v) {
                            (1, Field::Bytes(d)) => domain = text(d)?,
                            (2, Field::Varint(x)) => version = x as i64,
                            _ => {}
                        }
                        Ok(())
                    })?;
                    if (!domain.is_empty() && domain != "ai.onnx") || version > OPSET {
                        return Err(DecodeError(format!(
                            "opset {domain:?} {version} is not supported"
                        )));
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
        let buf = graph.ok_or_else(|| DecodeError("no graph".into()))?;
        let mut g = Graph::default();
        fields(buf, |n, v| {
            match (n, v) {
                (1, Field::Bytes(b)) => g.nodes.push(decode_node(b)?),
                (2, Field::Bytes(b)) => g.name = text(b)?,
                (5, Field::Bytes(b)) => g.initializers.push(decode_tensor(b)?),
                (11, Field::Bytes(b)) => g.inputs.push(decode_value_info(b)?),
                (12, Field::Bytes(b)) => g.outputs.push(decode_value_info(b)?),
                (15, _) => return Err(DecodeError("sparse initializers are not supported".into())),
                _ => {}
            }
            Ok(())
        })?;
        Ok(g)
    }
}

fn encode_node(node: &Node) -> Msg {
    let mut m = Msg::default();
    for i in &node.inputs {
        m.str(1, i);
    }
    for o in &node.outputs {
        m.str(2, o);
    }
    m.str(3, &node.name);
    m.str(4, &node.op_type);
    for (name, attr) in &node.attrs {
        let mut a = Msg::default();
        a.str(1, name);
        match attr {
            Attr::Float(f) => {
                a.float(2, *f);
                a.int(20, 1);
            }
            Attr::Int(i) => {
                a.int(3, *i);
                a.int(20, 2);
            }
            Attr::Str(s) => {
                a.str(4, s);
                a.int(20, 3);
            }
            Attr::Ints(v) => {
                for i in v {
                    a.int(8, *i);
                }
                a.int(20, 7);
            }
        }
        m.msg(5, &a);
    }
    m
}

fn encode_tensor(t: &Initializer) -> Msg {
    let mut m = Msg::default();
    for &d in &t.dims {
        m.int(1, d);
    }
    m.int(2, t.data_type as i64);
    m.str(8, &t.name);
    m.bytes(9, &t.raw);
    m
}

fn encode_value_info(vi: &ValueInfo) -> Msg {
    let mut shape = Msg::default();
    for d in &vi.dims {
        let mut dim = Msg::default();
        match d {
            Dim::Fixed(v) => dim.int(1, *v),
            Dim::Symbolic(s) => dim.str(2, s),
        }
        shape.msg(1, &dim);
    }
    let mut tensor = Msg::default();
    tensor.int(1, DataType::Float as i64);
    tensor.msg(2, &shape);
    let mut ty = Msg::default();
    ty.msg(1, &tensor);
    let mut m = Msg::default();
    m.str(1, &vi.name);
    m.msg(2, &ty);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Runtime, RuntimeConfig, RuntimePreference, Tensor};

    #[test]
    fn varints_use_seven_bits_per_byte_little_end_first() {
        let mut m = Msg::default();
        m.varint(300);
        assert_eq!(m.0, vec![0xac, 0x02]);
        let mut m = Msg::default();
        m.int(1, -1);
        assert_eq!(
            m.0.len(),
            11,
            "negative int64 is a ten-byte varint after the key"
        );
    }

    /// y = relu(conv1x1(x; w=2, b=-1)) + x on a 1x1x2x2 input.
    fn tiny_graph() -> Graph {
        let mut g = Graph {
            name: "tiny".into(),
            ..Graph::default()
        };
        g.initializers
            .push(Initializer::f32("w", &[1, 1, 1, 1], &[2.0]));
        g.initializers.push(Initializer::f32("b", &[1], &[-1.0]));
        let conv = g.node(
            "Conv",
            "conv",
            &["x", "w", "b"],
            vec![
                ("kernel_shape", Attr::Ints(vec![1, 1])),
                ("pads", Attr::Ints(vec![0, 0, 0, 0])),
            ],
        );
        let relu = g.node("Relu", "relu", &[&conv], vec![]);
        let sum = g.node("Add", "add", &[&relu, "x"], vec![]);
        g.nodes.push(Node {
            name: "out".into(),
            op_type: "Identity".into(),
            inputs: vec![sum],
            outputs: vec!["y".into()],
            attrs: vec![],
        });
        let dims = vec![
            Dim::Symbolic("batch".into()),
            Dim::Fixed(1),
            Dim::Fixed(2),
            Dim::Fixed(2),
        ];
        g.inputs.push(ValueInfo {
            name: "x".into(),
            dims: dims.clone(),
        });
        g.outputs.push(ValueInfo {
            name: "y".into(),
            dims,
        });
        g
    }

    #[test]
    fn a_tiny_encoded_graph_loads_in_rten_and_computes_the_expected_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tiny.onnx");
        std::fs::write(&path, tiny_graph().encode("atelier-test")).expect("write");
        let config = RuntimeConfig {
            preference: RuntimePreference::Rten,
            intra_threads: 1,
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::auto(&config).expect("rten");
        let mut model = runtime.load(&path).expect("loads");
        assert_eq!(model.input_name(), "x");
        assert_eq!(model.output_names(), &["y".to_string()]);
        let x = Tensor::new(vec![1, 1, 2, 2], vec![0.0, 1.0, -2.0, 3.0]).expect("valid");
        let out = model.run(&x).expect("runs");
        // relu(2x - 1) + x
        assert_eq!(out.get("y").expect("y").data(), &[0.0, 2.0, -2.0, 8.0]);
    }

    #[test]
    fn decoding_reads_back_what_encoding_wrote() {
        let mut g = tiny_graph();
        g.nodes[0].attrs.push(("alpha".into(), Attr::Float(0.25)));
        g.nodes[0]
            .attrs
            .push(("mode".into(), Attr::Str("x".into())));
        g.nodes[0].attrs.push(("axis".into(), Attr::Int(-1)));
        g.initializers
            .push(Initializer::i64("shape", &[2], &[-1, 7]));
        let back = Graph::decode(&g.encode("a")).expect("decodes");
        assert_eq!(back, g);
        assert_eq!(back.encode("a"), g.encode("a"));
    }

    #[test]
    fn decoding_rejects_garbage_and_truncation() {
        let bytes = tiny_graph().encode("a");
        assert!(Graph::decode(&bytes[..bytes.len() - 3]).is_err());
        assert!(Graph::decode(&[0xff, 0xff]).is_err());
        assert!(Graph::decode(&[]).is_err(), "no graph");
    }

    #[test]
    fn encoding_is_deterministic() {
        assert_eq!(tiny_graph().encode("a"), tiny_graph().encode("a"));
    }
}
