//! `cargo xtask`: binding generation and packaging, in Rust rather than long shell scripts.
//!
//! - `cargo xtask bindings kotlin|swift [--release] [--out DIR]` builds the `vouch-ffi`
//!   cdylib and generates the bindings in library mode (default `target/bindings/<lang>`).
//! - `cargo xtask size` builds the shipped release cdylib, strips a copy and prints its size.
//! - `cargo xtask xcframework [--release-url URL] [--out DIR]` (macOS) builds the iOS
//!   slices, assembles `VouchFFIFFI.xcframework`, zips it, prints and writes its SwiftPM
//!   checksum (the SHA-256 of the zip, what `swift package compute-checksum` prints) and,
//!   with `--release-url`, writes the release package (`Package.swift` with
//!   `binaryTarget(url:checksum:)`, the generated Swift, `VouchKit`) into `DIR`
//!   (default `target/swift-package`);
//!   `cargo xtask xcframework --check-layout` (any OS) lays out and checks the headers it
//!   would hand to `xcodebuild`, zips a stand-in xcframework of the same shape, checks the
//!   archive's entries and renders the release package from it (no Xcode needed).
//! - `cargo xtask ci` checks what review would: `cargo fmt --check`, clippy on every target
//!   with warnings denied, and `cargo doc` with warnings denied (`.ci/run` calls it).

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<(), String> {
    // The program and its arguments (`{cmd:?}` would also list every removed variable).
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!(
        "+ {} {}",
        cmd.get_program().to_string_lossy(),
        args.join(" ")
    );
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

fn cargo() -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    // `cargo run` gave this process the variables of the xtask package; build scripts that
    // watch them (ring's `rerun-if-env-changed=CARGO_MANIFEST_DIR`, …) would otherwise
    // rebuild half the tree on every switch between `cargo build` and `cargo xtask`.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || matches!(
                &*key,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            c.env_remove(&*key);
        }
    }
    c
}

fn library(release: bool) -> PathBuf {
    let dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let name = if cfg!(target_os = "macos") {
        "libvouch_ffi.dylib"
    } else {
        "libvouch_ffi.so"
    };
    dir.join(if release { "release" } else { "debug" })
        .join(name)
}

fn bindings(lang: &str, release: bool, out: Option<PathBuf>) -> Result<(), String> {
    if !matches!(lang, "kotlin" | "swift") {
        return Err(format!("unknown language {lang}: kotlin or swift"));
    }
    // One build gives both the library and the generator (same features, no rebuild).
    let mut build = cargo();
    build.args([
        "build",
        "-p",
        "vouch-ffi",
        "--features",
        "cli",
        "--lib",
        "--bin",
        "uniffi-bindgen",
    ]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let out = out.unwrap_or_else(|| root().join("target").join("bindings").join(lang));
    let _ = std::fs::remove_dir_all(&out);
    let lib = library(release);
    let bindgen = lib.with_file_name("uniffi-bindgen");
    run(Command::new(bindgen)
        .current_dir(root())
        .arg("generate")
        .arg("--library")
        .arg(&lib)
        .args(["--language", lang, "--no-format", "--out-dir"])
        .arg(&out))?;
    println!("{lang} bindings in {}", out.display());
    Ok(())
}

fn size() -> Result<(), String> {
    run(cargo().args(["build", "-p", "vouch-ffi", "--lib", "--release"]))?;
    let lib = library(true);
    let stripped = lib.with_extension("stripped.so");
    std::fs::copy(&lib, &stripped).map_err(|e| e.to_string())?;
    run(Command::new("strip").arg("--strip-all").arg(&stripped))?;
    let bytes = std::fs::metadata(&stripped)
        .map_err(|e| e.to_string())?
        .len();
    println!(
        "stripped release cdylib ({}): {} bytes = {:.2} MB",
        env::consts::ARCH,
        bytes,
        bytes as f64 / 1e6
    );
    Ok(())
}

/// Formatting, lints and docs, each failing on any warning.
fn ci() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The shipped library and CLI as built for users: vouch-core without its `testing`
    // surface (nothing there may be needed, or left dead, outside tests).
    run(cargo().args([
        "clippy",
        "-p",
        "vouch-ffi",
        "-p",
        "vouch-cli",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))
}

/// The C module of the generated Swift (`#if canImport(VouchFFIFFI)` in `VouchFFI.swift`).
const FFI_MODULE: &str = "VouchFFIFFI";
/// The slices of the xcframework: iOS devices and the simulator only (so the package
/// declares no macOS platform for app builds).
const IOS_TARGETS: [&str; 3] = [
    "aarch64-apple-ios",
    "aarch64-apple-ios-sim",
    "x86_64-apple-ios",
];

/// Lays out the headers directory given to `xcodebuild -create-xcframework -headers` the
/// way matrix-rust-sdk does: `headers/VouchFFIFFI/module.modulemap` beside
/// `headers/VouchFFIFFI/VouchFFIFFI.h`. Clang finds a module only in a file named
/// `module.modulemap`, and the subdirectory keeps it from colliding with another
/// library's module map when Xcode copies every xcframework's headers into one place.
fn lay_out_headers(generated: &Path, headers: &Path) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(headers);
    let dir = headers.join(FFI_MODULE);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let header = format!("{FFI_MODULE}.h");
    std::fs::copy(generated.join(&header), dir.join(&header))
        .map_err(|e| format!("{header}: {e}"))?;
    std::fs::copy(
        generated.join(format!("{FFI_MODULE}.modulemap")),
        dir.join("module.modulemap"),
    )
    .map_err(|e| format!("{FFI_MODULE}.modulemap: {e}"))?;
    Ok(dir)
}

