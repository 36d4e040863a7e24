//! `cargo xtask`: binding generation and packaging, in Rust rather than long shell scripts.
//!
//! - `cargo xtask bindings kotlin|swift [--release] [--out DIR]` builds the `vouch-ffi`
//!   cdylib and generates the bindings in library mode (default `target/bindings/<lang>`).
//! - `cargo xtask size` builds the shipped release cdylib, strips a copy and prints its size.
//! - `cargo xtask xcframework` (macOS) builds the iOS slices and assembles `VouchFFI.xcframework`;
//!   `cargo xtask xcframework --check-layout` (any OS) lays out and checks the headers it
//!   would hand to `xcodebuild` and the package files that use them.
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
        ".binaryTarget(name: \"{FFI_MODULE}\", path: \"VouchFFI.xcframework\")"
    )) {
        problems.push("Package.swift lacks the xcframework binary target".into());
    }
    if IOS_TARGETS.iter().all(|t| !t.contains("darwin")) && !package.contains(": [.iOS(.v16)]") {
        problems.push("Package.swift must declare only iOS for app builds: the xcframework has no macOS slice".into());
    }
    if !package.contains(".library(name: \"VouchKit\"") {
        problems.push("Package.swift does not ship the VouchKit product".into());
    }
    let sample = read(&ios.join("SampleApp/VouchSampleApp.swift"));
    for line in sample.lines().filter(|l| l.starts_with("import ")) {
        let module = line.trim_start_matches("import ").trim();
        let apple = [
            "SwiftUI",
            "CoreImage.CIFilterBuiltins",
            "Foundation",
            "UIKit",
        ];
        if module != "VouchKit" && !apple.contains(&module) {
            problems.push(format!(
                "the sample imports {module}, which is not a product of the package"
            ));
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

/// `cargo xtask xcframework --check-layout`: generates the Swift bindings (debug), lays out
/// the xcframework's headers under `target/xcframework/headers` and checks them; runs
/// anywhere (CI on Linux), no Xcode needed.
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
    if problems.is_empty() {
        println!("xcframework layout: ok");
        Ok(())
    } else {
        Err(format!("xcframework layout:\n  {}", problems.join("\n  ")))
    }
}

fn xcframework() -> Result<(), String> {
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
    run(Command::new("lipo")
        .arg("-create")
        .arg(target.join("aarch64-apple-ios-sim/release/libvouch_ffi.a"))
        .arg(target.join("x86_64-apple-ios/release/libvouch_ffi.a"))
        .arg("-output")
        .arg(target.join("libvouch_ffi_sim.a")))?;
    let out = root().join("ios/VouchFFI.xcframework");
    let _ = std::fs::remove_dir_all(&out);
    run(Command::new("xcodebuild")
        .arg("-create-xcframework")
        .arg("-library")
        .arg(target.join("aarch64-apple-ios/release/libvouch_ffi.a"))
        .arg("-headers")
        .arg(&headers)
        .arg("-library")
        .arg(target.join("libvouch_ffi_sim.a"))
        .arg("-headers")
        .arg(&headers)
        .arg("-output")
        .arg(&out))
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let result = match args.first().map(String::as_str) {
        Some("bindings") => match args.get(1) {
            Some(lang) => bindings(lang, flag("--release"), out),
            None => Err("usage: cargo xtask bindings kotlin|swift [--release] [--out DIR]".into()),
        },
        Some("size") => size(),
        Some("xcframework") if flag("--check-layout") => check_xcframework_layout(),
        Some("xcframework") => xcframework(),
        Some("ci") => ci(),
        _ => Err(
            "usage: cargo xtask bindings kotlin|swift [--release] [--out DIR] | size | xcframework [--check-layout] | ci"
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
}
