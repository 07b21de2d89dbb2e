//! [`EventLayout`]: typed events in byte slots, laid out exactly as napi-disruptor's
//! `defineEvent` lays them out, so a Rust program and a JavaScript thread read and write the
//! same events: fields in the order given, each at its natural alignment (a string or byte
//! field at 2: it starts with its 16-bit length), the whole rounded up to 8 bytes; numbers in
//! the machine's byte order (little-endian on every platform napi-disruptor builds for).

use std::fmt;

/// The type of one field.
///
/// ```
/// use disruptor_core::FieldType;
/// assert_eq!(FieldType::Utf8(12).size(), 14);
/// assert_eq!(FieldType::Array(Box::new(FieldType::F64), 4).size(), 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// `i8`.
    I8,
    /// `u8`.
    U8,
    /// `i16`.
    I16,
    /// `u16`.
    U16,
    /// `i32`.
    I32,
    /// `u32`.
    U32,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `i64` (JavaScript: a bigint, or `{ i64: 'number' }`).
    I64,
    /// `u64` (JavaScript: a bigint, or `{ u64: 'number' }`).
    U64,
    /// One byte, 0 or 1.
    Bool,
    /// Up to this many bytes of UTF-8 after a `u16` length.
    Utf8(u16),
    /// Up to this many bytes after a `u16` length.
    Bytes(u16),
    /// A fixed array of a numeric type (not `Bool`, strings or arrays).
    Array(Box<FieldType>, usize),
}

impl FieldType {
    /// Bytes the field takes in a slot.
    pub fn size(&self) -> usize {
        match self {
            FieldType::I8 | FieldType::U8 | FieldType::Bool => 1,
            FieldType::I16 | FieldType::U16 => 2,
            FieldType::I32 | FieldType::U32 | FieldType::F32 => 4,
            FieldType::F64 | FieldType::I64 | FieldType::U64 => 8,
            FieldType::Utf8(n) | FieldType::Bytes(n) => 2 + *n as usize,
            FieldType::Array(t, n) => t.size() * n,
        }
    }

    /// Its alignment in the slot.
    fn align(&self) -> usize {
        match self {
            FieldType::Utf8(_) | FieldType::Bytes(_) => 2,
            FieldType::Array(t, _) => t.align(),
            t => t.size(),
        }
    }

    fn is_numeric(&self) -> bool {
        !matches!(
            self,
            FieldType::Bool | FieldType::Utf8(_) | FieldType::Bytes(_) | FieldType::Array(..)
        )
    }
}

/// One field as laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
    /// Its byte offset in the slot.
    pub offset: usize,
}

/// Why a layout or a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// No field, an empty or repeated name, a zero capacity or length, an array of a
    /// non-numeric type, or more than 64 KiB in all.
    Invalid(String),
    /// No field of that name, or one of another type than the call reads or writes.
    NoSuchField(String),
    /// A string or byte value longer than its field holds.
    TooLong {
        /// The field.
        field: String,
        /// Bytes given.
        len: usize,
        /// Bytes the field holds.
        capacity: usize,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::Invalid(why) => write!(f, "invalid event layout: {why}"),
            LayoutError::NoSuchField(name) => write!(f, "no field '{name}' of that type"),
            LayoutError::TooLong { field, len, capacity } => {
                write!(f, "field '{field}' holds {capacity} bytes, got {len}")
            }
        }
    }
}

impl std::error::Error for LayoutError {}

/// A typed event layout: what `defineEvent` computes in JavaScript, from the same fields in
/// the same order. Reads and writes take a slot of at least [`size`](Self::size) bytes (a
/// shorter one panics, as indexing does) and a field name; a name that is not a field of the
/// type the call reads or writes is [`LayoutError::NoSuchField`].
///
/// ```
/// use disruptor_core::{EventLayout, FieldType};
/// let trade = EventLayout::new([
///     ("price", FieldType::F64),
///     ("qty", FieldType::U32),
///     ("side", FieldType::U8),
///     ("symbol", FieldType::Utf8(12)),
/// ]).unwrap();
/// assert_eq!(trade.size(), 32);
/// assert_eq!(trade.field("symbol").unwrap().offset, 14);
///
/// let mut slot = vec![0u8; trade.size()];
/// trade.set_f64(&mut slot, "price", 1.5).unwrap();
/// trade.set_utf8(&mut slot, "symbol", "AAPL").unwrap();
/// assert_eq!(trade.f64(&slot, "price"), Ok(1.5));
/// assert_eq!(trade.utf8(&slot, "symbol"), Ok("AAPL"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLayout {
    fields: Vec<Field>,
    size: usize,
}

