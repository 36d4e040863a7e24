package app.vouch.sample

import android.app.Application
import android.os.Build
import app.vouch.Vouch
import app.vouch.VouchHolder
import app.vouch.android.ForegroundPresence
import app.vouch.android.KeystoreSecretStore
import app.vouch.android.LogcatLogger
import app.vouch.android.VouchApplication
import app.vouch.ffi.DeviceInfo
import app.vouch.ffi.DeviceKind

/**
 * The process: one Vouch client for the app's whole life (opened on first use, off the main
 * thread), shared by every view model; the BiometricPrompt of the activity in front
 * confirms approvals.
 */
class SampleApp : Application(), VouchApplication {
    /** Activities attach their BiometricPrompt here (MainActivity.onCreate). */
    val presence = ForegroundPresence()

    override val vouchHolder: VouchHolder = VouchHolder {
        Vouch.open(
            profileDir = filesDir.resolve("vouch").path,
            serverUrl = BuildConfig.VOUCH_SERVER,
            device = DeviceInfo(DeviceKind.MOBILE, Build.MODEL, "Android ${Build.VERSION.RELEASE}", "Vouch sample"),
            secretStore = KeystoreSecretStore(),
            presence = presence,
        )
    }

    override fun onCreate() {
        super.onCreate()
        LogcatLogger.install()
    }
}
