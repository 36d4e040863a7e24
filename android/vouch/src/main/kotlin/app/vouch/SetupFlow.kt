package app.vouch

import app.vouch.ffi.ApprovalPrompt
import app.vouch.ffi.ApprovalPurpose
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.Tier
import app.vouch.ffi.Verification
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import java.time.Duration
import java.time.Instant

/** The screens of trusted-session setup, in the order a person meets them. */
sealed interface SetupScreen {
    /** Reading the saved state (before [SetupFlow.resume] finished). */
    data object Loading : SetupScreen
    /** Signed out: sign in first ([SetupFlow.signIn]); [error] after a refused try. */
    data class SignedOut(val error: UserMessage? = null) : SetupScreen
    /** "Strengthen your account security": Start / Remind me later. */
    data class Start(val error: UserMessage? = null) : SetupScreen
    /** Signed in but not secure ("Remind me later"): the banner; setup from the profile. */
    data object NotSecure : SetupScreen
    /** "Name your device", prefilled with the default name (editable). */
    data class NameDevice(val suggested: String, val error: UserMessage? = null) : SetupScreen
    /**
     * At the device limit (20): the text explains it and that a device has to be disabled
     * first, from a web device that holds the keys (My trusted devices in a browser);
     * "Try again" submits [name] again the same way ([byEmail]).
     */
    data class DeviceLimit(val name: String, val byEmail: Boolean = false) : SetupScreen
    /**
     * "Verify your identity": the device is registered (e.g. before a restart) and nothing
     * is under way: verify with a trusted device, or "I don't have access to my trusted
     * device" (email code).
     */
    data class VerifyIdentity(val deviceName: String, val error: UserMessage? = null) : SetupScreen
    /**
     * "Verify your device": enter the emailed code. The code expires at [expiresAt]
     * (5 minutes after it was sent: count down with [secondsLeft]); "Resend" is allowed
     * from [resendAfter] on. [expired] once the server said `code_expired` (offer "Send a
     * new code"); [attemptsLeft] when the server counted a wrong code.
     */
    data class VerifyCode(
        val expiresAt: Instant? = null,
        val resendAfter: Instant? = null,
        val error: UserMessage? = null,
        val attemptsLeft: Int? = null,
        val expired: Boolean = false,
    ) : SetupScreen {
        /** Seconds until the code expires (0 when it has), for the countdown. */
        fun secondsLeft(now: Instant): Long = expiresAt?.let { Duration.between(now, it).seconds.coerceAtLeast(0) } ?: 0
        /** Seconds until "Resend" is allowed (0: now). */
        fun resendInSeconds(now: Instant): Long = resendAfter?.let { Duration.between(now, it).seconds.coerceAtLeast(0) } ?: 0
    }
    /**
     * "Waiting for approval": the 6-digit [code] ("482 913") to type on a device that holds
     * the keys, the QR code of [qrPayload] for a phone's camera, and the tries left. When
     * [codeUsedUp] the code no longer works (three tries or ten minutes): offer "Get a new
     * code". Also the "I don't have access…" link (enrollment only). [purpose] tells
     * enrollment from an email-only device asking for the keys.
     */
    data class WaitingForApproval(
        val code: String,
        val qrPayload: String,
        val runsLeft: Int,
        val purpose: ApprovalPurpose = ApprovalPurpose.ENROLL,
        val codeUsedUp: Boolean = false,
        val expiresAt: Instant? = null,
        val error: UserMessage? = null,
    ) : SetupScreen
    /**
     * Trusted: done. [emailOnly] when verified by email while a key holder exists: the
     * device has no vault keys and offers "Ask for vault keys" ([SetupFlow.askForKeys]).
     */
    data class Trusted(val emailOnly: Boolean = false) : SetupScreen
    /** Denied, expired, wiped or failed; [message] says which. Start again. */
    data class Failed(val message: UserMessage) : SetupScreen
}

/** Signed in but not secure after "Remind me later": the banner (also after a restart). */
val EnrollmentState.showsNotSecureBanner: Boolean
    get() = this is EnrollmentState.Untrusted && remindedLater