/// Checks what [`lay_out_headers`] made and the package files that depend on it; returns
/// the problems found (none is success).
fn check_layout(headers: &Path, generated_swift: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let entries: Vec<String> = std::fs::read_dir(headers)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if entries != [FFI_MODULE] {
        problems.push(format!(
            "headers/ must hold only {FFI_MODULE}/ (no top-level module map), found {entries:?}"
        ));
    }
    let dir = headers.join(FFI_MODULE);
    let modulemap = read(&dir.join("module.modulemap"));
    if modulemap.is_empty() {
        problems.push(format!(
            "headers/{FFI_MODULE}/module.modulemap is missing (Clang reads no other name)"
        ));
    }
    if !modulemap.contains(&format!("module {FFI_MODULE} ")) {
        problems.push(format!(
            "the module map does not declare module {FFI_MODULE}"
        ));
    }
    for line in modulemap.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("header \"") {
            let name = rest.trim_end_matches('"');
            if !dir.join(name).is_file() {
                problems.push(format!("the module map's header {name} is not beside it"));
            }
        }
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".modulemap") && name != "module.modulemap" {
            problems.push(format!("stray module map {name}"));
        }
    }
    if !read(generated_swift).contains(&format!("canImport({FFI_MODULE})")) {
        problems.push(format!(
            "the generated Swift does not import {FFI_MODULE}: module names disagree"
        ));
    }
    let ios = root().join("ios");
    let package = read(&ios.join("Package.swift"));
    if !package.contains(&format!(
        ".binaryTarget(name: \"{FFI_MODULE}\", path: \"{XCFRAMEWORK}\")"
    )) {
        problems.push("Package.swift lacks the xcframework binary target".into());
    }
    if IOS_TARGETS.iter().all(|t| !t.contains("darwin")) && !package.contains(": [.iOS(.v16)]") {
        problems.push("Package.swift must declare only iOS for app builds: the xcframework has no macOS slice".into());
    }
    if !package.contains(".library(name: \"VouchKit\"") {
        problems.push("Package.swift does not ship the VouchKit product".into());
    }
    // Every file of the sample imports only VouchKit and Apple's frameworks.
    let apple = [
        "SwiftUI",
        "CoreImage.CIFilterBuiltins",
        "Foundation",
        "UIKit",
        "AVFoundation",
    ];
    let mut sample_files: Vec<PathBuf> = std::fs::read_dir(ios.join("SampleApp"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "swift"))
                .collect()
        })
        .unwrap_or_default();
    sample_files.sort();
    if sample_files.is_empty() {
        problems.push("ios/SampleApp holds no Swift files".into());
    }
    // No error is dropped on its way to the screen (issue 14): no `try?` / `try!` in the
    // sample or the library apps use.
    let mut swift_files = sample_files.clone();
    let kit = ios.join("Sources/VouchKit");
    for dir in [kit.clone(), kit.join("Apple")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|x| x == "swift") {
                swift_files.push(entry.path());
            }
        }
    }
    for file in &swift_files {
        for (n, line) in read(file).lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("try?") || code.contains("try!") {
                problems.push(format!(
                    "{}:{}: try? / try! drops an error the person must see",
                    file.file_name().unwrap_or_default().to_string_lossy(),
                    n + 1
                ));
            }
        }
    }
    for file in &sample_files {
        for line in read(file).lines().filter(|l| l.starts_with("import ")) {
            let module = line.trim_start_matches("import ").trim();
            if module != "VouchKit" && !apple.contains(&module) {
                problems.push(format!(
                    "{} imports {module}, which is not a product of the package",
                    file.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
    }
    let facade = read(&ios.join("Sources/VouchKit/Vouch.swift"));
    if !facade.contains("public final class Vouch") || package.contains(".library(name: \"Vouch\"")
    {
        problems.push(
            "the module and the facade type must not share a name (module VouchKit, type Vouch)"
                .into(),
        );
    }
    problems
}

/// The xcframework's name. SwiftPM looks for `<binary target name>.xcframework` inside a
/// downloaded archive ("does not contain expected binary artifact" otherwise), so it is
/// named after the target, which is named after the C module (as matrix-rust-sdk's
/// `MatrixSDKFFI.xcframework`).
const XCFRAMEWORK: &str = "VouchFFIFFI.xcframework";
/// The library inside each slice (both slices use the same name).
const STATIC_LIB: &str = "libvouch_ffi.a";
/// The slice directories `xcodebuild -create-xcframework` makes from the device library
/// and the fat (arm64 + x86_64) simulator library.
const SLICES: [&str; 2] = ["ios-arm64", "ios-arm64_x86_64-simulator"];
/// The release manifest's template and its two placeholders.
const RELEASE_TEMPLATE: &str = "ios/Package.release.swift";
const URL_PLACEHOLDER: &str = "@XCFRAMEWORK_URL@";
const CHECKSUM_PLACEHOLDER: &str = "@XCFRAMEWORK_CHECKSUM@";

/// Zips `parent/name` into `zip` with `name/` as the archive's top directory (what
/// `ditto -c -k --keepParent` gives; SwiftPM extracts the archive and looks for the
/// xcframework at its root). `zip` is on every Mac and most Linux machines; `-X` leaves out
/// extra file attributes, `-y` stores symlinks as links (framework bundles have them).
fn zip_dir(parent: &Path, name: &str, zip: &Path) -> Result<(), String> {
    let _ = std::fs::remove_file(zip);
    run(Command::new("zip")
        .current_dir(parent)
        .args(["-q", "-r", "-X", "-y"])
        .arg(zip)
        .arg(name))
}

/// The SwiftPM checksum of a binary target's archive: the lowercase hex SHA-256 of the
/// file, exactly what `swift package compute-checksum FILE` prints.
fn swiftpm_checksum(path: &Path) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The names in a zip archive's central directory (no extraction, no `unzip` needed).
fn zip_entries(path: &Path) -> Result<Vec<String>, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let u16_at = |i: usize| -> Result<usize, String> {
        data.get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or_else(|| "truncated zip".to_string())
    };
    let u32_at = |i: usize| -> Result<usize, String> {
        data.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| "truncated zip".to_string())
    };
    // The end-of-central-directory record: the last PK\x05\x06 (a comment may follow it).
    let eocd = (0..data.len().saturating_sub(21))
        .rev()
        .find(|&i| data[i..].starts_with(b"PK\x05\x06"))
        .ok_or("not a zip archive (no end of central directory)")?;
    let count = u16_at(eocd + 10)?;
    let mut at = u32_at(eocd + 16)?;
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        if !data.get(at..).is_some_and(|d| d.starts_with(b"PK\x01\x02")) {
            return Err("bad central directory entry".into());
        }
        let (name_len, extra_len, comment_len) =
            (u16_at(at + 28)?, u16_at(at + 30)?, u16_at(at + 32)?);
        let name = data
            .get(at + 46..at + 46 + name_len)
            .ok_or("truncated zip entry name")?;
        names.push(String::from_utf8_lossy(name).into_owned());
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(names)
}

/// Checks a zipped xcframework's entries the way SwiftPM and Xcode will read them; returns
/// the problems found (none is success).
fn check_archive(entries: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let top = format!("{XCFRAMEWORK}/");
    for e in entries.iter().filter(|e| !e.starts_with(&top)) {
        problems.push(format!(
            "{e} is outside {top}: SwiftPM wants the xcframework at the archive's root"
        ));
    }
    let has = |rest: &str| entries.iter().any(|e| *e == format!("{top}{rest}"));
    if !has("Info.plist") {
        problems.push(format!("{top}Info.plist is missing"));
    }
    for slice in SLICES {
        for file in [
            STATIC_LIB.to_string(),
            format!("Headers/{FFI_MODULE}/module.modulemap"),
            format!("Headers/{FFI_MODULE}/{FFI_MODULE}.h"),
        ] {
            if !has(&format!("{slice}/{file}")) {
                problems.push(format!("{top}{slice}/{file} is missing"));
            }
        }
        if entries.iter().any(|e| {
            e.starts_with(&format!("{top}{slice}/Headers/"))
                && e.ends_with(".modulemap")
                && !e.ends_with("/module.modulemap")
        }) {
            problems.push(format!("{slice}: a module map not named module.modulemap"));
        }
    }
    problems
}

/// The release manifest: the template with the archive's URL and checksum filled in.
fn render_release_manifest(template: &str, url: &str, checksum: &str) -> Result<String, String> {
    if !url.starts_with("https://") || !url.ends_with(".zip") || url.contains('"') {
        return Err(format!(
            "--release-url must be an https:// URL of the .zip (SwiftPM downloads it), got {url}"
        ));
    }
    if checksum.len() != 64
        || !checksum
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(format!("not a SwiftPM checksum: {checksum}"));
    }
    if !template.contains(URL_PLACEHOLDER) || !template.contains(CHECKSUM_PLACEHOLDER) {
        return Err(format!(
            "{RELEASE_TEMPLATE} lacks {URL_PLACEHOLDER} or {CHECKSUM_PLACEHOLDER}"
        ));
    }
    let manifest = template
        .replace(URL_PLACEHOLDER, url)
        .replace(CHECKSUM_PLACEHOLDER, checksum);
    let problems = check_release_manifest(&manifest, url, checksum);
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(problems.join("; "))
    }
}

