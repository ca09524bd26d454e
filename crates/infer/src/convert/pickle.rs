//! The subset of Python's pickle protocol (versions 0–5 opcodes) that PyTorch uses to
//! save a `state_dict`: containers, numbers, strings, globals, `REDUCE`, `BUILD` and
//! persistent ids. No Python object is ever executed: globals and reductions are kept
//! as inert values for [`super::torch`] to interpret.

use std::collections::HashMap;

use super::ConvertError;

/// A decoded pickle value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// A text string.
    Str(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// A dict (or an `OrderedDict`), in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A reference to `module.name`.
    Global {
        /// The module, e.g. `torch._utils`.
        module: String,
        /// The name, e.g. `_rebuild_tensor_v2`.
        name: String,
    },
    /// `callable(*args)`, not evaluated.
    Reduce {
        /// What would be called.
        callable: Box<Value>,
        /// Its arguments (a tuple).
        args: Box<Value>,
    },
    /// An object restored with `BUILD` (`obj.__setstate__(state)`), not evaluated.
    Build {
        /// The object.
        object: Box<Value>,
        /// Its state.
        state: Box<Value>,
    },
    /// A persistent id (PyTorch's reference to a tensor storage).
    PersistentId(Box<Value>),
}

/// Limits against hostile input.
const MAX_STACK: usize = 1 << 20;

/// Decodes one pickle starting at `data[*pos]`, advancing `pos` past its `STOP`.
pub fn parse(data: &[u8], pos: &mut usize) -> Result<Value, ConvertError> {
    let mut p = Parser {
        data,
        pos: *pos,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let value = p.run()?;
    *pos = p.pos;
    Ok(value)
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

fn bad(message: impl Into<String>) -> ConvertError {
    ConvertError::Pickle(message.into())
}

impl Parser<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ConvertError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| bad("unexpected end of data"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }

    fn le_u32(&mut self) -> Result<u32, ConvertError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn le_u64(&mut self) -> Result<u64, ConvertError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn line(&mut self) -> Result<String, ConvertError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("unterminated text line"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn utf8(&mut self, n: usize) -> Result<String, ConvertError> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| bad("invalid UTF-8 string"))
    }

    fn push(&mut self, v: Value) -> Result<(), ConvertError> {
        if self.stack.len() >= MAX_STACK {
            return Err(bad("stack too deep"));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Result<Value, ConvertError> {
        self.stack.pop().ok_or_else(|| bad("stack underflow"))
    }

    fn top(&mut self) -> Result<&mut Value, ConvertError> {
        self.stack.last_mut().ok_or_else(|| bad("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, ConvertError> {
        let mark = self.marks.pop().ok_or_else(|| bad("no MARK"))?;
        if mark > self.stack.len() {
            return Err(bad("MARK above stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn memo_get(&mut self, key: u32) -> Result<(), ConvertError> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| bad(format!("memo key {key} missing")))?;
        self.push(v)
    }

    fn memo_put(&mut self, key: u32) -> Result<(), ConvertError> {
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), ConvertError> {
        if !items.len().is_multiple_of(2) {
            return Err(bad("odd number of dict items"));
        }
        let dict = self.top()?;
        let entries = dict_entries(dict)?;
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            entries.push((k, v));
        }
        Ok(())
    }

    fn run(&mut self) -> Result<Value, ConvertError> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    // PROTO
                    let v = self.u8()?;
                    if v > 5 {
                        return Err(bad(format!("unsupported pickle protocol {v}")));
                    }
                }
                0x95 => {
                    // FRAME: the length is only a hint
                    self.le_u64()?;
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'J' => {
                    let v = self.le_u32()? as i32;
                    self.push(Value::Int(v.into()))?
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v.into()))?
                }
                b'M' => {
                    let b = self.take(2)?;
                    let v = u16::from_le_bytes([b[0], b[1]]);
                    self.push(Value::Int(v.into()))?
                }
                0x8a => {
                    // LONG1
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(long_value(&b))?
                }
                b'I' => {
                    let line = self.line()?;
                    let v = match line.as_str() {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        s => Value::Int(s.parse().map_err(|_| bad("bad INT"))?),
                    };
                    self.push(v)?
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(a)))?
                }
                b'X' => {
                    let n = self.le_u32()? as usize;
                    let s = self.utf8(n)?;
                    self.push(Value::Str(s))?
                }
                0x8c => {
                    // SHORT_BINUNICODE
                    let n = self.u8()? as usize;
                    let s = self.utf8(n)?;
                    self.push(Value::Str(s))?
                }
                b'U' => {
                    // SHORT_BINSTRING (Python 2 str)
                    let n = self.u8()? as usize;
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.push(Value::Str(s))?
                }
                b'T' => {
                    let n = self.le_u32()? as usize;
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.push(Value::Str(s))?
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?
                }
                b'B' => {
                    let n = self.le_u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?
                }
                b')' => self.push(Value::Tuple(Vec::new()))?,
                b']' => self.push(Value::List(Vec::new()))?,
                b'}' => self.push(Value::Dict(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))?
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(items))?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Dict(Vec::new()))?;
                    self.set_items(items)?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(bad("stack underflow in TUPLEn"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Value::Tuple(items))?
                }
                b'a' => {
                    let v = self.pop()?;
                    list_items(self.top()?)?.push(v);
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    list_items(self.top()?)?.extend(items);
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Value::Global { module, name })?
                }
                0x93 => {
                    // STACK_GLOBAL
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(module), Value::Str(name)) => {
                            self.push(Value::Global { module, name })?
                        }
                        _ => return Err(bad("STACK_GLOBAL needs two strings")),
                    }
                }
                b'R' | 0x81 => {
                    // REDUCE, NEWOBJ
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.push(reduce(callable, args))?
                }
                b'b' => {
                    let state = self.pop()?;
                    let object = self.pop()?;
                    // Dicts (OrderedDict's `_metadata`) keep their items; the state is
                    // attribute data we do not need.
                    let built = match object {
                        Value::Dict(_) => object,
                        other => Value::Build {
                            object: Box::new(other),
                            state: Box::new(state),
                        },
                    };
                    self.push(built)?
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.push(Value::PersistentId(Box::new(id)))?
                }
                b'q' => {
                    let k = self.u8()?;
                    self.memo_put(k.into())?
                }
                b'r' => {
                    let k = self.le_u32()?;
                    self.memo_put(k)?
                }
                0x94 => {
                    // MEMOIZE
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?
                }
                b'h' => {
                    let k = self.u8()?;
                    self.memo_get(k.into())?
                }
                b'j' => {
                    let k = self.le_u32()?;
                    self.memo_get(k)?
                }
                b'0' => {
                    self.pop()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v)?
                }
                other => return Err(bad(format!("unsupported pickle opcode 0x{other:02x}"))),
            }
        }
    }
}