/**
 * The setup flow's state machine in plain Kotlin (no Android imports; the androidx
 * `SetupViewModel` in the Android source set runs it in its `viewModelScope`). Screens
 * render [screen] and call these methods; each returns the [Job] doing the work. No
 * exception leaves a job: every [VouchError] becomes a screen with a [UserMessage].
 */
class SetupFlow(private val vouch: Vouch, private val scope: CoroutineScope) {
    private val _screen = MutableStateFlow<SetupScreen>(SetupScreen.Loading)
    val screen: StateFlow<SetupScreen> = _screen.asStateFlow()
    private var waiting: Job? = null

    /**
     * The screen of the saved state (on creation, and after a restart): an open approval
     * request is shown again with its code and waited for; a device waiting for an email
     * code gets the code screen back; "Remind me later" stays not secure.
     */
    fun resume(): Job = launchSafe {
        when (val s = vouch.state.value) {
            is EnrollmentState.SignedOut -> _screen.value = SetupScreen.SignedOut()
            is EnrollmentState.Untrusted -> _screen.value = if (s.remindedLater) SetupScreen.NotSecure else SetupScreen.Start()
            is EnrollmentState.Verifying -> when (val v = s.verification) {
                is Verification.NotStarted -> _screen.value = SetupScreen.VerifyIdentity(s.deviceName)
                is Verification.EmailCode -> _screen.value = SetupScreen.VerifyCode(v.expiresAt, v.resendAfter)
                is Verification.Approval ->
                    vouch.approvalPrompt()?.let { show(it) } ?: run { _screen.value = SetupScreen.VerifyIdentity(s.deviceName) }
            }
            is EnrollmentState.Trusted ->
                vouch.approvalPrompt()?.let { show(it) } ?: run { _screen.value = trusted(s) }
            is EnrollmentState.Denied -> _screen.value = SetupScreen.Failed(UserMessage("setup.denied"))
            is EnrollmentState.Expired -> _screen.value = SetupScreen.Failed(UserMessage("setup.expired"))
            is EnrollmentState.Wiped -> _screen.value = SetupScreen.Failed(UserMessage("error.device_wiped"))
        }
    }

    /** Signs in; then the screen of the new state (Start, or where this device was). */
    fun signIn(email: String, password: String): Job = launchSafe(onError = { SetupScreen.SignedOut(it) }) {
        vouch.signIn(email, password)
        resume().join()
    }

    /** "Start": go to naming with the default name. */
    fun start(): Job = launchSafe {
        _screen.value = SetupScreen.NameDevice(vouch.defaultDeviceName())
    }

    /** "Remind me later": signed in, not secure (the banner shows, also after a restart). */
    fun remindMeLater(): Job = launchSafe(onError = { SetupScreen.Start(it) }) {
        vouch.remindMeLater()
        _screen.value = SetupScreen.NotSecure
    }

    /** Registers with [name]; verification by approval unless [byEmail] (first device). */
    fun submitName(name: String, byEmail: Boolean): Job = launchSafe {
        try {
            vouch.registerDevice(name)
        } catch (e: VouchError.DeviceLimitReached) {
            _screen.value = SetupScreen.DeviceLimit(name, byEmail)
            return@launchSafe
        } catch (e: VouchError) {
            _screen.value = SetupScreen.NameDevice(name, e.userMessage)
            return@launchSafe
        }
        if (byEmail) sendCode() else openAndWait { vouch.startApproval() }
    }

    /** "Verify with a trusted device" on [SetupScreen.VerifyIdentity]. */
    fun verifyWithTrustedDevice(): Job = launchSafe { openAndWait { vouch.startApproval() } }

    /** "I don't have access to my trusted device": stop waiting, withdraw, use an email code. */
    fun noAccessToTrustedDevice(): Job = launchSafe {
        waiting?.cancel()
        sendCode()
    }

    /** "Resend" / "Send a new code" on the code screen (throttled by the server). */
    fun resendCode(): Job = launchSafe { sendCode() }

