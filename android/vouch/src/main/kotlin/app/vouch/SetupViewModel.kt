package app.vouch

import app.vouch.ffi.ApprovalPrompt
import app.vouch.ffi.ApprovalPurpose
import app.vouch.ffi.ApprovalStatus
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.PendingRequest
import app.vouch.ffi.Tier
import app.vouch.ffi.VouchException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch

/** The screens of trusted-session setup, in the order a person meets them. */
sealed interface SetupScreen {
    /** "Strengthen your account security": Start / Remind me later. */
    data object Start : SetupScreen
    /** Signed in but not secure: banner, setup reachable from the profile. */
    data object NotSecure : SetupScreen
    /** "Name your device", prefilled with the default name. */
    data class NameDevice(val suggested: String, val error: String? = null) : SetupScreen
    /** "Verify your device": enter the emailed code. */
    data class VerifyCode(val error: String? = null, val attemptsLeft: Int? = null) : SetupScreen
    /**
     * "Waiting for approval": the 6-digit [code] ("482 913") to type on a device that holds
     * the keys, the QR code of [qrPayload] for a phone's camera, and the tries left. When
     * [codeUsedUp] the code no longer works (three tries or ten minutes): offer "Get a new
     * code". Also the "I don't have access…" link. [purpose] tells enrollment from an
     * email-only device asking for the keys.
     */
    data class WaitingForApproval(
        val code: String,
        val qrPayload: String,
        val runsLeft: Int,
        val purpose: ApprovalPurpose = ApprovalPurpose.ENROLL,
        val codeUsedUp: Boolean = false,
    ) : SetupScreen
    /** Trusted: done. */
    data object Trusted : SetupScreen
    /** Denied, expired or failed; start again. */
    data class Failed(val message: String) : SetupScreen
}

/**
 * View model of the setup flow in plain Kotlin (no Android imports): the Compose and
 * SwiftUI screens render [screen] and call these methods.
 */
class SetupViewModel(private val vouch: Vouch, private val scope: CoroutineScope) {
    private val _screen = MutableStateFlow<SetupScreen>(SetupScreen.Start)
    val screen: StateFlow<SetupScreen> = _screen.asStateFlow()
    private var waiting: Job? = null

    /** "Start": go to naming with the default name. */
    fun start() {
        _screen.value = SetupScreen.NameDevice(vouch.defaultDeviceName())
    }

    /** After a restart: a request still open is shown again and waited for. */
    fun resume() {
        vouch.approvalPrompt()?.let { show(it) }
    }

    /** "Remind me later". */
    fun remindMeLater() = scope.launch {
        vouch.remindMeLater()
        _screen.value = SetupScreen.NotSecure
    }

    /** Registers with [name]; verification by approval unless [byEmail] (first device). */
    fun submitName(name: String, byEmail: Boolean) = scope.launch {
        try {
            vouch.registerDevice(name)
        } catch (e: VouchException) {
            _screen.value = SetupScreen.NameDevice(name, e.message)
            return@launch
        }
        if (byEmail) sendCode() else openAndWait { vouch.startApproval() }
    }

    /** "I don't have access to my trusted device": stop waiting, use an email code. */
    fun noAccessToTrustedDevice() = scope.launch {
        waiting?.cancel()
        sendCode()
    }

    /** Submits the emailed code. */
    fun submitCode(code: String) = scope.launch {
        try {
            vouch.submitEmailCode(code)
            _screen.value = SetupScreen.Trusted
        } catch (e: VouchException.WrongCode) {
            _screen.value = SetupScreen.VerifyCode("Wrong code", e.attemptsLeft.toInt())
        } catch (e: VouchException) {
            _screen.value = SetupScreen.VerifyCode(e.message)
        }
    }

    /** "Get a new code": the person asks; the request is replaced (fresh code, three tries). */
    fun newCode() = scope.launch {
        waiting?.cancel()
        openAndWait { vouch.newCode() }
    }

    /**
     * An email-only device asks a device that holds the keys to share them: the same code
     * and wait as an enrollment; when approved this device becomes a key holder.
     */
    fun askForKeys() = scope.launch { openAndWait { vouch.requestVaultKeys() } }

    private suspend fun sendCode() {
        vouch.requestEmailCode()
        _screen.value = SetupScreen.VerifyCode()
    }

    private suspend fun openAndWait(open: suspend () -> ApprovalPrompt) {
        val prompt = try {
            open()
        } catch (e: VouchException) {
            _screen.value = SetupScreen.Failed(e.message ?: "Could not ask for approval")
            return
        }
        show(prompt)
    }