/// What a remote package's manifest must say: the binary target by URL and checksum, and
/// nothing SwiftPM refuses or that only exists in this checkout.
fn check_release_manifest(manifest: &str, url: &str, checksum: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let target =
        format!(".binaryTarget(name: \"{FFI_MODULE}\", url: \"{url}\", checksum: \"{checksum}\")");
    if !manifest.contains(&target) {
        problems.push(format!("the release manifest lacks {target}"));
    }
    for refused in [
        "unsafeFlags",
        "systemLibrary",
        "VOUCH_FFI_LIB_DIR",
        "path: \"VouchFFIFFI",
    ] {
        if manifest.contains(refused) {
            problems.push(format!(
                "the release manifest mentions {refused} (refused in, or meaningless for, a remote package)"
            ));
        }
    }
    for needed in [
        ".library(name: \"VouchKit\"",
        "platforms: [.iOS(.v16)]",
        "resources: [.process(\"Resources\")]",
    ] {
        if !manifest.contains(needed) {
            problems.push(format!("the release manifest lacks {needed}"));
        }
    }
    problems
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| format!("{}: {e}", src.display()))?;
        }
    }
    Ok(())
}

/// Writes the release package into `out`: what goes into the distribution repository (its
/// root, tagged per version), as matrix-rust-components-swift and bitwarden/sdk-swift
/// hold their manifest and generated Swift beside a binary target on a release URL.
/// Replaces only what it writes (`Package.swift`, `Sources/VouchFFI`, `Sources/VouchKit`):
/// `out` may be a checkout of that repository, whose `.git` and README stay.
fn write_release_package(out: &Path, manifest: &str, generated_swift: &Path) -> Result<(), String> {
    for dir in ["Sources/VouchFFI", "Sources/VouchKit"] {
        let _ = std::fs::remove_dir_all(out.join(dir));
    }
    let ios = root().join("ios");
    copy_tree(&ios.join("Sources/VouchKit"), &out.join("Sources/VouchKit"))?;
    let ffi = out.join("Sources/VouchFFI");
    std::fs::create_dir_all(&ffi).map_err(|e| e.to_string())?;
    std::fs::copy(generated_swift, ffi.join("VouchFFI.swift"))
        .map_err(|e| format!("VouchFFI.swift: {e}"))?;
    std::fs::write(out.join("Package.swift"), manifest).map_err(|e| e.to_string())?;
    println!("release package in {}", out.display());
    Ok(())
}

