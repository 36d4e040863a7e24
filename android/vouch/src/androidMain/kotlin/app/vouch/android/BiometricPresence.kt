package app.vouch.android

import android.os.Build
import android.os.Looper
import android.util.Log
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_WEAK
import androidx.biometric.BiometricManager.Authenticators.DEVICE_CREDENTIAL
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import app.vouch.ffi.UserPresence
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference

/**
 * [UserPresence] over androidx.biometric: before a phone approves a new device, the core
 * asks this, and the person confirms with a fingerprint, face, or the device's PIN,
 * pattern or password (device credential allowed). A refusal, a cancel, a timeout or a
 * phone without any screen lock answers `false`, and nothing is sent.
 *
 * Create it in the activity's `onCreate` (androidx.biometric registers its prompt with the
 * activity there) and pass it to `Vouch.open(…, presence = …)`. The core calls
 * [confirmPresence] on the thread that runs the approval — the facade runs approvals on
 * `Dispatchers.IO` — and this blocks that thread on a latch until the prompt, shown on
 * the main thread, answers. Called on the main thread it would deadlock, so it refuses.
 */
class BiometricPresence(
    activity: FragmentActivity,
    private val title: String = "Approve a new device",
    private val timeoutSeconds: Long = 120,
) : UserPresence {
    private val manager = BiometricManager.from(activity)
    private val main = ContextCompat.getMainExecutor(activity)
    private val waiting = AtomicReference<Answer?>(null)

    /** One prompt's outcome, handed from the main thread to the waiting Rust thread. */
    private class Answer {
        val latch = CountDownLatch(1)
        @Volatile var confirmed = false

        fun done(ok: Boolean) {
            confirmed = ok
            latch.countDown()
        }
    }

    private val prompt = BiometricPrompt(
        activity,
        main,
        object : BiometricPrompt.AuthenticationCallback() {
            override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) {
                waiting.getAndSet(null)?.done(true)
            }

            // Cancelled, locked out, no credential, timed out: not confirmed.
            override fun onAuthenticationError(errorCode: Int, errString: CharSequence) {
                waiting.getAndSet(null)?.done(false)
            }

            // A finger that did not match: the prompt stays up for another try.
            override fun onAuthenticationFailed() {}
        },
    )

    override fun confirmPresence(reason: String): Boolean {
        if (Looper.myLooper() == Looper.getMainLooper()) {
            Log.w(TAG, "user presence asked on the main thread; refused (it would block the prompt)")
            return false
        }
        if (manager.canAuthenticate(AUTHENTICATORS) != BiometricManager.BIOMETRIC_SUCCESS) {
            Log.w(TAG, "no biometric or screen lock is set up; a phone without one cannot approve")
            return false
        }
        val answer = Answer()
        if (!waiting.compareAndSet(null, answer)) return false // one prompt at a time
        main.execute {
            try {
                prompt.authenticate(
                    BiometricPrompt.PromptInfo.Builder()
                        .setTitle(title)
                        .setSubtitle(reason)
                        .setAllowedAuthenticators(AUTHENTICATORS)
                        .setConfirmationRequired(true)
                        .build(),
                )
            } catch (e: RuntimeException) {
                Log.w(TAG, "could not show the prompt: ${e.javaClass.simpleName}")
                if (waiting.compareAndSet(answer, null)) answer.done(false)
            }
        }
        if (!answer.latch.await(timeoutSeconds, TimeUnit.SECONDS)) {
            if (waiting.compareAndSet(answer, null)) main.execute { prompt.cancelAuthentication() }
            return false
        }
        return answer.confirmed
    }

    private companion object {
        const val TAG = "Vouch"

        /**
         * A strong biometric or the device credential. Before Android 11 the combination
         * with DEVICE_CREDENTIAL must use BIOMETRIC_WEAK (androidx.biometric's rule).
         */
        val AUTHENTICATORS =
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) BIOMETRIC_STRONG or DEVICE_CREDENTIAL
            else BIOMETRIC_WEAK or DEVICE_CREDENTIAL
    }
}
