plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "app.vouch.sample"
    compileSdk = 35
    defaultConfig {
        applicationId = "app.vouch.sample"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        // The host's `vouch-server --dev`, forwarded with `adb reverse tcp:8787 tcp:8787`:
        // the core allows plain http:// to loopback only (10.0.2.2 is refused), and --dev
        // listens on loopback only.
        buildConfigField("String", "VOUCH_SERVER", "\"http://127.0.0.1:8787\"")
    }
    buildTypes {
        release {
            // R8 keeps what JNA and the generated bindings need (vouch's consumer rules).
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }
    buildFeatures {
        compose = true
        buildConfig = true
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    // The JVM unit tests are JUnit 5 (the same ones scripts/kotlin-jvm-tests.sh runs).
    testOptions { unitTests.all { it.useJUnitPlatform() } }
}

dependencies {
    implementation(project(":vouch"))
    implementation(platform(libs.compose.bom))
    implementation(libs.compose.material3)
    implementation(libs.compose.ui)
    implementation(libs.activity.compose)
    implementation(libs.lifecycle.runtime)
    implementation(libs.lifecycle.viewmodel.compose)
    implementation(libs.zxing.core)
    implementation(libs.camerax.camera2)
    implementation(libs.camerax.lifecycle)
    implementation(libs.camerax.view)
    implementation(libs.lifecycle.runtime.compose)
    testImplementation(libs.junit.jupiter)
}