/// Zips the xcframework under `dir`, checks the archive, writes `<zip>.sha256` and prints
/// the checksum; with a release URL also writes the release package into `package_out`.
fn package_xcframework(
    dir: &Path,
    release_url: Option<&str>,
    package_out: &Path,
    generated_swift: &Path,
) -> Result<String, String> {
    let zip = dir.join(format!("{XCFRAMEWORK}.zip"));
    zip_dir(dir, XCFRAMEWORK, &zip)?;
    let problems = check_archive(&zip_entries(&zip)?);
    if !problems.is_empty() {
        return Err(format!("{}:\n  {}", zip.display(), problems.join("\n  ")));
    }
    let checksum = swiftpm_checksum(&zip)?;
    std::fs::write(zip.with_extension("zip.sha256"), format!("{checksum}\n"))
        .map_err(|e| e.to_string())?;
    println!("archive: {}", zip.display());
    println!("checksum: {checksum}");
    if let Some(url) = release_url {
        let template = std::fs::read_to_string(root().join(RELEASE_TEMPLATE))
            .map_err(|e| format!("{RELEASE_TEMPLATE}: {e}"))?;
        let manifest = render_release_manifest(&template, url, &checksum)?;
        write_release_package(package_out, &manifest, generated_swift)?;
    }
    Ok(checksum)
}