    private fun show(p: ApprovalPrompt) {
        val shown = SetupScreen.WaitingForApproval(p.code, p.qrPayload, p.runsLeft.toInt(), p.purpose, p.runsLeft == 0u)
        _screen.value = shown
        waiting?.cancel()
        waiting = scope.launch {
            _screen.value = try {
                when (val s = vouch.waitForApproval()) {
                    is EnrollmentState.Trusted ->
                        if (s.tier == Tier.KEY_HOLDER || p.purpose != ApprovalPurpose.SHARE_KEYS) SetupScreen.Trusted
                        else SetupScreen.Failed("The request was not approved")
                    is EnrollmentState.Denied -> SetupScreen.Failed("This device was denied")
                    is EnrollmentState.Expired -> SetupScreen.Failed("The request expired")
                    is EnrollmentState.Verifying -> SetupScreen.Failed("The request was cancelled; start again")
                    else -> SetupScreen.Failed("Unexpected state: $s")
                }
            } catch (e: VouchException.CodeUsedUp) {
                shown.copy(runsLeft = 0, codeUsedUp = true)
            } catch (e: VouchException.ApprovalFailed) {
                SetupScreen.Failed("The approval could not be completed on this device; start again")
            } catch (e: VouchException) {
                SetupScreen.Failed(e.message ?: "Something went wrong")
            }
        }
    }
}

/**
 * "Trust this session?" for one request, as the approver shows it: the request's details,
 * flags for an email-only requester and another network, [warning] above the code field,
 * "waiting for the new device…" while a run is under way, and what went wrong.
 */
data class TrustThisSession(
    val request: PendingRequest,
    val warning: String = Vouch.approverWarning(),
    val waitingForDevice: Boolean = false,
    val error: String? = null,
    val approved: Boolean = false,
) {
    /** The requester was verified by email only (it asks for keys): flag it. */
    val emailOnly: Boolean get() = request.requesterTier == Tier.EMAIL_ONLY
    /** It asks from another network than this device's: flag it. */
    val otherNetwork: Boolean get() = request.otherNetwork
    /** Approved already, waiting for the new device to acknowledge. */
    val approvedWaitingForDevice: Boolean get() = request.status == ApprovalStatus.APPROVED
}

/**
 * View model of "Trust this session?" on an approver (plain Kotlin). The code field lives
 * only on a request's details ([open] first; a notification opens the details, never a
 * bare code field); Approve runs the PAKE with the typed code and, on phones, the app's
 * user-presence check first.
 */
class ApprovalViewModel(private val vouch: Vouch, private val scope: CoroutineScope) {
    private val _selected = MutableStateFlow<TrustThisSession?>(null)
    /** The requests to list. */
    val requests = vouch.pendingRequests
    /** The request whose "Trust this session?" screen is open, if any. */
    val selected: StateFlow<TrustThisSession?> = _selected.asStateFlow()

    fun refresh() = scope.launch {
        try {
            vouch.refreshPendingRequests()
        } catch (e: VouchException) {
            // The list keeps what it had; the screen says why on the next action.
        }
    }

    /** Opens a request's details (the only place a code is entered). */
    fun open(requestId: String) = scope.launch {
        val request = requests.value.firstOrNull { it.requestId == requestId }
            ?: try {
                vouch.refreshPendingRequests().firstOrNull { it.requestId == requestId }
            } catch (e: VouchException) {
                null
            }
        _selected.value = request?.let { TrustThisSession(it) }
    }

    /** Back to the list. */
    fun close() {
        _selected.value = null
    }

    /** Approve with the code the person typed (the new device must be showing it). */
    fun approve(code: String) = decide { vouch.approve(it, code) }

    /** Approve with the QR text this app's camera scanned on this screen. */
    fun approveScanned(scanned: String) = decide { vouch.approveScanned(it, scanned) }

    fun deny() = scope.launch {
        val s = _selected.value ?: return@launch
        try {
            vouch.deny(s.request.requestId)
            _selected.value = null
        } catch (e: VouchException) {
            _selected.value = s.copy(error = message(e))
        }
    }

    private fun decide(run: suspend (String) -> Unit) = scope.launch {
        val s = _selected.value ?: return@launch
        _selected.value = s.copy(waitingForDevice = true, error = null)
        _selected.value = try {
            run(s.request.requestId)
            s.copy(waitingForDevice = false, approved = true)
        } catch (e: VouchException) {
            s.copy(waitingForDevice = false, error = message(e))
        }
    }

    private fun message(e: VouchException): String = when (e) {
        is VouchException.CodeMismatch -> "The code does not match the one on the new device. Check it and try again."
        is VouchException.NoAnswer -> "The new device did not answer. Is it still showing the code?"
        is VouchException.CodeUsedUp -> "This code can no longer be used. Ask for a new code on the new device."
        is VouchException.UserPresenceRequired -> "Approving needs your fingerprint, face or device passcode."
        is VouchException.InvalidQrCode -> "This QR code does not belong to this request."
        is VouchException.InvalidInput -> "The code is six digits."
        is VouchException.AlreadyDecided -> "This request was already decided."
        is VouchException.RequestExpired -> "This request expired."
        is VouchException.KeyHolderRequired -> "Only a device that holds your vault keys can approve."
        is VouchException.Offline -> "You are offline."
        else -> e.message ?: "Something went wrong"
    }
}
