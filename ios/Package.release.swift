// swift-tools-version:5.9
// The Vouch Swift package as published: the template `cargo xtask xcframework
// --release-url URL` renders into the release package's Package.swift (see docs/MOBILE.md,
// "Publishing"). SwiftPM never reads this file here (it is not named Package.swift); the
// rendered copy lives at the root of the distribution repository, beside the generated
// Sources/VouchFFI/VouchFFI.swift and Sources/VouchKit, and is tagged per version.
//
// The binary target is named after the C module and the zip holds VouchFFIFFI.xcframework
// at its root: SwiftPM looks for "<target name>.xcframework" in a downloaded archive. The
// checksum is the SHA-256 of the zip (`swift package compute-checksum` prints the same).
import PackageDescription

let package = Package(
    name: "Vouch",
    defaultLocalization: "en",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "VouchKit", targets: ["VouchKit"]),
    ],
    targets: [
        .binaryTarget(name: "VouchFFIFFI", url: "@XCFRAMEWORK_URL@", checksum: "@XCFRAMEWORK_CHECKSUM@"),
        .target(name: "VouchFFI", dependencies: ["VouchFFIFFI"], path: "Sources/VouchFFI"),
        .target(
            name: "VouchKit", dependencies: ["VouchFFI", "VouchFFIFFI"], path: "Sources/VouchKit",
            resources: [.process("Resources")]),
    ]
)