/// A stand-in of what `xcodebuild -create-xcframework` makes, for the checks on machines
/// without Xcode: the real header layout in each slice, an empty `ar` archive where the
/// static library goes, and an Info.plist of the same shape.
fn stand_in_xcframework(headers: &Path, out: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(out);
    let mut libraries = String::new();
    for slice in SLICES {
        let dir = out.join(slice);
        copy_tree(headers, &dir.join("Headers"))?;
        std::fs::write(dir.join(STATIC_LIB), b"!<arch>\n").map_err(|e| e.to_string())?;
        let (archs, variant) = if slice.ends_with("-simulator") {
            (
                "<string>arm64</string><string>x86_64</string>",
                "<key>SupportedPlatformVariant</key><string>simulator</string>",
            )
        } else {
            ("<string>arm64</string>", "")
        };
        libraries += &format!(
            "<dict><key>HeadersPath</key><string>Headers</string><key>LibraryIdentifier</key><string>{slice}</string><key>LibraryPath</key><string>{STATIC_LIB}</string><key>SupportedArchitectures</key><array>{archs}</array><key>SupportedPlatform</key><string>ios</string>{variant}</dict>"
        );
    }
    std::fs::write(
        out.join("Info.plist"),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict><key>AvailableLibraries</key><array>{libraries}</array><key>CFBundlePackageType</key><string>XFWK</string><key>XCFrameworkFormatVersion</key><string>1.0</string></dict></plist>\n"
        ),
    )
    .map_err(|e| e.to_string())
}

