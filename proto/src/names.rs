//! Device names (rule 2): default form, validation and the uniqueness key.

use crate::DEVICE_NAME_MAX_CHARS;

/// Why a device name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty after trimming.
    Empty,
    /// Longer than 64 characters after trimming.
    TooLong,
    /// Contains a control character or a bidirectional override/isolate character.
    ForbiddenCharacter,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "device name is empty",
            Self::TooLong => "device name is longer than 64 characters",
            Self::ForbiddenCharacter => {
                "device name contains a control or bidirectional-override character"
            }
        })
    }
}

fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Validates a name and returns it trimmed: 1–64 characters, no control or bidi
/// override/isolate/mark characters.
pub fn validate_device_name(name: &str) -> Result<&str, NameError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.chars().count() > DEVICE_NAME_MAX_CHARS {
        return Err(NameError::TooLong);
    }
    if trimmed.chars().any(forbidden) {
        return Err(NameError::ForbiddenCharacter);
    }
    Ok(trimmed)
}

/// The uniqueness key of a name: trimmed and case-folded ("Alice's Phone " and
/// "alice's phone" collide).
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The default name `[username][device name] - [operating system]/[browser or app]`,
/// e.g. `alice Pixel 8 - Android/Vouch`, cut to 64 characters on a character boundary.
pub fn default_device_name(username: &str, device: &str, os: &str, app: &str) -> String {
    let clean = |s: &str| {
        s.chars()
            .filter(|c| !forbidden(*c))
            .collect::<String>()
            .trim()
            .to_string()
    };
    let name = format!(
        "{} {} - {}/{}",
        clean(username),
        clean(device),
        clean(os),
        clean(app)
    );
    let name: String = name.trim().chars().take(DEVICE_NAME_MAX_CHARS).collect();
    name.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(validate_device_name("  Pixel  "), Ok("Pixel"));
        assert_eq!(validate_device_name("   "), Err(NameError::Empty));
        assert_eq!(
            validate_device_name(&"é".repeat(64)).map(|s| s.chars().count()),
            Ok(64)
        );
        assert_eq!(
            validate_device_name(&"é".repeat(65)),
            Err(NameError::TooLong)
        );
        assert_eq!(
            validate_device_name("a\u{202E}b"),
            Err(NameError::ForbiddenCharacter)
        );
        assert_eq!(
            validate_device_name("a\u{2067}b"),
            Err(NameError::ForbiddenCharacter)
        );
        assert_eq!(
            validate_device_name("a\nb"),
            Err(NameError::ForbiddenCharacter)
        );
        assert_eq!(
            normalize_name(" Alice's Phone "),
            normalize_name("alice's phone")
        );
    }

    #[test]
    fn default_name() {
        assert_eq!(
            default_device_name("alice", "Pixel 8", "Android", "Vouch"),
            "alice Pixel 8 - Android/Vouch"
        );
        let long = default_device_name(&"x".repeat(80), "d", "o", "a");
        assert!(validate_device_name(&long).is_ok());
        assert_eq!(default_device_name("a\u{202E}", "b", "c", "d"), "a b - c/d");
    }
}
