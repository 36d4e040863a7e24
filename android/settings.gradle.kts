// Android build of Vouch: the `vouch` library (generated uniffi Kotlin + facade + view
// models + Android Keystore SecretStore) and the Compose `sample` app.
// Needs the Android SDK/NDK, cargo-ndk (`cargo install cargo-ndk`) and Rust targets
// aarch64-linux-android, armv7-linux-androideabi, x86_64-linux-android. Not built in CI
// (no Android SDK there); the plain-Kotlin parts are compiled and tested on the JVM by
// scripts/kotlin-jvm-tests.sh.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "vouch-android"
include(":vouch", ":sample")