/// `cargo xtask xcframework --check-layout`: generates the Swift bindings (debug), lays out
/// the xcframework's headers under `target/xcframework/headers` and checks them, then zips
/// a stand-in xcframework of the same shape (`target/xcframework/check`), checks the
/// archive, computes its checksum and renders the release package from it into
/// `target/xcframework/check/package`; runs anywhere (CI on Linux), no Xcode needed.
/// `scripts/swift-tests.sh` compares the checksum with `swift package compute-checksum`
/// and has SwiftPM read the rendered manifest.
fn check_xcframework_layout() -> Result<(), String> {
    let generated = root().join("target/bindings/swift");
    bindings("swift", false, Some(generated.clone()))?;
    let headers = root().join("target/xcframework/headers");
    lay_out_headers(&generated, &headers)?;
    let problems = check_layout(&headers, &generated.join("VouchFFI.swift"));
    for entry in std::fs::read_dir(headers.join(FFI_MODULE)).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        println!(
            "xcframework headers: {FFI_MODULE}/{}",
            entry.file_name().to_string_lossy()
        );
    }
    if !problems.is_empty() {
        return Err(format!("xcframework layout:\n  {}", problems.join("\n  ")));
    }
    println!("xcframework layout: ok");
    let check = root().join("target/xcframework/check");
    stand_in_xcframework(&headers, &check.join(XCFRAMEWORK))?;
    package_xcframework(
        &check,
        Some("https://example.invalid/vouch/0.0.0/VouchFFIFFI.xcframework.zip"),
        &check.join("package"),
        &generated.join("VouchFFI.swift"),
    )?;
    println!("xcframework archive (stand-in libraries) and release manifest: ok");
    Ok(())
}

