package app.vouch.android

import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import app.vouch.ffi.UserPresence

/**
 * The [UserPresence] of the one process-wide client ([app.vouch.VouchHolder]): the client
 * outlives activities, a [BiometricPresence] belongs to one (androidx.biometric registers
 * its prompt in `onCreate`). Each activity that may approve calls [attach] in `onCreate`;
 * it is detached when destroyed. With no activity attached the answer is `false` (nothing
 * is sent; the person approves again with the app in front).
 */
class ForegroundPresence : UserPresence {
    @Volatile private var current: BiometricPresence? = null

    /** Makes [activity]'s BiometricPrompt the one asked, until the activity is destroyed. */
    fun attach(activity: FragmentActivity, title: String = "Approve a new device") {
        val presence = BiometricPresence(activity, title)
        current = presence
        activity.lifecycle.addObserver(object : DefaultLifecycleObserver {
            override fun onDestroy(owner: LifecycleOwner) {
                if (current === presence) current = null
            }
        })
    }

    override fun confirmPresence(reason: String): Boolean = current?.confirmPresence(reason) ?: false
}
