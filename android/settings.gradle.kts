// Android build of Vouch: the `vouch` library (generated uniffi Kotlin + facade + view
// models + Android Keystore SecretStore) and the Compose `sample` app.
// Needs the Android SDK and NDK (Android Studio's SDK Manager), Python 3 (the
// rust-android-gradle plugin's linker wrapper) and the Rust targets aarch64-linux-android,
// armv7-linux-androideabi, x86_64-linux-android (`rustup target add`, README). Not built in
// CI (no Android SDK there); the plain-Kotlin parts are compiled and tested on the JVM by
// scripts/kotlin-jvm-tests.sh. See docs/MOBILE.md.
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
