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

/// The server's form of a valid name: NFKC-normalised (full-width letters, ligatures and
/// composed/decomposed accents become one spelling), with no invisible characters
/// (format characters such as zero-width spaces, line and paragraph separators), and
/// runs of white space made one space. Shown to approvers as it is stored.
#[cfg(feature = "names")]
pub fn canonical_device_name(name: &str) -> Result<String, NameError> {
    use unicode_normalization::UnicodeNormalization;
    let valid = validate_device_name(name)?;
    let nfkc: String = valid.nfkc().collect();
    if nfkc.chars().any(invisible) {
        return Err(NameError::ForbiddenCharacter);
    }
    let name = nfkc.split_whitespace().collect::<Vec<_>>().join(" ");
    validate_device_name(&name).map(str::to_owned)
}

/// Text other people are shown beside a name (a device's platform): NFKC, without
/// control, bidirectional or invisible characters, at most `max` characters.
#[cfg(feature = "names")]
pub fn display_text(text: &str, max: usize) -> String {
    use unicode_normalization::UnicodeNormalization;
    let clean: String = text
        .nfkc()
        .filter(|c| !forbidden(*c) && !invisible(*c))
        .collect();
    clean
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

/// The uniqueness key of a canonical name: its UTS #39 skeleton, case-folded, so names
/// that look alike ("аlice" with a Cyrillic а, "Cafe\u{301}" and "Café", "m" and "rn")
/// collide.
#[cfg(feature = "names")]
pub fn name_skeleton(name: &str) -> String {
    let folded = normalize_name(name);
    let skeleton: String = unicode_security::confusable_detection::skeleton(&folded).collect();
    skeleton.to_lowercase()
}

#[cfg(feature = "names")]
fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// Validates a vault name and returns it trimmed: 1–128 characters, no control
/// characters. One rule for the client and the server.
pub fn validate_vault_name(name: &str) -> Option<&str> {
    let trimmed = name.trim();
    let ok = !trimmed.is_empty()
        && trimmed.chars().count() <= crate::VAULT_NAME_MAX_CHARS
        && !trimmed.chars().any(char::is_control);
    ok.then_some(trimmed)
}

/// What is wrong with a refused vault name.
pub const VAULT_NAME_RULE: &str = "vault names are 1–128 characters without control characters";

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
    #[cfg(feature = "names")]
    #[test]
    fn look_alike_names_share_a_skeleton() {
        use super::{canonical_device_name as canon, name_skeleton as key};
        let base = key(&canon("Alice's phone").unwrap());
        for twin in [
            "\u{410}lice's phone",
            "ALICE'S PHONE",
            "alice's  phone",
            "ａｌｉｃｅ's phone",
        ] {
            assert_eq!(key(&canon(twin).unwrap()), base, "{twin:?}");
        }
        assert_eq!(
            key(&canon("Cafe\u{301}").unwrap()),
            key(&canon("Caf\u{e9}").unwrap())
        );
        for hidden in [
            "alice\u{200B}'s phone",
            "phone\u{2028}x",
            "a\u{FEFF}b",
            "x\u{202E}y",
        ] {
            assert!(canon(hidden).is_err(), "{hidden:?}");
        }
        assert_ne!(key(&canon("laptop").unwrap()), base);
    }

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