    /** Submits the emailed code. */
    fun submitCode(code: String): Job = launchSafe {
        val current = _screen.value as? SetupScreen.VerifyCode ?: SetupScreen.VerifyCode()
        try {
            _screen.value = trusted(vouch.submitEmailCode(code))
        } catch (e: VouchError.WrongCode) {
            _screen.value = current.copy(error = e.userMessage, attemptsLeft = e.attemptsLeft)
        } catch (e: VouchError.CodeExpired) {
            _screen.value = current.copy(error = e.userMessage, attemptsLeft = null, expired = true)
        } catch (e: VouchError) {
            _screen.value = current.copy(error = e.userMessage, attemptsLeft = null)
        }
    }

    /** "Get a new code": the request is replaced (fresh code, three tries). */
    fun newCode(): Job = launchSafe {
        waiting?.cancel()
        openAndWait { vouch.newCode() }
    }

    /**
     * An email-only device asks a device that holds the keys to share them: the same code
     * and wait as an enrollment; when approved this device becomes a key holder.
     */
    fun askForKeys(): Job = launchSafe { openAndWait { vouch.requestVaultKeys() } }

    private suspend fun sendCode() {
        val current = _screen.value as? SetupScreen.VerifyCode
        try {
            val s = vouch.requestEmailCode()
            val v = (s as? EnrollmentState.Verifying)?.verification as? Verification.EmailCode
            _screen.value = SetupScreen.VerifyCode(v?.expiresAt, v?.resendAfter)
        } catch (e: VouchError.TooManyRequests) {
            // Throttled: the code sent before still works; say when to resend.
            val v = (vouch.state.value as? EnrollmentState.Verifying)?.verification as? Verification.EmailCode
            _screen.value = (current ?: SetupScreen.VerifyCode(v?.expiresAt, v?.resendAfter)).copy(error = e.userMessage)
        }
    }

    private suspend fun openAndWait(open: suspend () -> ApprovalPrompt) {
        val prompt = try {
            open()
        } catch (e: VouchError) {
            _screen.value = SetupScreen.Failed(e.userMessage)
            return
        }
        show(prompt)
    }

    private fun show(p: ApprovalPrompt) {
        val shown = SetupScreen.WaitingForApproval(
            p.code, p.qrPayload, p.runsLeft.toInt(), p.purpose, p.runsLeft == 0u, p.expiresAt,
        )
        _screen.value = shown
        waiting?.cancel()
        waiting = scope.launch {
            _screen.value = try {
                when (val s = vouch.waitForApproval()) {
                    is EnrollmentState.Trusted ->
                        if (s.tier == Tier.KEY_HOLDER || p.purpose != ApprovalPurpose.SHARE_KEYS) trusted(s)
                        else SetupScreen.Failed(UserMessage("setup.not_approved"))
                    is EnrollmentState.Denied -> SetupScreen.Failed(UserMessage("setup.denied"))
                    is EnrollmentState.Expired -> SetupScreen.Failed(UserMessage("setup.expired"))
                    is EnrollmentState.Verifying -> SetupScreen.Failed(UserMessage("setup.cancelled"))
                    is EnrollmentState.Wiped -> SetupScreen.Failed(UserMessage("error.device_wiped"))
                    else -> SetupScreen.Failed(UserMessage("error.unexpected"))
                }
            } catch (e: VouchError.CodeUsedUp) {
                shown.copy(runsLeft = 0, codeUsedUp = true)
            } catch (e: VouchError.Offline) {
                shown.copy(error = e.userMessage)
            } catch (e: VouchError) {
                SetupScreen.Failed(e.userMessage)
            }
        }
    }

    private fun trusted(s: EnrollmentState): SetupScreen = when (s) {
        is EnrollmentState.Trusted -> SetupScreen.Trusted(emailOnly = s.tier == Tier.EMAIL_ONLY)
        else -> SetupScreen.Failed(UserMessage("error.unexpected"))
    }

    /** Launches [block]; a [VouchError] it lets through becomes [onError]'s screen. */
    private fun launchSafe(
        onError: (UserMessage) -> SetupScreen = { SetupScreen.Failed(it) },
        block: suspend () -> Unit,
    ): Job = scope.launch {
        try {
            block()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _screen.value = onError(UserMessage.of(e))
        }
    }
}
