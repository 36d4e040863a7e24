// The Vouch Android library (AAR): the Rust core per ABI (rust-android-gradle's cargo {}
// block), the Kotlin generated from it (uniffi-bindgen, library mode), the hand-written
// facade and state machines (src/main/kotlin, also tested on the JVM), the androidx view
// models, Android Keystore SecretStore and BiometricPrompt presence (src/androidMain).
// Published with maven-publish: `./gradlew :vouch:publishReleasePublicationToLocalRepository`
// (docs/MOBILE.md).
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.rust.android)
    `maven-publish`
}

val repoRoot: File = rootDir.parentFile
val generatedKotlin = layout.buildDirectory.dir("generated/uniffi")
val rustJniLibs = layout.buildDirectory.dir("rustJniLibs/android")

android {
    namespace = "app.vouch"
    compileSdk = 35
    // The NDK that links the Rust library (r27+; r28 aligns to 16 KB by default, the
    // .cargo/config.toml flags do it for older ones).
    ndkVersion = "27.2.12479018"
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].kotlin.srcDirs("src/main/kotlin", "src/androidMain/kotlin", generatedKotlin)
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    // The JVM unit tests are JUnit 5 (the same ones scripts/kotlin-jvm-tests.sh runs).
    testOptions { unitTests.all { it.useJUnitPlatform() } }
    publishing {
        singleVariant("release") {
            withSourcesJar()
        }
    }
}

// The Rust library, per ABI, into build/rustJniLibs/android/<abi>/libvouch_ffi.so (added to
// jniLibs by the plugin). Release profile: the library we ship is the one we test on
// devices. Build fewer ABIs while developing with `rust.targets=arm64` (or x86_64 for the
// emulator) in android/local.properties. cargo decides what to rebuild; nothing runs on
// Gradle sync (the tasks hang off merge*JniLibFolders, not preBuild). 16 KB pages:
// .cargo/config.toml (no RUSTFLAGS is set here, which would override it).
cargo {
    module = "../../bindings"
    libname = "vouch_ffi"
    targets = listOf("arm64", "arm", "x86_64")
    profile = "release"
    targetDirectory = "../../target"
    apiLevel = 26
    extraCargoBuildArguments = listOf("--lib", "--locked")
    // Never the `test-hooks` feature: the shipped library has no test hooks.
}

tasks.matching { it.name.matches(Regex("merge.*JniLibFolders")) }.configureEach {
    inputs.dir(rustJniLibs)
    dependsOn("cargoBuild")
}

// The Kotlin bindings, generated in library mode from the arm64 library just built (the
// API is the same on every ABI), with bindings/uniffi-android.toml over uniffi.toml
// (android_cleaner on). Declared inputs and outputs: up to date unless the library changed.
val generateBindings by tasks.registering(Exec::class) {
    dependsOn("cargoBuildArm64")
    val library = rustJniLibs.map { it.file("arm64-v8a/libvouch_ffi.so") }
    val out = generatedKotlin
    inputs.file(library)
    inputs.file(File(repoRoot, "bindings/uniffi.toml"))
    inputs.file(File(repoRoot, "bindings/uniffi-android.toml"))
    outputs.dir(out)
    workingDir = repoRoot
    doFirst { out.get().asFile.deleteRecursively() }
    commandLine(
        "cargo", "run", "--quiet", "--locked", "-p", "vouch-ffi", "--features", "cli", "--bin", "uniffi-bindgen", "--",
        "generate", "--library", library.get().asFile.path,
        "--config", File(repoRoot, "bindings/uniffi-android.toml").path,
        "--language", "kotlin", "--no-format", "--out-dir", out.get().asFile.path,
    )
}

tasks.matching { it.name.matches(Regex("compile.*Kotlin")) || it.name.matches(Regex("sourceRelease.*Jar")) }
    .configureEach { dependsOn(generateBindings) }

dependencies {
    // JNA 5.17 as an AAR (its own libjnidispatch.so per ABI, 16 KB aligned).
    implementation("${libs.jna.get()}@aar")
    api(libs.kotlinx.coroutines.android)
    implementation(libs.androidx.core)
    // The androidx view models (SetupViewModel, ApprovalViewModel, DevicesViewModel).
    api(libs.lifecycle.viewmodel)
    // uniffi's android_cleaner uses @RequiresApi.
    implementation("androidx.annotation:annotation:1.9.1")
    // BiometricPresence takes a FragmentActivity: both are part of its API.
    api(libs.androidx.biometric)
    api(libs.androidx.fragment)
    testImplementation(libs.junit.jupiter)
}

// maven-publish: the release AAR (the three ABIs' libvouch_ffi.so, the generated Kotlin
// compiled in, facade, view models, resources, consumer ProGuard rules) and a sources jar.
// The POM declares JNA as `aar`. Coordinates from gradle.properties (VOUCH_GROUP,
// VOUCH_VERSION). Repository: build/repo by default, or -PvouchMavenUrl=… with
// VOUCH_MAVEN_USER / VOUCH_MAVEN_PASSWORD in the environment.
publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = providers.gradleProperty("VOUCH_GROUP").get()
            artifactId = "vouch-android"
            version = providers.gradleProperty("VOUCH_VERSION").get()
            afterEvaluate { from(components["release"]) }
            pom {
                name.set("Vouch for Android")
                description.set("Trusted devices: the Vouch Rust core with its Kotlin facade and view models")
            }
        }
    }
    repositories {
        val remote = providers.gradleProperty("vouchMavenUrl").orNull
        if (remote != null) {
            maven {
                name = "remote"
                url = uri(remote)
                credentials {
                    username = System.getenv("VOUCH_MAVEN_USER")
                    password = System.getenv("VOUCH_MAVEN_PASSWORD")
                }
            }
        }
        maven {
            name = "local"
            url = uri(layout.buildDirectory.dir("repo").get().asFile)
        }
    }
}
