package app.vouch

import app.vouch.ffi.ApprovalPurpose
import app.vouch.ffi.ApprovalStatus
import app.vouch.ffi.PendingRequest
import app.vouch.ffi.Tier
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch

/**
 * "Trust this session?" for one request, as the approver shows it: the request's details,
 * flags for an email-only requester, another network and another person's account (an
 * admin's `NEW_ROOT`, with its own [warning]), [warning] above the code field,
 * "waiting for the new device…" while a run is under way, and what went wrong.
 */
data class TrustThisSession(
    val request: PendingRequest,
    val warning: String =
        if (request.purpose == ApprovalPurpose.NEW_ROOT) Vouch.newRootWarning() else Vouch.approverWarning(),
    val waitingForDevice: Boolean = false,
    val error: UserMessage? = null,
    val approved: Boolean = false,
) {
    /** The requester was verified by email only (it asks for keys): flag it. */
    val emailOnly: Boolean get() = request.requesterTier == Tier.EMAIL_ONLY
    /** It asks from another network than this device's: flag it. */
    val otherNetwork: Boolean get() = request.otherNetwork
    /** An admin making another person's first key holder ([PendingRequest.account]): say whose. */
    val anotherPersonsAccount: Boolean get() = request.purpose == ApprovalPurpose.NEW_ROOT
    /** Approved already, waiting for the new device to acknowledge. */
    val approvedWaitingForDevice: Boolean get() = request.status == ApprovalStatus.APPROVED
}

/**
 * "Trust this session?" on an approver, as a plain-Kotlin state machine (the androidx
 * `ApprovalViewModel` runs it). The code field lives only on a request's details ([open]
 * first; a notification opens the details, never a bare code field); Approve runs the PAKE
 * with the typed code and, on phones, the app's user-presence check first.
 */
class ApprovalFlow(private val vouch: Vouch, private val scope: CoroutineScope) {
    private val _selected = MutableStateFlow<TrustThisSession?>(null)
    private val _listError = MutableStateFlow<UserMessage?>(null)
    /** The requests to list (one call fills it; the event loop keeps it current). */
    val requests: StateFlow<List<PendingRequest>> = vouch.pendingRequests
    /** The request whose "Trust this session?" screen is open, if any. */
    val selected: StateFlow<TrustThisSession?> = _selected.asStateFlow()
    /** Why the list could not be refreshed (it keeps what it had), if it could not. */
    val listError: StateFlow<UserMessage?> = _listError.asStateFlow()

    fun refresh(): Job = scope.launch {
        _listError.value = try {
            vouch.refreshPendingRequests()
            null
        } catch (e: VouchError) {
            e.userMessage
        }
    }

    /** Opens a request's details (the only place a code is entered). */
    fun open(requestId: String): Job = scope.launch {
        val request = requests.value.firstOrNull { it.requestId == requestId }
            ?: try {
                vouch.refreshPendingRequests().firstOrNull { it.requestId == requestId }
            } catch (e: VouchError) {
                _listError.value = e.userMessage
                null
            }
        _selected.value = request?.let { TrustThisSession(it) }
    }

    /** Back to the list. */
    fun close() {
        _selected.value = null
    }

    /** Approve with the code the person typed (the new device must be showing it). */
    fun approve(code: String): Job {
        val s = _selected.value
        // A code is six digits (spaces and dashes aside): say so before any run is spent.
        if (s != null && code.count { it.isDigit() } != 6) {
            _selected.value = s.copy(error = UserMessage("approval.code_is_six_digits"))
            return Job().apply { complete() }
        }
        return decide { vouch.approve(it, code) }
    }

    /** Approve with the QR text this app's camera scanned on this screen. */
    fun approveScanned(scanned: String): Job = decide { vouch.approveScanned(it, scanned) }

    /** Deny always works (no code, no user presence). */
    fun deny(): Job = scope.launch {
        val s = _selected.value ?: return@launch
        try {
            vouch.deny(s.request.requestId)
            _selected.value = null
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _selected.value = s.copy(error = UserMessage.of(e))
        }
    }

    private fun decide(run: suspend (String) -> Unit): Job = scope.launch {
        val s = _selected.value ?: return@launch
        _selected.value = s.copy(waitingForDevice = true, error = null)
        _selected.value = try {
            run(s.request.requestId)
            s.copy(waitingForDevice = false, approved = true, error = null)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            s.copy(waitingForDevice = false, error = UserMessage.of(e))
        }
    }
}
