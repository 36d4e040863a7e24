package app.vouch

import app.vouch.ffi.RecoveryWordsProblem
import app.vouch.ffi.VouchException
import kotlinx.coroutines.CancellationException

/**
 * What a screen says about something: a stable [key] and its [arguments]. The key names
 * are the iOS `UserMessage` keys (`ios/Sources/VouchKit/UserMessage.swift`), so both
 * platforms say the same things. On Android the text is the string resource named
 * [resourceName] (`error.wrong_code` → `R.string.error_wrong_code`, arguments `%1$s`…);
 * `app.vouch.android.text(UserMessage)` looks it up. View models hold [UserMessage]s,
 * never English.
 */
data class UserMessage(val key: String, val arguments: List<String> = emptyList()) {
    /** The Android string resource name of [key] (dots are not allowed there). */
    val resourceName: String get() = key.replace('.', '_')

    companion object {
        /** The message for anything a Vouch call throws (also non-Vouch throwables). */
        fun of(error: Throwable): UserMessage = when (error) {
            is VouchError -> error.userMessage
            is VouchException -> VouchError.from(error).userMessage
            is CancellationException -> UserMessage("error.cancelled")
            else -> UserMessage("error.unexpected")
        }
    }
}

/**
 * Every failure of a [Vouch] call, one case per thing a screen reacts to differently, each
 * with a user-facing [userMessage] key (never uniffi's field dump). The facade turns the
 * generated `VouchException` into this; [cause] keeps the original for logs.
 */
