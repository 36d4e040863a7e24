package app.vouch

import app.vouch.ffi.EnrollmentState
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
    /** "Waiting for approval": number, phrase and QR code; "I don't have access…" link. */
    data class WaitingForApproval(val number: String, val phrase: String, val qrPayload: String) : SetupScreen
    /** Trusted: done. */
    data object Trusted : SetupScreen
    /** Denied or expired; start again. */
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
        if (byEmail) sendCode() else askForApproval()
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

    private suspend fun sendCode() {
        vouch.requestEmailCode()
        _screen.value = SetupScreen.VerifyCode()
    }

    private suspend fun askForApproval() {
        val p = vouch.startApproval()
        _screen.value = SetupScreen.WaitingForApproval(p.number, p.phrase, p.qrPayload)
        waiting = scope.launch {
            _screen.value = when (val s = vouch.waitForApproval()) {
                is EnrollmentState.Trusted -> SetupScreen.Trusted
                is EnrollmentState.Denied -> SetupScreen.Failed("This device was denied")
                is EnrollmentState.Expired -> SetupScreen.Failed("The request expired")
                else -> SetupScreen.Failed("Unexpected state: $s")
            }
        }
    }
}

/** View model of "Trust this session?" on an approver (plain Kotlin). */
class ApprovalViewModel(private val vouch: Vouch, private val scope: CoroutineScope) {
    private val _error = MutableStateFlow<String?>(null)
    /** The requests to show. */
    val requests = vouch.pendingRequests
    /** The last refusal ("the number does not match"), cleared on the next try. */
    val error: StateFlow<String?> = _error.asStateFlow()

    fun refresh() = scope.launch { vouch.refreshPendingRequests() }

    /** Approve works only with the number the new device shows. */
    fun approve(requestId: String, typedNumber: String) = scope.launch {
        _error.value = null
        try {
            vouch.approve(requestId, typedNumber)
        } catch (e: VouchException.WrongNumber) {
            _error.value = "The number does not match the one on the new device"
        }
    }

    fun approveScanned(qrText: String) = scope.launch { vouch.approveQr(qrText) }
    fun deny(requestId: String) = scope.launch { vouch.deny(requestId) }
}
