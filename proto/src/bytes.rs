//! Binary values on the wire: base64url without padding.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

/// Bytes that travel as a base64url (no padding) JSON string. Refuses padding, standard
/// base64 characters and whitespace on input, so each value has exactly one encoding.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// The encoded text.
    pub fn to_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    /// Decodes base64url without padding.
    pub fn from_b64(text: &str) -> Result<Self, base64::DecodeError> {
        URL_SAFE_NO_PAD.decode(text).map(Self)
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ciphertexts and public keys only travel in this type, but print sizes anyway.
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_b64(&text).map_err(|_| D::Error::custom("expected base64url without padding"))
    }
}

/// The canonical base64url-without-padding strings, as a regular expression (the
/// OpenAPI schema's pattern).
#[cfg(feature = "openapi")]
const CANONICAL_B64URL: &str =
    "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$";

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Bytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom(
                "base64url".into(),
            )))
            .description(Some("binary value, base64url without padding"))
            // Exactly the canonical encodings the decoder accepts: whole groups, then a
            // last group of 2 or 3 characters whose unused bits are zero.
            .pattern(Some(CANONICAL_B64URL))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Bytes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_pattern_is_exactly_the_canonical_encodings() {
        // Every length 0..=5 bytes, a few values each: encodes match; a flipped unused
        // bit neither decodes nor matches (checked by hand-written cases below).
        for len in 0..=5usize {
            for seed in [0u8, 1, 0x5a, 0xff] {
                let bytes: Vec<u8> = (0..len).map(|i| seed.wrapping_mul(i as u8 + 7)).collect();
                let text = Bytes(bytes).to_b64();
                assert!(matches(&text), "{text}");
            }
        }
        for bad in ["AB", "AAB", "A", "AAAAA", "a+", "AA=="] {
            assert!(Bytes::from_b64(bad).is_err(), "{bad} decodes");
            assert!(!matches(bad), "{bad} matches");
        }
    }

    /// The pattern, checked without a regex engine: groups of 4, then 2 or 3 characters
    /// with the same last-character sets the pattern names.
    fn matches(text: &str) -> bool {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if !text.chars().all(ok) {
            return false;
        }
        let tail = &text[text.len() - text.len() % 4..];
        match tail.len() {
            0 => true,
            2 => "AQgw".contains(&tail[1..]),
            3 => "AEIMQUYcgkosw048".contains(&tail[2..]),
            _ => false,
        }
    }

    #[test]
    fn round_trip_and_strictness() {
        let b = Bytes(vec![0xfb, 0xff, 0x00, 1]);
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, "\"-_8AAQ\"");
        assert_eq!(serde_json::from_str::<Bytes>(&json).unwrap(), b);
        for bad in [
            "\"+/8AAQ\"",
            "\"-_8AAQ==\"",
            "\" -_8AAQ\"",
            "12",
            "\"-_8AA\\nQ\"",
        ] {
            assert!(serde_json::from_str::<Bytes>(bad).is_err(), "{bad}");
        }
    }
}
