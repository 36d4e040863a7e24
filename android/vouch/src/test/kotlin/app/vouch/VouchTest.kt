package app.vouch

import app.vouch.ffi.ApprovalPurpose
import app.vouch.ffi.DeviceKind
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.LogLevel
import app.vouch.ffi.Tier
import app.vouch.ffi.TlsPolicy
import app.vouch.ffi.Verification
import app.vouch.ffi.VerifiedBy
import app.vouch.ffi.VouchException
import app.vouch.ffi.VouchLogger
import app.vouch.ffi.coreVersion
import app.vouch.ffi.panicProbe
import app.vouch.ffi.pingAsync
import app.vouch.ffi.setLogger
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger

const val ALICE = "alice@acme.test"

class VouchTest {
    @Test
    fun `email code enrollment from Kotlin`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { v ->
                assertEquals(EnrollmentState.SignedOut, v.state.value)
                val s = v.signIn(ALICE, PASSWORD)
                assertTrue(s is EnrollmentState.Untrusted)
                assertEquals("alice Pixel 8 - Android 15/Vouch", v.defaultDeviceName())
                v.registerDevice(v.defaultDeviceName())
                val sent = v.requestEmailCode()
                assertTrue((sent as EnrollmentState.Verifying).verification is Verification.EmailCode)
                val trusted = v.submitEmailCode(server.latestCode(ALICE))
                assertEquals(VerifiedBy.EMAIL_CODE, (trusted as EnrollmentState.Trusted).verifiedBy)
                assertEquals(Tier.KEY_HOLDER, (trusted as EnrollmentState.Trusted).tier, "the first device of a user is its first key holder")
                assertTrue(v.state.value is EnrollmentState.Trusted, "the StateFlow follows")
            }
        }
    }

    @Test
    fun `number matched approval between two clients and the secret travels`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    val vault = phone.createVault("Personal")
                    val item = phone.putItem(vault.id, "hunter2".toByteArray())
                    laptop.signIn(ALICE, PASSWORD)
                    laptop.registerDevice("Laptop")
                    val prompt = laptop.startApproval()
                    assertEquals(2, prompt.number.length)
                    val waiter = async(Dispatchers.IO) { laptop.waitForApproval() }
                    val pending = phone.refreshPendingRequests()
                    assertEquals(prompt.requestId, pending.single().requestId)
                    assertEquals(prompt.phrase, pending.single().phrase)
                    assertEquals(ApprovalPurpose.ENROLLMENT, pending.single().purpose)
                    phone.approve(prompt.requestId, prompt.number)
                    val state = withTimeout(20_000) { waiter.await() }
                    assertEquals(VerifiedBy.APPROVAL, (state as EnrollmentState.Trusted).verifiedBy)
                    laptop.sync()
                    assertArrayEquals("hunter2".toByteArray(), laptop.getItem(vault.id, item.itemId))
                }
            }
        }
    }

    @Test
    fun `QR approval`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    laptop.signIn(ALICE, PASSWORD)
                    laptop.registerDevice("Laptop")
                    val prompt = laptop.startApproval()
                    assertTrue(prompt.qrPayload.startsWith("VOUCH1:"))
                    phone.approveQr(prompt.qrPayload)
                    val s = laptop.waitForApproval()
                    assertEquals(VerifiedBy.QR_APPROVAL, (s as EnrollmentState.Trusted).verifiedBy)
                }
            }
        }
    }

    @Test
    fun `wrong email code is a typed exception with attempts left`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { v ->
                v.signIn(ALICE, PASSWORD)
                v.registerDevice("Phone")
                v.requestEmailCode()
                val code = server.latestCode(ALICE)
                val wrong = if (code == "000000") "111111" else "000000"
                val e = assertThrows<VouchException.WrongCode> { runBlocking { v.submitEmailCode(wrong) } }
                assertEquals(4u, e.attemptsLeft)
                assertThrows<VouchException.TooManyRequests> { runBlocking { v.requestEmailCode() } }
            }
        }
    }

    @Test
    fun `device limit reached is a typed exception`(): Unit = runBlocking {
        TestServer("--device-limit", "1").use { server ->
            openVouch(server).use { first ->
                first.signIn(ALICE, PASSWORD)
                first.registerDevice("One")
            }
            openVouch(server).use { second ->
                second.signIn(ALICE, PASSWORD)
                val e = assertThrows<VouchException.DeviceLimitReached> { runBlocking { second.registerDevice("Two") } }
                assertTrue(e.detail.contains("disable one"))
            }
        }
    }

    @Test
    fun `wrong number is a typed exception and the request stays pending`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    laptop.signIn(ALICE, PASSWORD)
                    laptop.registerDevice("Laptop")
                    val prompt = laptop.startApproval()
                    phone.refreshPendingRequests()
                    val wrong = "%02d".format((prompt.number.toInt() + 1) % 100)
                    assertThrows<VouchException.WrongNumber> { runBlocking { phone.approve(prompt.requestId, wrong) } }
                    assertEquals(1, phone.refreshPendingRequests().size)
                    phone.deny(prompt.requestId)
                    assertTrue(laptop.waitForApproval() is EnrollmentState.Denied)
                }
            }
        }
    }

    @Test
    fun `a SecretStore written in Kotlin is called from Rust and guards the profile`(): Unit = runBlocking {
        TestServer().use { server ->
            val store = JvmSecretStore()
            val profile = tempProfile()
            openVouch(server, store = store, profile = profile).use { v -> enrollByEmail(v, server, ALICE) }
            assertEquals(1, store.wraps.get(), "the database key was wrapped once")
            openVouch(server, store = store, profile = profile).use { v ->
                assertTrue(v.state.value is EnrollmentState.Trusted, "reopened with the same key store")
            }
            assertTrue(store.unwraps.get() >= 1)
            // Another key store cannot open the profile: a typed key-store error.
            assertThrows<VouchException.KeyStore> { openVouch(server, store = JvmSecretStore(), profile = profile) }
        }
    }

    @Test
    fun `the listener implemented in Kotlin sees every transition`(): Unit = runBlocking {
        TestServer().use { server ->
            val seen = Collections.synchronizedList(mutableListOf<String>())
            openVouch(server).use { v ->
                val job = launch(Dispatchers.IO) { v.state.collect { seen.add(it::class.simpleName ?: "?") } }
                enrollByEmail(v, server, ALICE)
                withTimeout(5_000) { v.state.first { it is EnrollmentState.Trusted } }
                withTimeout(5_000) { while (seen.lastOrNull() != "Trusted") delay(10) }
                job.cancel()
            }
            assertEquals("Trusted", seen.last())
            assertTrue(seen.contains("Verifying"))
        }
    }

    @Test
    fun `cancelling a coroutine waiting for approval stops the wait and the client stays usable`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server, DeviceKind.WEB).use { laptop ->
                laptop.signIn(ALICE, PASSWORD)
                laptop.registerDevice("Laptop")
                val prompt = laptop.startApproval()
                val waiter = launch(Dispatchers.IO) { laptop.waitForApproval() }
                delay(300)
                waiter.cancel()
                waiter.join()
                assertTrue(waiter.isCancelled)
                val timedOut = withTimeoutOrNull(500) { laptop.waitForApproval() }
                assertNull(timedOut, "still pending")
                assertEquals(prompt.requestId, laptop.client.approvalPrompt()?.requestId)
                // After the cancellations the client still answers, and "no access" switches to email.
                val s = laptop.requestEmailCode()
                assertTrue((s as EnrollmentState.Verifying).verification is Verification.EmailCode)
            }
        }
    }

    @Test
    fun `setup view model walks the screens in order`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    laptop.signIn(ALICE, PASSWORD)
                    val screens = Collections.synchronizedList(mutableListOf<SetupScreen>())
                    val vm = SetupViewModel(laptop, this)
                    val collector = launch(Dispatchers.IO) { vm.screen.collect { screens.add(it) } }
                    delay(50)
                    vm.start()
                    assertEquals(SetupScreen.NameDevice(laptop.defaultDeviceName()), vm.screen.value)
                    vm.submitName("My laptop", byEmail = false).join()
                    val waiting = vm.screen.value as SetupScreen.WaitingForApproval
                    phone.refreshPendingRequests()
                    val requestId = phone.pendingRequests.value.single().requestId
                    phone.approve(requestId, waiting.number)
                    withTimeout(20_000) { vm.screen.first { it == SetupScreen.Trusted } }
                    // The collector runs on another thread: let it record the last screen too.
                    withTimeout(5_000) { while (screens.lastOrNull() != SetupScreen.Trusted) delay(10) }
                    collector.cancel()
                    val kinds = screens.map { it::class.simpleName }.distinct()
                    assertEquals(listOf("Start", "NameDevice", "WaitingForApproval", "Trusted"), kinds)
                }
            }
        }
    }

    @Test
    fun `setup view model with remind me later and the email path`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { v ->
                v.signIn(ALICE, PASSWORD)
                val vm = SetupViewModel(v, this)
                vm.remindMeLater().join()
                assertEquals(SetupScreen.NotSecure, vm.screen.value)
                assertEquals(true, (v.state.value as EnrollmentState.Untrusted).remindedLater)
                vm.start()
                vm.submitName(" ", byEmail = true).join()
                assertTrue(vm.screen.value is SetupScreen.NameDevice && (vm.screen.value as SetupScreen.NameDevice).error != null)
                vm.submitName("Phone", byEmail = true).join()
                assertEquals(SetupScreen.VerifyCode(), vm.screen.value)
                vm.submitCode("999999x").join()
                assertTrue(vm.screen.value is SetupScreen.VerifyCode)
                vm.submitCode(server.latestCode(ALICE)).join()
                assertEquals(SetupScreen.Trusted, vm.screen.value)
            }
        }
    }

    @Test
    fun `offline is a typed exception`(): Unit = runBlocking {
        val v = Vouch.open(tempProfile(), "http://127.0.0.1:9", device(), JvmSecretStore())
        v.use { assertThrows<VouchException.Offline> { runBlocking { it.signIn(ALICE, PASSWORD) } } }
    }

    @Test
    fun `a malformed certificate pin is invalid input at open`(): Unit = runBlocking {
        val badPin = TlsPolicy(pinnedSpkiSha256 = listOf("md5/abc"), extraRootsDer = emptyList())
        assertThrows<VouchException.InvalidInput> {
            Vouch.open(tempProfile(), "https://vouch.example", device(), JvmSecretStore(), badPin)
        }
        val pin = TlsPolicy(listOf("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), emptyList())
        Vouch.open(tempProfile(), "https://vouch.example", device(), JvmSecretStore(), pin).close()
    }

    @Test
    fun `plain http to another host and bad ids are invalid input`(): Unit = runBlocking {
        assertThrows<VouchException.InvalidInput> { Vouch.open(tempProfile(), "http://example.com", device(), JvmSecretStore()) }
        TestServer().use { server ->
            openVouch(server).use { v ->
                enrollByEmail(v, server, ALICE)
                assertThrows<VouchException.InvalidInput> { v.getItem("not-an-id", "x") }
                assertThrows<VouchException.InvalidState> { runBlocking { v.startApproval() } }
            }
        }
    }

    @Test
    fun `a panic in Rust arrives as a typed exception`() {
        val e = assertThrows<VouchException.Internal> { panicProbe() }
        assertTrue(e.reason.contains("internal error"))
        assertEquals(coreVersion(), coreVersion(), "the library still works after the panic")
    }

    @Test
    fun `async calls map to suspend functions`(): Unit = runBlocking {
        assertEquals(42u, pingAsync(42u))
        assertNotEquals("", coreVersion())
    }

    @Test
    fun `log records reach a Kotlin logger`(): Unit = runBlocking {
        val lines = Collections.synchronizedList(mutableListOf<String>())
        setLogger(object : VouchLogger {
            override fun log(level: LogLevel, target: String, message: String) {
                lines.add("$level $target $message")
            }
        }, LogLevel.INFO)
        TestServer().use { server -> openVouch(server).use { v -> v.signIn(ALICE, PASSWORD) } }
        assertTrue(lines.any { it.contains("enrollment state: untrusted") }, lines.toString())
        assertTrue(lines.none { it.contains(PASSWORD) })
    }

    @Test
    fun `vault items round trip and survive reopening`(): Unit = runBlocking {
        TestServer().use { server ->
            val store = JvmSecretStore()
            val profile = tempProfile()
            val (vaultId, itemId) = openVouch(server, store = store, profile = profile).use { v ->
                enrollByEmail(v, server, ALICE)
                val vault = v.createVault("Work")
                val item = v.putItem(vault.id, "token-123".toByteArray())
                assertTrue(item.synced)
                vault.id to item.itemId
            }
            openVouch(server, store = store, profile = profile).use { v ->
                assertEquals(listOf("Work"), v.vaults().map { it.name })
                assertArrayEquals("token-123".toByteArray(), v.getItem(vaultId, itemId))
            }
        }
    }

    @Test
    fun `disable from a web device wipes the phone`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server, DeviceKind.WEB).use { web ->
                openVouch(server).use { phone ->
                    enrollByEmail(web, server, ALICE)
                    enrollByEmail(phone, server, ALICE)
                    val phoneId = (phone.state.value as EnrollmentState.Trusted).deviceId
                    val events = launch(Dispatchers.IO) { phone.runEvents() }
                    web.client.disableDevice(phoneId)
                    withTimeout(15_000) { phone.state.first { it == EnrollmentState.Wiped } }
                    events.join()
                    assertThrows<VouchException.DeviceWiped> { phone.vaults() }
                }
            }
        }
    }
}