fn xcframework(release_url: Option<&str>, out: Option<PathBuf>) -> Result<(), String> {
    if !cfg!(target_os = "macos") {
        return Err(
            "the xcframework needs macOS with Xcode (`--check-layout` runs anywhere)".into(),
        );
    }
    for t in IOS_TARGETS {
        // The static library is asked for here only (Cargo.toml builds cdylib + lib).
        run(cargo().args([
            "rustc",
            "-p",
            "vouch-ffi",
            "--lib",
            "--release",
            "--target",
            t,
            "--crate-type",
            "staticlib",
        ]))?;
    }
    let generated = root().join("target/bindings/swift-release");
    bindings("swift", true, Some(generated.clone()))?;
    let sources = root().join("ios/Sources/VouchFFI");
    std::fs::create_dir_all(&sources).map_err(|e| e.to_string())?;
    std::fs::copy(
        generated.join("VouchFFI.swift"),
        sources.join("VouchFFI.swift"),
    )
    .map_err(|e| format!("VouchFFI.swift: {e}"))?;
    let target = root().join("target");
    let headers = target.join("xcframework/headers");
    lay_out_headers(&generated, &headers)?;
    let problems = check_layout(&headers, &generated.join("VouchFFI.swift"));
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    // The simulator slice is one fat library of both simulator architectures, under the
    // same file name as the device library.
    let sim = target.join("xcframework/ios-simulator");
    std::fs::create_dir_all(&sim).map_err(|e| e.to_string())?;
    run(Command::new("lipo")
        .arg("-create")
        .arg(
            target
                .join("aarch64-apple-ios-sim/release")
                .join(STATIC_LIB),
        )
        .arg(target.join("x86_64-apple-ios/release").join(STATIC_LIB))
        .arg("-output")
        .arg(sim.join(STATIC_LIB)))?;
    let dist = target.join("xcframework/dist");
    let built = dist.join(XCFRAMEWORK);
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist).map_err(|e| e.to_string())?;
    run(Command::new("xcodebuild")
        .arg("-create-xcframework")
        .arg("-library")
        .arg(target.join("aarch64-apple-ios/release").join(STATIC_LIB))
        .arg("-headers")
        .arg(&headers)
        .arg("-library")
        .arg(sim.join(STATIC_LIB))
        .arg("-headers")
        .arg(&headers)
        .arg("-output")
        .arg(&built))?;
    // The local package (ios/Package.swift) uses it by path.
    let local = root().join("ios").join(XCFRAMEWORK);
    let _ = std::fs::remove_dir_all(&local);
    run(Command::new("cp").arg("-R").arg(&built).arg(&local))?;
    package_xcframework(
        &dist,
        release_url,
        &out.unwrap_or_else(|| target.join("swift-package")),
        &generated.join("VouchFFI.swift"),
    )?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let value = |f: &str| {
        args.iter()
            .position(|a| a == f)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let out = value("--out").map(PathBuf::from);
    let result = match args.first().map(String::as_str) {
        Some("bindings") => match args.get(1) {
            Some(lang) => bindings(lang, flag("--release"), out),
            None => Err("usage: cargo xtask bindings kotlin|swift [--release] [--out DIR]".into()),
        },
        Some("size") => size(),
        Some("xcframework") if flag("--check-layout") => check_xcframework_layout(),
        Some("xcframework") => xcframework(value("--release-url"), out),
        Some("ci") => ci(),
        _ => Err(
            "usage: cargo xtask bindings kotlin|swift [--release] [--out DIR] | size | xcframework [--check-layout | --release-url URL [--out DIR]] | ci"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory shaped like uniffi's Swift output (`--library`, module VouchFFIFFI).
    fn generated(name: &str) -> PathBuf {
        let dir = env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("VouchFFIFFI.h"), "#pragma once\n").unwrap();
        std::fs::write(
            dir.join("VouchFFIFFI.modulemap"),
            "module VouchFFIFFI {\n    header \"VouchFFIFFI.h\"\n    export *\n    use \"Darwin\"\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("VouchFFI.swift"),
            "#if canImport(VouchFFIFFI)\nimport VouchFFIFFI\n#endif\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn headers_are_laid_out_as_module_dir_with_module_modulemap() {
        let out = generated("layout-ok");
        let headers = out.join("headers");
        let dir = lay_out_headers(&out, &headers).unwrap();
        assert_eq!(dir, headers.join("VouchFFIFFI"));
        assert!(dir.join("module.modulemap").is_file());
        assert!(dir.join("VouchFFIFFI.h").is_file());
        assert_eq!(
            check_layout(&headers, &out.join("VouchFFI.swift")),
            Vec::<String>::new()
        );
        let _ = std::fs::remove_dir_all(out);
    }

    #[test]
    fn the_check_finds_what_clang_would_not() {
        let out = generated("layout-bad");
        let headers = out.join("headers");
        let dir = lay_out_headers(&out, &headers).unwrap();
        // The old layout: the generator's file name, and a module map at the top level.
        std::fs::rename(
            dir.join("module.modulemap"),
            dir.join("VouchFFIFFI.modulemap"),
        )
        .unwrap();
        std::fs::write(headers.join("module.modulemap"), "module X {}\n").unwrap();
        std::fs::remove_file(dir.join("VouchFFIFFI.h")).unwrap();
        let problems = check_layout(&headers, &out.join("VouchFFI.swift")).join("\n");
        assert!(problems.contains("no top-level module map"), "{problems}");
        assert!(
            problems.contains("module.modulemap is missing"),
            "{problems}"
        );
        assert!(
            problems.contains("stray module map VouchFFIFFI.modulemap"),
            "{problems}"
        );
        let _ = std::fs::remove_dir_all(out);
    }

    /// A zip's central directory and end record holding `names` (enough for
    /// [`zip_entries`], which reads nothing else).
    fn fake_zip(names: &[&str]) -> Vec<u8> {
        let mut central = Vec::new();
        for name in names {
            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&[0; 24]);
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 16]);
            central.extend_from_slice(name.as_bytes());
        }
        let mut zip = b"local file data".to_vec();
        let offset = zip.len() as u32;
        zip.extend_from_slice(&central);
        zip.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        zip.extend_from_slice(&(names.len() as u16).to_le_bytes());
        zip.extend_from_slice(&(names.len() as u16).to_le_bytes());
        zip.extend_from_slice(&(central.len() as u32).to_le_bytes());
        zip.extend_from_slice(&offset.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip
    }

    fn good_entries() -> Vec<String> {
        let mut v = vec![
            "VouchFFIFFI.xcframework/".to_string(),
            "VouchFFIFFI.xcframework/Info.plist".to_string(),
        ];
        for slice in SLICES {
            for f in [
                "libvouch_ffi.a",
                "Headers/VouchFFIFFI/module.modulemap",
                "Headers/VouchFFIFFI/VouchFFIFFI.h",
            ] {
                v.push(format!("VouchFFIFFI.xcframework/{slice}/{f}"));
            }
        }
        v
    }

    #[test]
    fn zip_entries_reads_the_central_directory() {
        let path = env::temp_dir().join(format!("xtask-zip-{}.zip", std::process::id()));
        let names = good_entries();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        std::fs::write(&path, fake_zip(&refs)).unwrap();
        assert_eq!(zip_entries(&path).unwrap(), names);
        std::fs::write(&path, b"not a zip at all, just some bytes").unwrap();
        assert!(zip_entries(&path).is_err());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn the_archive_check_wants_the_xcframework_at_the_root_with_both_slices() {
        assert_eq!(check_archive(&good_entries()), Vec::<String>::new());
        // Zipped from inside the directory (no --keepParent): nothing under the name.
        let flat: Vec<String> = good_entries()
            .iter()
            .map(|e| e.trim_start_matches("VouchFFIFFI.xcframework/").to_string())
            .filter(|e| !e.is_empty())
            .collect();
        let problems = check_archive(&flat).join("\n");
        assert!(problems.contains("at the archive's root"), "{problems}");
        assert!(problems.contains("Info.plist is missing"), "{problems}");
        // Named after the crate instead of the target; a slice without its module map.
        let renamed: Vec<String> = good_entries()
            .iter()
            .map(|e| e.replace("VouchFFIFFI.xcframework", "VouchFFI.xcframework"))
            .collect();
        assert!(!check_archive(&renamed).is_empty());
        let mut no_map = good_entries();
        no_map.retain(|e| !e.ends_with("ios-arm64/Headers/VouchFFIFFI/module.modulemap"));
        no_map.push(
            "VouchFFIFFI.xcframework/ios-arm64/Headers/VouchFFIFFI/VouchFFIFFI.modulemap".into(),
        );
        let problems = check_archive(&no_map).join("\n");
        assert!(
            problems.contains("ios-arm64/Headers/VouchFFIFFI/module.modulemap is missing"),
            "{problems}"
        );
        assert!(
            problems.contains("not named module.modulemap"),
            "{problems}"
        );
    }

    #[test]
    fn the_checksum_is_the_sha256_of_the_file_in_lowercase_hex() {
        let path = env::temp_dir().join(format!("xtask-sum-{}", std::process::id()));
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            swiftpm_checksum(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn the_release_manifest_is_the_template_with_url_and_checksum() {
        let template = std::fs::read_to_string(root().join(RELEASE_TEMPLATE)).unwrap();
        let sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let url = "https://example.com/v1.2.3/VouchFFIFFI.xcframework.zip";
        let manifest = render_release_manifest(&template, url, sum).unwrap();
        assert!(manifest.contains(&format!(
            ".binaryTarget(name: \"VouchFFIFFI\", url: \"{url}\", checksum: \"{sum}\")"
        )));
        assert!(!manifest.contains('@'), "a placeholder left: {manifest}");
        assert!(render_release_manifest(&template, "http://example.com/x.zip", sum).is_err());
        assert!(render_release_manifest(&template, url, &sum.to_uppercase()).is_err());
        assert!(render_release_manifest(&template, url, &sum[1..]).is_err());
        assert!(render_release_manifest("let package = 1", url, sum).is_err());
        let unsafe_template = template.replace(
            "targets: [",
            "targets: [ .target(name: \"X\", swiftSettings: [.unsafeFlags([])]),",
        );
        let err = render_release_manifest(&unsafe_template, url, sum).unwrap_err();
        assert!(err.contains("unsafeFlags"), "{err}");
    }

    #[test]
    fn the_release_package_replaces_only_what_it_writes() {
        let out = env::temp_dir().join(format!("xtask-release-out-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(out.join(".git")).unwrap();
        std::fs::write(out.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(out.join("README.md"), "the distribution repo\n").unwrap();
        std::fs::create_dir_all(out.join("Sources/VouchKit")).unwrap();
        std::fs::write(out.join("Sources/VouchKit/Stale.swift"), "// gone\n").unwrap();
        let generated = generated("release");
        write_release_package(&out, "// manifest\n", &generated.join("VouchFFI.swift")).unwrap();
        assert!(out.join(".git/HEAD").is_file());
        assert!(out.join("README.md").is_file());
        assert!(!out.join("Sources/VouchKit/Stale.swift").exists());
        assert!(out.join("Sources/VouchKit/Vouch.swift").is_file());
        assert!(
            out.join("Sources/VouchKit/Resources/en.lproj/Localizable.strings")
                .is_file()
        );
        assert!(out.join("Sources/VouchFFI/VouchFFI.swift").is_file());
        assert_eq!(
            std::fs::read_to_string(out.join("Package.swift")).unwrap(),
            "// manifest\n"
        );
        let _ = std::fs::remove_dir_all(out);
        let _ = std::fs::remove_dir_all(generated);
    }
}
