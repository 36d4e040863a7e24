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
    /// Mixes scripts the way look-alikes do (Latin with Cyrillic, a Thai mark after Latin
    /// letters…): UTS #39 "highly restrictive" at most.
    MixedScripts,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "device name is empty",
            Self::TooLong => "device name is longer than 64 characters",
            Self::ForbiddenCharacter => {
                "device names use letters, digits, spaces and common punctuation"
            }
            Self::MixedScripts => "device name mixes writing systems the way look-alikes do",
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
    use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
    let valid = validate_device_name(name)?;
    let nfkc: String = valid.nfkc().collect();
    if nfkc.chars().any(|c| invisible(c) || !shown_char(c)) {
        return Err(NameError::ForbiddenCharacter);
    }
    let letters: String = nfkc
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !c.is_whitespace() && *c != '\u{2019}')
        .collect();
    if !letters
        .as_str()
        .check_restriction_level(RestrictionLevel::HighlyRestrictive)
    {
        return Err(NameError::MixedScripts);
    }
    let name = nfkc.split_whitespace().collect::<Vec<_>>().join(" ");
    validate_device_name(&name).map(str::to_owned)
}

/// A character a name or platform text may show: ASCII letters, digits, punctuation and
/// space, the typographic apostrophe, and what UTS #39 allows in identifiers (letters
/// and marks of scripts in common use — not symbols, Braille blanks or joiners).
#[cfg(feature = "names")]
fn shown_char(c: char) -> bool {
    use unicode_security::GeneralSecurityProfile;
    c.is_ascii_graphic() || c == ' ' || c == '\u{2019}' || c.identifier_allowed()
}

/// Text other people are shown beside a name (a device's platform): NFKC, only the
/// characters a name may show, at most `max` characters.
#[cfg(feature = "names")]
pub fn display_text(text: &str, max: usize) -> String {
    use unicode_normalization::UnicodeNormalization;
    let clean: String = text
        .nfkc()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !forbidden(*c) && !invisible(*c) && shown_char(*c))
        .collect();
    clean
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

/// The two uniqueness keys of a canonical name: UTS #39 skeletons of the case-folded name
/// and of the name as typed, case-folded after. Two names collide when any key of one
/// equals any key of the other: "аlice" (Cyrillic а), "ALICE", "AIice" (capital I for l),
/// "Cafe\u{301}" and "Café" all collide with "alice"/"Café".
#[cfg(feature = "names")]
pub fn name_keys(name: &str) -> [String; 2] {
    use unicode_security::confusable_detection::skeleton;
    let folded: String = skeleton(&normalize_name(name)).collect();
    let typed: String = skeleton(name.trim()).collect();
    [folded.to_lowercase(), typed.to_lowercase()]
}

/// Format characters (zero-width, bidi marks, overrides and isolates…), line and
/// paragraph separators: characters that change how text around them is shown.
fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// Whether `c` may not be shown as it is in text that came from elsewhere (a server
/// answer): a control character (escape sequences, line breaks, a bell) or an
/// invisible one (format characters such as bidi overrides and zero-width characters,
/// line and paragraph separators).
pub fn unsafe_to_show(c: char) -> bool {
    c.is_control() || invisible(c)
}

/// `text` with every character [`unsafe_to_show`] replaced by U+FFFD, so that text from
/// a server can neither repaint a terminal nor reorder what a screen shows around it;
/// borrowed when there is none.
pub fn safe_to_show(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(unsafe_to_show) {
        text.chars()
            .map(|c| if unsafe_to_show(c) { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
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
    fn look_alike_names_share_a_key() {
        use super::{canonical_device_name as canon, name_keys};
        // Refused outright (mixed scripts) or colliding: either way not a second name.
        let collide = |a: &str, b: &str| match (canon(a), canon(b)) {
            (Ok(a), Ok(b)) => name_keys(&a).iter().any(|k| name_keys(&b).contains(k)),
            _ => true,
        };
        assert!(canon("Alice's phone").is_ok());
        for twin in [
            "\u{410}lice's phone",
            "ALICE'S PHONE",
            "AIice's phone",
            "alice's  phone",
            "ａｌｉｃｅ's phone",
            "Alice\u{2019}s phone",
        ] {
            assert!(collide("Alice's phone", twin), "{twin:?}");
            assert!(collide(twin, "Alice's phone"), "{twin:?} (other order)");
        }
        assert!(collide("Cafe\u{301}", "Caf\u{e9}"));
        for hidden in [
            "alice\u{200B}'s phone",
            "phone\u{2028}x",
            "a\u{FEFF}b",
            "x\u{202E}y",
            "Alice Phone \u{2800}",
            "Alice\u{34F}Phone",
            "\u{13AA}lice",
            "Alice Phone\u{E47}",
            "Alice \u{1D159}",
        ] {
            assert!(canon(hidden).is_err(), "{hidden:?}");
        }
        assert!(!collide("laptop", "Alice's phone"));
        // Real names in one script (or Latin with Han/Kana) pass.
        for ok in [
            "Алиса телефон",
            "山田のiPhone",
            "José's Pixel 8",
            "Zoë (work)",
        ] {
            assert!(canon(ok).is_ok(), "{ok:?}");
        }
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
