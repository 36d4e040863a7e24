// The Vouch Android library: Rust core (cargo-ndk) + generated Kotlin (cargo xtask) +
// the hand-written facade, view models, Android Keystore SecretStore and the
// BiometricPrompt user-presence check an approving phone needs.
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

val repoRoot = rootDir.parentFile
val generatedKotlin = layout.buildDirectory.dir("generated/uniffi")

android {
    namespace = "app.vouch"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].kotlin.srcDirs("src/main/kotlin", "src/androidMain/kotlin", generatedKotlin)
    sourceSets["main"].jniLibs.srcDirs(layout.buildDirectory.dir("rustJniLibs"))
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

// Builds libvouch_ffi.so for each ABI with cargo-ndk (release profile: size-optimised).
val cargoNdk by tasks.registering(Exec::class) {
    workingDir = repoRoot
    commandLine(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "-o", layout.buildDirectory.dir("rustJniLibs").get().asFile.path,
        "build", "-p", "vouch-ffi", "--lib", "--release",
    )
}

// Generates the Kotlin bindings from the host build of the library (library mode).
val generateBindings by tasks.registering(Exec::class) {
    workingDir = repoRoot
    commandLine("cargo", "xtask", "bindings", "kotlin", "--out", generatedKotlin.get().asFile.path)
}

tasks.named("preBuild") { dependsOn(cargoNdk, generateBindings) }

dependencies {
    implementation("${libs.jna.get()}@aar")
    implementation(libs.kotlinx.coroutines.android)
    implementation(libs.androidx.core)
    // BiometricPresence takes a FragmentActivity: both are part of its API.
    api(libs.androidx.biometric)
    api(libs.androidx.fragment)
    testImplementation(libs.junit.jupiter)
}