macro_rules! scalar_access {
    ($get:ident, $set:ident, $t:ty, $ft:pat, $doc:literal) => {
        #[doc = concat!("Reads the ", $doc, " field `name` of `slot`.")]
        pub fn $get(&self, slot: &[u8], name: &str) -> Result<$t, LayoutError> {
            let f = self.typed(name, |t| matches!(t, $ft))?;
            let bytes = &slot[f.offset..f.offset + std::mem::size_of::<$t>()];
            Ok(<$t>::from_ne_bytes(bytes.try_into().expect("the field's width")))
        }

        #[doc = concat!("Writes the ", $doc, " field `name` of `slot`.")]
        pub fn $set(&self, slot: &mut [u8], name: &str, value: $t) -> Result<(), LayoutError> {
            let f = self.typed(name, |t| matches!(t, $ft))?;
            slot[f.offset..f.offset + std::mem::size_of::<$t>()]
                .copy_from_slice(&value.to_ne_bytes());
            Ok(())
        }
    };
}

impl EventLayout {
    /// The layout of `fields`, in this order.
    pub fn new<N: Into<String>>(
        fields: impl IntoIterator<Item = (N, FieldType)>,
    ) -> Result<EventLayout, LayoutError> {
        let mut laid: Vec<Field> = Vec::new();
        let mut offset = 0usize;
        for (name, ty) in fields {
            let name = name.into();
            if name.is_empty() || laid.iter().any(|f| f.name == name) {
                return Err(LayoutError::Invalid(format!("empty or repeated field name '{name}'")));
            }
            match &ty {
                FieldType::Utf8(0) | FieldType::Bytes(0) | FieldType::Array(_, 0) => {
                    return Err(LayoutError::Invalid(format!("field '{name}' holds nothing")));
                }
                FieldType::Array(t, _) if !t.is_numeric() => {
                    return Err(LayoutError::Invalid(format!(
                        "field '{name}': arrays are numeric"
                    )));
                }
                _ => {}
            }
            let align = ty.align();
            offset = offset.div_ceil(align) * align;
            let size = ty.size();
            laid.push(Field { name, ty, offset });
            offset += size;
            if offset > crate::MAX_SLOT_SIZE {
                return Err(LayoutError::Invalid("more than 64 KiB".into()));
            }
        }
        if laid.is_empty() {
            return Err(LayoutError::Invalid("no field".into()));
        }
        Ok(EventLayout { fields: laid, size: offset.div_ceil(8).max(1) * 8 })
    }

