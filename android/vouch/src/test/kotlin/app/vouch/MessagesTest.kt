package app.vouch

import app.vouch.ffi.RecoveryWordsProblem
import app.vouch.ffi.VouchException
import kotlinx.coroutines.CancellationException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File

/** Errors people can read: one key per case, each with a string, the same keys as iOS. */
class MessagesTest {
    private val strings: Map<String, String> = Regex("""<string name="([^"]+)"[^>]*>(.*?)</string>""")
        .findAll(File("android/vouch/src/main/res/values/strings.xml").readText())
        .associate { it.groupValues[1] to it.groupValues[2] }

    /** The text Android would show (`%1$s`… replaced), from the library's strings.xml. */
    private fun text(m: UserMessage): String {
        var t = strings[m.resourceName] ?: error("no string ${m.resourceName} for ${m.key}")
        m.arguments.forEachIndexed { i, a -> t = t.replace("%${i + 1}\$s", a) }
        return t.replace("\\'", "'")
    }

    private val every: List<VouchException> = listOf(
        VouchException.Offline(), VouchException.ServerFailed(502u), VouchException.WrongCode(2u), VouchException.WrongCode(null),
        VouchException.CodeExpired(), VouchException.CodeLocked(), VouchException.TooManyRequests(30uL),
        VouchException.TooManyRequests(null), VouchException.DeviceLimitReached("detail=20 devices"),
        VouchException.DeviceNameTaken(), VouchException.InvalidCredentials(), VouchException.CodeMismatch(),
        VouchException.NoAnswer(), VouchException.CodeUsedUp(), VouchException.UserPresenceRequired(),
        VouchException.ApprovalFailed(), VouchException.InvalidQrCode(), VouchException.KeyHolderRequired(),
        VouchException.KeyConflict(), VouchException.AlreadyDecided(), VouchException.RequestExpired(),
        VouchException.ChainRefused("a link of the chain is out of order"), VouchException.InvalidRecoveryWords(RecoveryWordsProblem.UnknownWord(7u)),
        VouchException.InvalidRecoveryWords(RecoveryWordsProblem.WrongCount(23u)), VouchException.InvalidRecoveryWords(RecoveryWordsProblem.Checksum),
        VouchException.RecoveryKeyNotOnChain(),
        VouchException.DeviceWiped(), VouchException.DeviceDisabled(), VouchException.InvalidState("reason=r"),
        VouchException.UntrustedCertificate(), VouchException.CertificatePinMismatch(),
        VouchException.InsecureTransport(), VouchException.InvalidInput("reason=r"),
        VouchException.Server("forbidden", "detail=d"), VouchException.KeyStore("reason=r"),
        VouchException.Storage("reason=r"), VouchException.Internal("reason=r"),
    )

    @Test
    fun `every VouchException case has its own key and a string without field dumps`() {
        val keys = mutableSetOf<String>()
        for (e in every) {
            val m = UserMessage.of(e)
            assertTrue(m.key.startsWith("error."), m.key)
            val t = text(m)
            assertTrue(t.isNotBlank())
            assertFalse(t.contains("=") || t.contains("detail") || t.contains("reason"), "no field dump: $t")
            keys.add(m.key)
        }
        assertEquals(every.size, keys.size, "one key per case: $keys")
        assertEquals("Wrong code. 2 attempt(s) left.", text(UserMessage.of(VouchException.WrongCode(2u))))
        assertEquals("Wrong code.", text(UserMessage.of(VouchException.WrongCode(null))), "no invented count")
        assertEquals("Too many tries. Try again in 30 s.", text(UserMessage.of(VouchException.TooManyRequests(30uL))))
        assertEquals(
            "Word 7 is not a word of the recovery key. Check its spelling.",
            text(UserMessage.of(VouchException.InvalidRecoveryWords(RecoveryWordsProblem.UnknownWord(7u)))),
        )
        assertEquals(
            "A recovery key has 24 words; you entered 23.",
            text(UserMessage.of(VouchException.InvalidRecoveryWords(RecoveryWordsProblem.WrongCount(23u)))),
        )
        assertEquals(UserMessage("error.cancelled"), UserMessage.of(CancellationException()))
        assertEquals(UserMessage("error.unexpected"), UserMessage.of(IllegalStateException("x")))
    }

    @Test
    fun `the facade error keeps the generated one as its cause and a wiped device is told from a disabled one`() {
        val e = VouchError.from(VouchException.DeviceLimitReached("You have 20 devices; disable one"))
        assertTrue(e is VouchError.DeviceLimitReached)
        assertTrue(e.cause is VouchException.DeviceLimitReached)
        assertEquals("error.device_limit_reached", e.message)
        assertEquals(UserMessage("error.device_wiped"), VouchError.from(VouchException.DeviceWiped()).userMessage)
        assertEquals(UserMessage("error.device_disabled"), VouchError.from(VouchException.DeviceDisabled()).userMessage)
        assertEquals(null, (VouchError.from(VouchException.TooManyRequests(null)) as VouchError.TooManyRequests).retryAfterSecs)
    }

    @Test
    fun `the flows' own keys have strings and the error keys are the iOS ones`() {
        for (k in listOf(
            "setup.denied", "setup.expired", "setup.not_approved", "setup.cancelled", "approval.code_is_six_digits",
            "error.cancelled", "error.unexpected", "devices.disable_needs_web", "devices.disable_needs_key_holder",
            "devices.disable_needs_trusted",
        )) {
            assertTrue(text(UserMessage(k)).isNotBlank(), k)
        }
        val ios = Regex("""^"([a-z_.]+)"\s*=""", RegexOption.MULTILINE)
            .findAll(File("ios/Sources/VouchKit/Resources/en.lproj/Localizable.strings").readText())
            .map { it.groupValues[1] }.filter { it.startsWith("error.") }.toSet()
        val android = strings.keys.filter { it.startsWith("error_") }.toSet()
        // Android says everything iOS says (and the cases iOS has no screen for yet).
        val missing = ios.map { it.replace('.', '_') }.toSet() - android
        assertEquals(emptySet<String>(), missing, "iOS error keys without an Android string")
    }
}
