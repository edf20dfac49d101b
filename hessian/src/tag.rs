//! The Hessian 2.0 tag bytes and compact ranges, named as the specification names them.

pub(crate) const NULL: u8 = b'N';
pub(crate) const TRUE: u8 = b'T';
pub(crate) const FALSE: u8 = b'F';

pub(crate) const INT: u8 = b'I';
pub(crate) const INT_ZERO: i32 = 0x90;
pub(crate) const INT_DIRECT: (i32, i32) = (-0x10, 0x2f);
pub(crate) const INT_BYTE_ZERO: i32 = 0xc8;
pub(crate) const INT_BYTE: (i32, i32) = (-0x800, 0x7ff);
pub(crate) const INT_SHORT_ZERO: i32 = 0xd4;
pub(crate) const INT_SHORT: (i32, i32) = (-0x40000, 0x3ffff);

pub(crate) const LONG: u8 = b'L';
pub(crate) const LONG_INT: u8 = 0x59;
pub(crate) const LONG_ZERO: i64 = 0xe0;
pub(crate) const LONG_DIRECT: (i64, i64) = (-0x08, 0x0f);
pub(crate) const LONG_BYTE_ZERO: i64 = 0xf8;
pub(crate) const LONG_BYTE: (i64, i64) = (-0x800, 0x7ff);
pub(crate) const LONG_SHORT_ZERO: i64 = 0x3c;
pub(crate) const LONG_SHORT: (i64, i64) = (-0x40000, 0x3ffff);

pub(crate) const DOUBLE: u8 = b'D';
pub(crate) const DOUBLE_ZERO: u8 = 0x5b;
pub(crate) const DOUBLE_ONE: u8 = 0x5c;
pub(crate) const DOUBLE_BYTE: u8 = 0x5d;
pub(crate) const DOUBLE_SHORT: u8 = 0x5e;
/// An int of thousandths: the specification says "float", Caucho writes `value * 1000`.
pub(crate) const DOUBLE_MILL: u8 = 0x5f;

pub(crate) const DATE: u8 = 0x4a;
pub(crate) const DATE_MINUTE: u8 = 0x4b;

pub(crate) const STRING: u8 = b'S';
pub(crate) const STRING_CHUNK: u8 = b'R';
pub(crate) const STRING_DIRECT_MAX: usize = 0x1f;
pub(crate) const STRING_SHORT: u8 = 0x30;
pub(crate) const STRING_SHORT_MAX: usize = 0x3ff;
/// The UTF-16 units Caucho puts in one non-final string chunk.
pub(crate) const STRING_CHUNK_UNITS: usize = 0x8000;

pub(crate) const BINARY: u8 = b'B';
pub(crate) const BINARY_CHUNK: u8 = b'A';
pub(crate) const BINARY_DIRECT: u8 = 0x20;
pub(crate) const BINARY_DIRECT_MAX: usize = 0x0f;
pub(crate) const BINARY_SHORT: u8 = 0x34;
pub(crate) const BINARY_SHORT_MAX: usize = 0x3ff;
/// Bytes in one non-final binary chunk (a chunk length is 16 bits).
pub(crate) const BINARY_CHUNK_BYTES: usize = 0x8000;

pub(crate) const LIST_VARIABLE: u8 = 0x55;
pub(crate) const LIST_FIXED: u8 = b'V';
pub(crate) const LIST_VARIABLE_UNTYPED: u8 = 0x57;
pub(crate) const LIST_FIXED_UNTYPED: u8 = 0x58;
pub(crate) const LIST_DIRECT: u8 = 0x70;
pub(crate) const LIST_DIRECT_UNTYPED: u8 = 0x78;
pub(crate) const LIST_DIRECT_MAX: usize = 0x07;

pub(crate) const MAP: u8 = b'M';
pub(crate) const MAP_UNTYPED: u8 = b'H';
pub(crate) const END: u8 = b'Z';

pub(crate) const CLASS_DEF: u8 = b'C';
pub(crate) const OBJECT: u8 = b'O';
pub(crate) const OBJECT_DIRECT: u8 = 0x60;
pub(crate) const OBJECT_DIRECT_MAX: usize = 0x0f;

pub(crate) const REF: u8 = 0x51;