    /// Bytes per event (8-aligned): the slot size of a ring of these events.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The fields, in layout order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn typed(&self, name: &str, ok: impl Fn(&FieldType) -> bool) -> Result<&Field, LayoutError> {
        self.field(name).filter(|f| ok(&f.ty)).ok_or_else(|| LayoutError::NoSuchField(name.into()))
    }

    scalar_access!(i8, set_i8, i8, FieldType::I8, "`i8`");
    scalar_access!(u8, set_u8, u8, FieldType::U8, "`u8`");
    scalar_access!(i16, set_i16, i16, FieldType::I16, "`i16`");
    scalar_access!(u16, set_u16, u16, FieldType::U16, "`u16`");
    scalar_access!(i32, set_i32, i32, FieldType::I32, "`i32`");
    scalar_access!(u32, set_u32, u32, FieldType::U32, "`u32`");
    scalar_access!(f32, set_f32, f32, FieldType::F32, "`f32`");
    scalar_access!(f64, set_f64, f64, FieldType::F64, "`f64`");
    scalar_access!(i64, set_i64, i64, FieldType::I64, "`i64`");
    scalar_access!(u64, set_u64, u64, FieldType::U64, "`u64`");

    /// Reads the `bool` field `name` of `slot` (any byte but 0 is true).
    pub fn bool(&self, slot: &[u8], name: &str) -> Result<bool, LayoutError> {
        let f = self.typed(name, |t| *t == FieldType::Bool)?;
        Ok(slot[f.offset] != 0)
    }

    /// Writes the `bool` field `name` of `slot`.
    pub fn set_bool(&self, slot: &mut [u8], name: &str, value: bool) -> Result<(), LayoutError> {
        let f = self.typed(name, |t| *t == FieldType::Bool)?;
        slot[f.offset] = value as u8;
        Ok(())
    }

    /// The bytes of the string or byte field `name` (its length clamped to its capacity).
    pub fn bytes<'a>(&self, slot: &'a [u8], name: &str) -> Result<&'a [u8], LayoutError> {
        let f = self.typed(name, |t| matches!(t, FieldType::Utf8(_) | FieldType::Bytes(_)))?;
        let capacity = f.ty.size() - 2;
        let len = u16::from_ne_bytes([slot[f.offset], slot[f.offset + 1]]) as usize;
        Ok(&slot[f.offset + 2..f.offset + 2 + len.min(capacity)])
    }

    /// Reads the UTF-8 field `name` of `slot`; `NoSuchField` if its bytes are not UTF-8 (a
    /// writer other than this layout or `defineEvent`).
    pub fn utf8<'a>(&self, slot: &'a [u8], name: &str) -> Result<&'a str, LayoutError> {
        self.typed(name, |t| matches!(t, FieldType::Utf8(_)))?;
        std::str::from_utf8(self.bytes(slot, name)?)
            .map_err(|_| LayoutError::NoSuchField(format!("{name} (not UTF-8)")))
    }

    /// Writes the string or byte field `name`; `TooLong` (and nothing written) past its
    /// capacity.
    pub fn set_bytes(&self, slot: &mut [u8], name: &str, value: &[u8]) -> Result<(), LayoutError> {
        let f = self.typed(name, |t| matches!(t, FieldType::Utf8(_) | FieldType::Bytes(_)))?;
        let capacity = f.ty.size() - 2;
        if value.len() > capacity {
            return Err(LayoutError::TooLong { field: name.into(), len: value.len(), capacity });
        }
        slot[f.offset..f.offset + 2].copy_from_slice(&(value.len() as u16).to_ne_bytes());
        slot[f.offset + 2..f.offset + 2 + value.len()].copy_from_slice(value);
        Ok(())
    }

    /// Writes the UTF-8 field `name`; `TooLong` (and nothing written) past its capacity.
    pub fn set_utf8(&self, slot: &mut [u8], name: &str, value: &str) -> Result<(), LayoutError> {
        self.typed(name, |t| matches!(t, FieldType::Utf8(_)))?;
        self.set_bytes(slot, name, value.as_bytes())
    }

    /// Reads element `i` of the `f64` array field `name` (`NoSuchField` past its length).
    pub fn f64_at(&self, slot: &[u8], name: &str, i: usize) -> Result<f64, LayoutError> {
        let f = self.array(name, FieldType::F64, i)?;
        let at = f.offset + 8 * i;
        Ok(f64::from_ne_bytes(slot[at..at + 8].try_into().expect("8 bytes")))
    }

    /// Writes element `i` of the `f64` array field `name`.
    pub fn set_f64_at(
        &self,
        slot: &mut [u8],
        name: &str,
        i: usize,
        value: f64,
    ) -> Result<(), LayoutError> {
        let f = self.array(name, FieldType::F64, i)?;
        let at = f.offset + 8 * i;
        slot[at..at + 8].copy_from_slice(&value.to_ne_bytes());
        Ok(())
    }

    fn array(&self, name: &str, element: FieldType, i: usize) -> Result<&Field, LayoutError> {
        self.typed(name, |t| matches!(t, FieldType::Array(e, n) if **e == element && i < *n))
    }
}