sealed class VouchError(
    val userMessage: UserMessage,
    cause: VouchException? = null,
) : Exception(userMessage.key, cause) {
    /** The server cannot be reached; reads work, writes are queued. */
    class Offline(cause: VouchException? = null) : VouchError(UserMessage("error.offline"), cause)
    /** The server failed without an answer (HTTP [status]); like [Offline], try again later. */
    class ServerFailed(val status: Int, cause: VouchException? = null) :
        VouchError(UserMessage("error.server_failed"), cause)
    /** The email code is wrong; [attemptsLeft] when the server said (null otherwise). */
    class WrongCode(val attemptsLeft: Int?, cause: VouchException? = null) : VouchError(
        if (attemptsLeft != null) UserMessage("error.wrong_code", listOf("$attemptsLeft")) else UserMessage("error.wrong_code_no_count"),
        cause,
    )
    /** The email code expired (5 minutes) or was used up: ask for a new one. */
    class CodeExpired(cause: VouchException? = null) : VouchError(UserMessage("error.code_expired"), cause)
    /** Too many wrong codes: code verification is locked for the account. */
    class CodeLocked(cause: VouchException? = null) : VouchError(UserMessage("error.code_locked"), cause)
    /** Throttled; [retryAfterSecs] when the server said how long. */
    class TooManyRequests(val retryAfterSecs: Long?, cause: VouchException? = null) : VouchError(
        if (retryAfterSecs != null) UserMessage("error.too_many_requests", listOf("$retryAfterSecs")) else UserMessage("error.too_many_requests_no_time"),
        cause,
    )
    /** At the device limit: disable one (from a web device) first. */
    class DeviceLimitReached(cause: VouchException? = null) : VouchError(UserMessage("error.device_limit_reached"), cause)
    class DeviceNameTaken(cause: VouchException? = null) : VouchError(UserMessage("error.device_name_taken"), cause)
    class InvalidCredentials(cause: VouchException? = null) : VouchError(UserMessage("error.invalid_credentials"), cause)
    /** The approval code does not match the new device's; nothing was sealed. */
    class CodeMismatch(cause: VouchException? = null) : VouchError(UserMessage("error.code_mismatch"), cause)
    class NoAnswer(cause: VouchException? = null) : VouchError(UserMessage("error.no_answer"), cause)
    /** The new device's code is used up: "Get a new code" there. */
    class CodeUsedUp(cause: VouchException? = null) : VouchError(UserMessage("error.code_used_up"), cause)
    class UserPresenceRequired(cause: VouchException? = null) : VouchError(UserMessage("error.user_presence_required"), cause)
    class ApprovalFailed(cause: VouchException? = null) : VouchError(UserMessage("error.approval_failed"), cause)
    class InvalidQrCode(cause: VouchException? = null) : VouchError(UserMessage("error.invalid_qr_code"), cause)
    /** This device was verified by email only: ask a key holder for the vault keys. */
    class KeyHolderRequired(cause: VouchException? = null) : VouchError(UserMessage("error.key_holder_required"), cause)
    class KeyConflict(cause: VouchException? = null) : VouchError(UserMessage("error.key_conflict"), cause)
    /** The list of key holders the server sent does not verify: nothing in it was used or sealed to. */
    class ChainRefused(cause: VouchException? = null) : VouchError(UserMessage("error.chain_refused"), cause)
    /**
     * The words are not a recovery key; [problem] says what to fix (a word not on the list
     * and which, the count, or a word mistyped as another one: the checksum). Found on the
     * device, no server asked; no word is repeated.
     */
    class InvalidRecoveryWords(val problem: RecoveryWordsProblem, cause: VouchException? = null) : VouchError(
        when (problem) {
            is RecoveryWordsProblem.UnknownWord -> UserMessage("error.recovery_word_unknown", listOf("${problem.position}"))
            is RecoveryWordsProblem.WrongCount -> UserMessage("error.recovery_words_count", listOf("${problem.count}"))
            is RecoveryWordsProblem.Checksum -> UserMessage("error.recovery_words_checksum")
        },
        cause,
    )
    /** The words are a recovery key, but not one of this user's (replaced or revoked). */
    class RecoveryKeyNotOnChain(cause: VouchException? = null) : VouchError(UserMessage("error.recovery_key_not_on_chain"), cause)
    class AlreadyDecided(cause: VouchException? = null) : VouchError(UserMessage("error.already_decided"), cause)
    class RequestExpired(cause: VouchException? = null) : VouchError(UserMessage("error.request_expired"), cause)
    /** Disabled, and the core wiped the keys and items. */
    class DeviceWiped(cause: VouchException? = null) : VouchError(UserMessage("error.device_wiped"), cause)
    /** Disabled by the server's word; nothing was wiped on this call. */
    class DeviceDisabled(cause: VouchException? = null) : VouchError(UserMessage("error.device_disabled"), cause)
    class InvalidState(val reason: String, cause: VouchException? = null) : VouchError(UserMessage("error.invalid_state"), cause)
    class UntrustedCertificate(cause: VouchException? = null) : VouchError(UserMessage("error.untrusted_certificate"), cause)
    class CertificatePinMismatch(cause: VouchException? = null) : VouchError(UserMessage("error.certificate_pin_mismatch"), cause)
    /** The server URL is plain http:// to a host that is not loopback. */
    class InsecureTransport(cause: VouchException? = null) : VouchError(UserMessage("error.insecure_transport"), cause)
    class InvalidInput(val reason: String, cause: VouchException? = null) : VouchError(UserMessage("error.invalid_input"), cause)
    /** Another refusal by the server; [code] is its v1 code (for logs, not for screens). */
    class Server(val code: String, cause: VouchException? = null) : VouchError(UserMessage("error.server"), cause)
    class KeyStore(cause: VouchException? = null) : VouchError(UserMessage("error.key_store"), cause)
    class Storage(cause: VouchException? = null) : VouchError(UserMessage("error.storage"), cause)
    /** A bug (or a caught panic in Rust). */
    class Internal(cause: VouchException? = null) : VouchError(UserMessage("error.internal"), cause)

    companion object {
        /** The case of a generated exception (every case has its own). */
        fun from(e: VouchException): VouchError = when (e) {
            is VouchException.Offline -> Offline(e)
            is VouchException.ServerFailed -> ServerFailed(e.status.toInt(), e)
            is VouchException.WrongCode -> WrongCode(e.attemptsLeft?.toInt(), e)
            is VouchException.CodeExpired -> CodeExpired(e)
            is VouchException.CodeLocked -> CodeLocked(e)
            is VouchException.TooManyRequests -> TooManyRequests(e.retryAfterSecs?.toLong(), e)
            is VouchException.DeviceLimitReached -> DeviceLimitReached(e)
            is VouchException.DeviceNameTaken -> DeviceNameTaken(e)
            is VouchException.InvalidCredentials -> InvalidCredentials(e)
            is VouchException.CodeMismatch -> CodeMismatch(e)
            is VouchException.NoAnswer -> NoAnswer(e)
            is VouchException.CodeUsedUp -> CodeUsedUp(e)
            is VouchException.UserPresenceRequired -> UserPresenceRequired(e)
            is VouchException.ApprovalFailed -> ApprovalFailed(e)
            is VouchException.InvalidQrCode -> InvalidQrCode(e)
            is VouchException.KeyHolderRequired -> KeyHolderRequired(e)
            is VouchException.KeyConflict -> KeyConflict(e)
            is VouchException.ChainRefused -> ChainRefused(e)
            is VouchException.InvalidRecoveryWords -> InvalidRecoveryWords(e.problem, e)
            is VouchException.RecoveryKeyNotOnChain -> RecoveryKeyNotOnChain(e)
            is VouchException.AlreadyDecided -> AlreadyDecided(e)
            is VouchException.RequestExpired -> RequestExpired(e)
            is VouchException.DeviceWiped -> DeviceWiped(e)
            is VouchException.DeviceDisabled -> DeviceDisabled(e)
            is VouchException.InvalidState -> InvalidState(e.reason, e)
            is VouchException.UntrustedCertificate -> UntrustedCertificate(e)
            is VouchException.CertificatePinMismatch -> CertificatePinMismatch(e)
            is VouchException.InsecureTransport -> InsecureTransport(e)
            is VouchException.InvalidInput -> InvalidInput(e.reason, e)
            is VouchException.Server -> Server(e.code, e)
            is VouchException.KeyStore -> KeyStore(e)
            is VouchException.Storage -> Storage(e)
            is VouchException.Internal -> Internal(e)
        }
    }
}
