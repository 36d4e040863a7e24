package app.vouch

import app.vouch.ffi.ConsoleSession
import app.vouch.ffi.ConsoleStatus
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.launch

/**
 * "Approve a web console sign-in?" for one waiting browser: what it is (browser, address,
 * time, flagged when it signed in from another network), [warning] above the code field,
 * and what went wrong. The code is the six digits the browser shows; it is typed here only.
 */
data class ApproveConsole(
    val session: ConsoleSession,
    val warning: String = Vouch.approverWarning(),
    val working: Boolean = false,
    val error: UserMessage? = null,
    val approved: Boolean = false,
    /** The sign-in ended (too many wrong codes, expired, ended elsewhere): the browser must sign in again. */
    val ended: Boolean = false,
) {
    /** It signed in from another network than this device's: flag it. */
    val otherNetwork: Boolean get() = session.otherNetwork
}

/**
 * The web console's sign-ins on a key holder, as a plain-Kotlin state machine (the androidx
 * `ConsoleViewModel` runs it): the waiting browsers ([waiting], kept current by the event
 * loop's `console_requested`), one opened with its details before the code field ([open]),
 * Approve with the code (on phones after the OS's user presence, inside the call), and
 * ending a session. The browser never gets a key: it manages devices with this device's
 * powers and ends when this device is disabled.
 */
class ConsoleFlow(private val vouch: Vouch, private val scope: CoroutineScope) {
    private val _selected = MutableStateFlow<ApproveConsole?>(null)
    private val _listError = MutableStateFlow<UserMessage?>(null)
    /** Every console session of the user (pending and active). */
    val sessions: StateFlow<List<ConsoleSession>> = vouch.consoleSessions
    /** The browsers waiting for approval (collect with an empty list as the initial value). */
    val waiting: Flow<List<ConsoleSession>> = vouch.consoleSessions
        .map { all -> all.filter { it.status == ConsoleStatus.PENDING } }
    /** The sign-in whose "Approve a web console sign-in?" screen is open, if any. */
    val selected: StateFlow<ApproveConsole?> = _selected.asStateFlow()
    /** Why the list could not be refreshed (it keeps what it had), if it could not. */
    val listError: StateFlow<UserMessage?> = _listError.asStateFlow()

    /** Loads the list (one call; an email-only device is told [VouchError.KeyHolderRequired]'s message). */
    fun refresh(): Job = scope.launch {
        _listError.value = try {
            vouch.refreshConsoleSessions()
            null
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            UserMessage.of(e)
        }
    }

    /** Opens a waiting sign-in's details (the only place its code is entered). */
    fun open(sessionId: String) {
        _selected.value = sessions.value.firstOrNull { it.id == sessionId && it.status == ConsoleStatus.PENDING }
            ?.let { ApproveConsole(it) }
    }

    /** Back to the list. */
    fun close() {
        _selected.value = null
    }

    /** Approve with the code the person typed (the six digits the browser shows). */
    fun approve(code: String): Job = scope.launch {
        val s = _selected.value ?: return@launch
        if (code.count { it.isDigit() } != 6) {
            _selected.value = s.copy(error = UserMessage("approval.code_is_six_digits"))
            return@launch
        }
        _selected.value = s.copy(working = true, error = null)
        _selected.value = try {
            vouch.approveConsole(s.session.id, code)
            s.copy(working = false, approved = true, error = null)
        } catch (e: CancellationException) {
            throw e
        } catch (e: VouchError.CodeExpired) {
            s.copy(working = false, ended = true, error = UserMessage("console.sign_in_ended"))
        } catch (e: VouchError.RequestExpired) {
            s.copy(working = false, ended = true, error = UserMessage("console.sign_in_ended"))
        } catch (e: Exception) {
            s.copy(working = false, error = UserMessage.of(e))
        }
        refresh()
    }

    /** Ends a console session (a waiting browser that is not the person's, or an active one). */
    fun end(sessionId: String): Job = scope.launch {
        try {
            vouch.revokeConsole(sessionId)
            if (_selected.value?.session?.id == sessionId) _selected.value = null
            vouch.refreshConsoleSessions()
            _listError.value = null
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _listError.value = UserMessage.of(e)
        }
    }
}
