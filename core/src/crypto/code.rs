//! The one-time code a new device shows ("482 913") and the QR secret shown beside it.
//! Both are made on the new device, never by the server, and are the passwords of the
//! approval's PAKE.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Digits in an approval code.
pub const CODE_DIGITS: usize = 6;

/// A 6-digit approval code. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct ApprovalCode(Zeroizing<[u8; CODE_DIGITS]>);

impl ApprovalCode {
    /// A uniform random code (rejection sampling: no modulo bias).
    pub fn generate() -> Result<Self> {
        loop {
            let r = u32::from_be_bytes(super::random_array()?);
            // 4_294_000_000 is the largest multiple of 10^6 below 2^32.
            if r < 4_294_000_000 {
                return Self::from_number(r % 1_000_000);
            }
        }
    }

    fn from_number(n: u32) -> Result<Self> {
        let text = Zeroizing::new(format!("{n:06}"));
        let mut digits = Zeroizing::new([0u8; CODE_DIGITS]);
        digits.copy_from_slice(text.as_bytes());
        Ok(Self(digits))
    }

    /// Reads what a person typed: exactly six digits; spaces and dashes between them are
    /// ignored ("482 913", "482-913"). Anything else is [`Error::InvalidInput`].
    pub fn parse(typed: &str) -> Result<Self> {
        let mut digits = Zeroizing::new([0u8; CODE_DIGITS]);
        let mut n = 0;
        for c in typed.trim().chars() {
            match c {
                '0'..='9' if n < CODE_DIGITS => {
                    digits[n] = c as u8;
                    n += 1;
                }
                ' ' | '-' => {}
                _ => return Err(Error::InvalidInput("the code is six digits".into())),
            }
        }
        if n != CODE_DIGITS {
            return Err(Error::InvalidInput("the code is six digits".into()));
        }
        Ok(Self(digits))
    }

    /// The code grouped for display: "482 913". Show it; never log it.
    pub fn grouped(&self) -> Zeroizing<String> {
        let d = &self.0;
        let mut s = String::with_capacity(CODE_DIGITS + 1);
        for (i, b) in d.iter().enumerate() {
            if i == 3 {
                s.push(' ');
            }
            s.push(char::from(*b));
        }
        Zeroizing::new(s)
    }

    /// The six ASCII digits (the PAKE password).
    pub(crate) fn expose(&self) -> &[u8; CODE_DIGITS] {
        &self.0
    }

    pub(crate) fn from_digits(d: [u8; CODE_DIGITS]) -> Result<Self> {
        if d.iter().all(u8::is_ascii_digit) {
            Ok(Self(Zeroizing::new(d)))
        } else {
            Err(Error::CorruptRow("approval code"))
        }
    }
}

impl PartialEq for ApprovalCode {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl std::fmt::Debug for ApprovalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApprovalCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_group() {
        let c = ApprovalCode::parse(" 482-913 ").unwrap();
        assert_eq!(c.grouped().as_str(), "482 913");
        assert_eq!(c, ApprovalCode::parse("482913").unwrap());
        for bad in ["48291", "4829133", "48a913", "", "482 91x", "４８２９１３"] {
            assert!(ApprovalCode::parse(bad).is_err(), "{bad}");
        }
        let g = ApprovalCode::generate().unwrap();
        assert_eq!(ApprovalCode::parse(&g.grouped()).unwrap(), g);
        assert_eq!(format!("{g:?}"), "ApprovalCode(<redacted>)");
    }
}
