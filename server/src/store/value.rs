//! The values that cross the storage seam: one [`Value`] enum for parameters and columns,
//! [`ToValue`] for what a handler binds, [`FromValue`] for what it reads back.

use super::{StoreError, StoreResult};

/// One SQL value, the same on every back end. Integers are 64-bit (flags and counters
/// are integers, not booleans, in both schemas); text is UTF-8; blobs are bytes. Its
/// `Debug` names the kind only: values are token hashes, codes' hashes and ciphertexts,
/// and a driver logs its parameters with `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (`INTEGER` / `BIGINT`).
    Int(i64),
    /// UTF-8 text.
    Text(String),
    /// Bytes (`BLOB` / `BYTEA`).
    Blob(Vec<u8>),
}

/// A Rust value that binds as a statement parameter.
pub trait ToValue {
    /// This value as a [`Value`].
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8);

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        // Saturates: no stored count or time comes near 2^63.
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

/// A Rust value a column reads as.
pub trait FromValue: Sized {
    /// Converts the column at `column` (for the error message).
    fn from_value(v: Value, column: usize) -> StoreResult<Self>;
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl Value {
    /// What kind of value this is, for error messages (never the value itself).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

fn mismatch(column: usize, want: &str, got: &Value) -> StoreError {
    StoreError::decode(column, format!("expected {want}, found {}", got.kind()))
}

impl FromValue for Value {
    fn from_value(v: Value, _: usize) -> StoreResult<Self> {
        Ok(v)
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value, column: usize) -> StoreResult<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v, column).map(Some),
        }
    }
}

impl FromValue for String {
    fn from_value(v: Value, column: usize) -> StoreResult<Self> {
        match v {
            Value::Text(s) => Ok(s),
            v => Err(mismatch(column, "text", &v)),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value, column: usize) -> StoreResult<Self> {
        match v {
            Value::Blob(b) => Ok(b),
            v => Err(mismatch(column, "a blob", &v)),
        }
    }
}

impl FromValue for i64 {
    fn from_value(v: Value, column: usize) -> StoreResult<Self> {
        match v {
            Value::Int(i) => Ok(i),
            v => Err(mismatch(column, "an integer", &v)),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: Value, column: usize) -> StoreResult<Self> {
        i64::from_value(v, column).map(|i| i != 0)
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value, column: usize) -> StoreResult<Self> {
                let i = i64::from_value(v, column)?;
                <$t>::try_from(i).map_err(|_| {
                    StoreError::decode(column, format!("{i} out of range for {}", stringify!($t)))
                })
            }
        }
    )*};
}
int_from_value!(i32, u32, u64, u16, u8, usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_and_refuse_what_does_not_fit() {
        assert_eq!(u32::from_value(7u32.to_value(), 0).ok(), Some(7));
        assert!(u32::from_value(Value::Int(-1), 3).is_err());
        assert!(bool::from_value(Value::Int(1), 0).unwrap());
        assert_eq!(Option::<i64>::from_value(Value::Null, 0).ok(), Some(None));
        assert!(String::from_value(Value::Int(1), 0).is_err());
        assert_eq!(Some("a").to_value(), Value::Text("a".into()));
        assert_eq!(None::<i64>.to_value(), Value::Null);
    }
}