fn reduce(callable: Value, args: Value) -> Value {
    // `OrderedDict()` becomes a plain dict so that SETITEMS can fill it.
    if let Value::Global { module, name } = &callable
        && module == "collections"
        && name == "OrderedDict"
        && matches!(&args, Value::Tuple(a) if a.is_empty())
    {
        return Value::Dict(Vec::new());
    }
    Value::Reduce {
        callable: Box::new(callable),
        args: Box::new(args),
    }
}

fn dict_entries(v: &mut Value) -> Result<&mut Vec<(Value, Value)>, ConvertError> {
    match v {
        Value::Dict(entries) => Ok(entries),
        _ => Err(bad("SETITEM(S) on something that is not a dict")),
    }
}

fn list_items(v: &mut Value) -> Result<&mut Vec<Value>, ConvertError> {
    match v {
        Value::List(items) => Ok(items),
        _ => Err(bad("APPEND(S) on something that is not a list")),
    }
}

/// A little-endian two's-complement integer of up to 8 bytes (longer ones, such as
/// PyTorch's legacy magic number, are kept as bytes).
fn long_value(b: &[u8]) -> Value {
    if b.len() > 8 {
        return Value::Bytes(b.to_vec());
    }
    let negative = b.last().is_some_and(|&x| x & 0x80 != 0);
    let mut a = [if negative { 0xff } else { 0 }; 8];
    a[..b.len()].copy_from_slice(b);
    Value::Int(i64::from_le_bytes(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_made_protocol_2_pickle_of_an_ordered_dict_with_a_reduced_tensor_decodes() {
        // OrderedDict([("w", torch._utils._rebuild_tensor_v2(persid(("storage", FloatStorage, "0", "cpu", 4)), 0, (2, 2), (2, 1)))])
        let mut p = vec![0x80, 2];
        p.extend(b"ccollections\nOrderedDict\nq\x00)R");
        p.extend(b"q\x01(X\x01\x00\x00\x00w");
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.extend(b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04NtQ");
        p.extend(b"K\x00K\x02K\x02\x86K\x02K\x01\x86\x89h\x01tR");
        p.extend(b"u.");
        let mut pos = 0;
        let v = parse(&p, &mut pos).expect("parses");
        assert_eq!(pos, p.len());
        let Value::Dict(entries) = v else {
            panic!("expected a dict, got {v:?}")
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, Value::Str("w".into()));
        let Value::Reduce { callable, args } = &entries[0].1 else {
            panic!("expected a reduce")
        };
        assert_eq!(
            **callable,
            Value::Global {
                module: "torch._utils".into(),
                name: "_rebuild_tensor_v2".into()
            }
        );
        let Value::Tuple(args) = &**args else {
            panic!("expected a tuple")
        };
        assert_eq!(args[2], Value::Tuple(vec![Value::Int(2), Value::Int(2)]));
        assert!(matches!(args[0], Value::PersistentId(_)));
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut pos = 0;
        assert!(parse(b"\x80\x02X\xff\x00\x00\x00ab", &mut pos).is_err());
        let mut pos = 0;
        assert!(parse(b"\x80\x02u.", &mut pos).is_err());
        let mut pos = 0;
        assert!(parse(b"", &mut pos).is_err());
    }

    #[test]
    fn long1_decodes_negative_and_positive_values() {
        assert_eq!(long_value(&[0xff]), Value::Int(-1));
        assert_eq!(long_value(&[0x00, 0x01]), Value::Int(256));
    }
}
