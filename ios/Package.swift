// swift-tools-version:5.9
// Vouch for iOS, as one Swift package:
//   VouchFFIFFI  the C side of the Rust library: on Apple the xcframework (binary target,
//                iOS device + simulator slices); elsewhere a system library over the
//                host-built libvouch_ffi (Sources/VouchFFIFFI/module.modulemap)
//   VouchFFI     uniffi-generated Swift (Sources/VouchFFI, generated, not committed)
//   VouchKit     the product apps import: the `Vouch` facade (async/await, AsyncStream),
//                the view models, user-facing error keys, and on Apple the Keychain
//                SecretStore and the LocalAuthentication presence check
//
// iOS app builds: `cargo xtask xcframework` (macOS with Xcode) makes VouchFFIFFI.xcframework
// and the generated sources; then add ios/ as a local package and import VouchKit.
// Remote package: `cargo xtask xcframework --release-url URL` renders Package.release.swift
// (binaryTarget(url:checksum:)) into a release package; docs/MOBILE.md, "Publishing".
// Tests (Linux CI, or a Mac): `scripts/swift-tests.sh` builds the library for the host,
// sets VOUCH_FFI_LIB_DIR and runs `swift test` here against real vouch-server processes.
import Foundation
import PackageDescription

let env = ProcessInfo.processInfo.environment
#if os(Linux)
let hostLibrary = true
#else
// On a Mac the tests link the host's libvouch_ffi.dylib the same way (no macOS slice in
// the xcframework, so no macOS platform for app builds).
let hostLibrary = env["VOUCH_FFI_LIB_DIR"] != nil
#endif
let libDir = env["VOUCH_FFI_LIB_DIR"] ?? (Context.packageDirectory + "/../target/debug")

let ffiTarget: Target = hostLibrary
    ? .systemLibrary(name: "VouchFFIFFI", path: "Sources/VouchFFIFFI")
    : .binaryTarget(name: "VouchFFIFFI", path: "VouchFFIFFI.xcframework")
let hostLink: [LinkerSetting] = hostLibrary
    ? [.unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir])]
    : []

// CI compiles the library targets in Swift 6 language mode (complete concurrency
// checking) where the compiler has it; the tests stay in Swift 5 mode (XCTestCase is not
// Sendable). Only in host-library mode: unsafe flags are refused in remote packages.
#if compiler(>=6)
let swift6: [SwiftSetting] = hostLibrary ? [.unsafeFlags(["-swift-version", "6"])] : []
#else
let swift6: [SwiftSetting] = []
#endif

var targets: [Target] = [
    ffiTarget,
    .target(
        name: "VouchFFI", dependencies: ["VouchFFIFFI"], path: "Sources/VouchFFI",
        swiftSettings: swift6, linkerSettings: hostLink),
    .target(
        name: "VouchKit", dependencies: ["VouchFFI", "VouchFFIFFI"], path: "Sources/VouchKit",
        resources: [.process("Resources")], swiftSettings: swift6),
]
if hostLibrary {
    targets += [
        .testTarget(name: "VouchKitTests", dependencies: ["VouchKit"], path: "Tests/VouchKitTests"),
        .executableTarget(name: "VouchBench", dependencies: ["VouchKit", "VouchFFIFFI"], path: "Sources/VouchBench"),
    ]
}

let package = Package(
    name: "Vouch",
    defaultLocalization: "en",
    platforms: hostLibrary ? [.iOS(.v16), .macOS(.v13)] : [.iOS(.v16)],
    products: [
        .library(name: "VouchKit", targets: ["VouchKit"]),
    ],
    targets: targets
)
