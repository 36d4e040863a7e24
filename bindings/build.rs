//! Link options for the shipped cdylib only (its size: README "Bindings", and
//! `docs/DECISIONS.md`, "Library size and call cost"). Nothing else in the workspace is
//! linked differently, so no other crate's build is invalidated.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    match (os.as_str(), env.as_str()) {
        // Packed relative relocations (DT_RELR): ~12,000 24-byte `R_X86_64_RELATIVE`
        // entries (280 KB) become a few KB. Needs glibc >= 2.36 to load (Debian 12) and
        // binutils >= 2.38 or lld to link; an older ld ignores the option with a warning.
        ("linux", "gnu") => println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs"),
        // Android's packed relocations (APS2), read by the loader since API 23 (minSdk 26).
        ("android", _) => println!("cargo:rustc-cdylib-link-arg=-Wl,--pack-dyn-relocs=android"),
        _ => {}
    }
}
