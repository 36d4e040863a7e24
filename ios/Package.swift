// swift-tools-version:5.9
// Vouch for iOS: `VouchFFI` (uniffi-generated Swift over the Rust xcframework) and `Vouch`
// (the facade: async/await, AsyncStream, Keychain SecretStore, view models).
//
// Build the binary and the generated sources first, on macOS with Xcode:
//     cargo xtask xcframework
// which builds aarch64-apple-ios, aarch64-apple-ios-sim and x86_64-apple-ios, generates
// ios/Sources/VouchFFI/*.swift|.h|.modulemap and assembles ios/VouchFFI.xcframework.
// None of this is compiled in CI (no Swift toolchain there); CI does generate the Swift
// bindings to prove the generator runs.
import PackageDescription

let package = Package(
    name: "Vouch",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "Vouch", targets: ["Vouch"]),
    ],
    targets: [
        .binaryTarget(name: "VouchFFIFFI", path: "VouchFFI.xcframework"),
        .target(name: "VouchFFI", dependencies: ["VouchFFIFFI"], path: "Sources/VouchFFI"),
        .target(name: "Vouch", dependencies: ["VouchFFI"], path: "Sources/Vouch"),
    ]
)
