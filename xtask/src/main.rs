//! `cargo xtask`: binding generation and packaging, in Rust rather than long shell scripts.
//!
//! - `cargo xtask bindings kotlin|swift [--release] [--out DIR]` builds the `vouch-ffi`
//!   cdylib and generates the bindings in library mode (default `target/bindings/<lang>`).
//! - `cargo xtask size` builds the shipped release cdylib, strips a copy and prints its size.
//! - `cargo xtask xcframework` (macOS) builds the iOS slices and assembles `VouchFFI.xcframework`.
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
    eprintln!("+ {cmd:?}");
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

fn xcframework() -> Result<(), String> {
    if !cfg!(target_os = "macos") {
        return Err("the xcframework needs macOS with Xcode".into());
    }
    let targets = [
        "aarch64-apple-ios",
        "aarch64-apple-ios-sim",
        "x86_64-apple-ios",
    ];
    for t in targets {
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
    bindings("swift", true, Some(root().join("ios/Sources/VouchFFI")))?;
    let target = root().join("target");
    run(Command::new("lipo")
        .arg("-create")
        .arg(target.join("aarch64-apple-ios-sim/release/libvouch_ffi.a"))
        .arg(target.join("x86_64-apple-ios/release/libvouch_ffi.a"))
        .arg("-output")
        .arg(target.join("libvouch_ffi_sim.a")))?;
    let headers = root().join("ios/Sources/VouchFFI");
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
        Some("xcframework") => xcframework(),
        Some("ci") => ci(),
        _ => Err(
            "usage: cargo xtask bindings kotlin|swift [--release] [--out DIR] | size | xcframework | ci"
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
