package app.vouch

import app.vouch.ffi.ApprovalPurpose
import app.vouch.ffi.DeviceKind
import app.vouch.ffi.DeviceStatus
import app.vouch.ffi.EnrollmentState
import app.vouch.ffi.SecretStore
import app.vouch.ffi.Tier
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.newSingleThreadContext
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.time.Instant
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger

/** The setup, approval and devices state machines against real servers, and the error keys. */
class SetupFlowTest {
    /** A profile and its key store, reopened as an app restart would. */
    private class Install(val server: TestServer, val kind: DeviceKind = DeviceKind.MOBILE) {
        val store = JvmSecretStore()
        val profile = tempProfile()
        fun open() = openVouch(server, kind, store = store, profile = profile)
    }

    private suspend fun resumed(v: Vouch, scope: CoroutineScope): SetupFlow =
        SetupFlow(v, scope).also { it.resume().join() }

    /** Runs [block] with a scope of its own, cancelled after it (an app process that ends). */
    private suspend fun <T> process(block: suspend (CoroutineScope) -> T): T {
        val job = SupervisorJob()
        try {
            return block(CoroutineScope(Dispatchers.Default + job))
        } finally {
            job.cancelAndJoin()
        }
    }

    /** A key store that records the threads it is called on. */
    private class ThreadRecordingStore : SecretStore {
        private val inner = JvmSecretStore()
        val threads: MutableList<String> = Collections.synchronizedList(mutableListOf())
        override fun wrapSecret(label: String, secret: ByteArray): ByteArray {
            threads.add(Thread.currentThread().name)
            return inner.wrapSecret(label, secret)
        }
        override fun unwrapSecret(label: String, wrapped: ByteArray): ByteArray {
            threads.add(Thread.currentThread().name)
            return inner.unwrapSecret(label, wrapped)
        }
        override fun deleteSecret(label: String) = inner.deleteSecret(label)
    }

    @Test
    fun `resume when signed out shows sign-in, when signed in shows Start`(): Unit = runBlocking {
        TestServer().use { server ->
            val phone = Install(server)
            phone.open().use { v -> assertEquals(SetupScreen.SignedOut(), resumed(v, this).screen.value) }
            phone.open().use { v ->
                val flow = resumed(v, this)
                flow.signIn(ALICE, "wrong password").join()
                assertEquals(SetupScreen.SignedOut(UserMessage("error.invalid_credentials")), flow.screen.value)
                flow.signIn(ALICE, PASSWORD).join()
                assertEquals(SetupScreen.Start(), flow.screen.value)
            }
            phone.open().use { v ->
                assertEquals(SetupScreen.Start(), resumed(v, this).screen.value)
                assertFalse(v.state.value.showsNotSecureBanner)
            }
        }
    }

    @Test
    fun `the not-secure banner after remind me later survives a restart`(): Unit = runBlocking {
        TestServer().use { server ->
            val phone = Install(server)
            phone.open().use { v ->
                v.signIn(ALICE, PASSWORD)
                val flow = resumed(v, this)
                flow.remindMeLater().join()
                assertEquals(SetupScreen.NotSecure, flow.screen.value)
            }
            phone.open().use { v ->
                assertTrue(v.state.value.showsNotSecureBanner, "banner after the restart")
                val flow = resumed(v, this)
                assertEquals(SetupScreen.NotSecure, flow.screen.value)
                // Setup stays reachable from the profile.
                flow.start().join()
                assertEquals(SetupScreen.NameDevice("alice Pixel 8 - Android 15/Vouch"), flow.screen.value)
            }
        }
    }

    @Test
    fun `resume a registered device to verify your identity, then the email path`(): Unit = runBlocking {
        TestServer().use { server ->
            val phone = Install(server)
            phone.open().use { v ->
                v.signIn(ALICE, PASSWORD)
                v.registerDevice("Phone")
            }
            phone.open().use { v ->
                val flow = resumed(v, this)
                assertEquals(SetupScreen.VerifyIdentity("Phone"), flow.screen.value)
                flow.noAccessToTrustedDevice().join()
                val code = flow.screen.value as SetupScreen.VerifyCode
                // Five minutes from now (the dev server's clock is this machine's).
                assertTrue(code.secondsLeft(Instant.now()) in 240L..300L, "${code.expiresAt}")
                assertTrue(code.resendInSeconds(Instant.now()) > 0, "resend is throttled at first")
                flow.submitCode(server.latestCode(ALICE)).join()
                assertEquals(SetupScreen.Trusted(), flow.screen.value)
            }
        }
    }

    @Test
    fun `resume while waiting for an email code keeps its expiry`(): Unit = runBlocking {
        TestServer().use { server ->
            val phone = Install(server)
            val expiresAt = phone.open().use { v ->
                v.signIn(ALICE, PASSWORD)
                val flow = resumed(v, this)
                flow.start().join()
                flow.submitName("Phone", byEmail = true).join()
                (flow.screen.value as SetupScreen.VerifyCode).expiresAt
            }
            assertNotNull(expiresAt)
            phone.open().use { v ->
                val flow = resumed(v, this)
                assertEquals(SetupScreen.VerifyCode(expiresAt, (flow.screen.value as SetupScreen.VerifyCode).resendAfter), flow.screen.value)
                flow.submitCode(server.latestCode(ALICE)).join()
                assertEquals(SetupScreen.Trusted(), flow.screen.value)
            }
        }
    }

    @Test
    fun `resume while waiting for approval shows the same code and waits to trusted`(): Unit = runBlocking {
        TestServer().use { server ->
            val laptop = Install(server, DeviceKind.WEB)
            openVouch(server).use { phone ->
                enrollByEmail(phone, server, ALICE)
                val code = laptop.open().use { v ->
                    process { scope ->
                        v.signIn(ALICE, PASSWORD)
                        val flow = resumed(v, scope)
                        flow.start().join()
                        flow.submitName("Laptop", byEmail = false).join()
                        (flow.screen.value as SetupScreen.WaitingForApproval).code
                    }
                }
                laptop.open().use { v ->
                    val flow = resumed(v, this)
                    val waiting = flow.screen.value as SetupScreen.WaitingForApproval
                    assertEquals(code, waiting.code, "the same code after the restart")
                    assertEquals(ApprovalPurpose.ENROLL, waiting.purpose)
                    assertNotNull(waiting.expiresAt)
                    val request = phone.refreshPendingRequests().single()
                    phone.approve(request.requestId, code)
                    withTimeout(20_000) { flow.screen.first { it == SetupScreen.Trusted() } }
                }
            }
        }
    }

    @Test
    fun `an expired email code is shown and a new one works`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { v ->
                v.signIn(ALICE, PASSWORD)
                val flow = resumed(v, this)
                flow.start().join()
                flow.submitName("Phone", byEmail = true).join()
                val first = flow.screen.value as SetupScreen.VerifyCode
                val code = server.latestCode(ALICE)
                server.advanceClock(301)
                flow.submitCode(code).join()
                val expired = flow.screen.value as SetupScreen.VerifyCode
                assertTrue(expired.expired)
                assertEquals(UserMessage("error.code_expired"), expired.error)
                flow.resendCode().join()
                val fresh = flow.screen.value as SetupScreen.VerifyCode
                assertFalse(fresh.expired)
                assertNull(fresh.error)
                assertTrue(fresh.expiresAt!! > first.expiresAt!!, "a new expiry")
                flow.submitCode(server.latestCode(ALICE)).join()
                assertEquals(SetupScreen.Trusted(), flow.screen.value)
            }
        }
    }

    @Test
    fun `resend is throttled and says when, keeping the code screen`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { v ->
                v.signIn(ALICE, PASSWORD)
                val flow = resumed(v, this)
                flow.start().join()
                flow.submitName("Phone", byEmail = true).join()
                val before = flow.screen.value as SetupScreen.VerifyCode
                flow.resendCode().join()
                val after = flow.screen.value as SetupScreen.VerifyCode
                assertEquals(before.expiresAt, after.expiresAt, "the code sent before still counts down")
                val error = after.error!!
                assertTrue(error.key == "error.too_many_requests" || error.key == "error.too_many_requests_no_time", error.key)
                // A wrong code: the server's count, not an invented one.
                val wrong = if (server.latestCode(ALICE) == "000000") "111111" else "000000"
                flow.submitCode(wrong).join()
                val wrongScreen = flow.screen.value as SetupScreen.VerifyCode
                assertEquals(4, wrongScreen.attemptsLeft)
                assertEquals(UserMessage("error.wrong_code", listOf("4")), wrongScreen.error)
            }
        }
    }

    @Test
    fun `the device limit is explained and disabling one from a web device lets setup go on`(): Unit = runBlocking {
        TestServer("--device-limit", "2").use { server ->
            openVouch(server, DeviceKind.WEB).use { web ->
                enrollByEmail(web, server, ALICE)
                val old = openVouch(server).use { v ->
                    v.signIn(ALICE, PASSWORD)
                    v.registerDevice("Old phone")
                    (v.state.value as EnrollmentState.Verifying).deviceId
                }
                openVouch(server).use { phone ->
                    phone.signIn(ALICE, PASSWORD)
                    val flow = resumed(phone, this)
                    flow.start().join()
                    flow.submitName("New phone", byEmail = true).join()
                    assertEquals(SetupScreen.DeviceLimit("New phone", byEmail = true), flow.screen.value)

                    val devices = DevicesFlow(web, this)
                    devices.refresh().join()
                    assertEquals(2, devices.screen.value.active.size)
                    assertNotNull(devices.screen.value.thisDeviceId)
                    devices.disable(old, alsoApproved = false).join()
                    assertNull(devices.screen.value.error)
                    assertEquals(listOf(old), devices.screen.value.lastDisabled)
                    assertEquals(DeviceStatus.DISABLED, devices.screen.value.devices.single { it.id == old }.status)

                    flow.submitName("New phone", byEmail = true).join()
                    assertTrue(flow.screen.value is SetupScreen.VerifyCode, "${flow.screen.value}")
                }
            }
        }
    }

    @Test
    fun `an email-only device or a phone may not disable devices and is told why`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    enrollByEmail(laptop, server, ALICE)
                    val devices = DevicesFlow(laptop, this)
                    devices.refresh().join()
                    val phoneId = (phone.state.value as EnrollmentState.Trusted).deviceId
                    devices.disable(phoneId, alsoApproved = true).join()
                    assertEquals(UserMessage("devices.disable_needs_key_holder"), devices.screen.value.error)
                    assertTrue(phone.state.value is EnrollmentState.Trusted)
                    // A phone that holds the keys is told the server's rule: disable from a web device.
                    val fromPhone = DevicesFlow(phone, this)
                    fromPhone.refresh().join()
                    val laptopId = (laptop.state.value as EnrollmentState.Trusted).deviceId
                    fromPhone.disable(laptopId, alsoApproved = false).join()
                    assertEquals(UserMessage("devices.disable_needs_web"), fromPhone.screen.value.error)
                    assertTrue(laptop.state.value is EnrollmentState.Trusted)
                }
            }
        }
    }

    @Test
    fun `a key request survives a restart and is approved`(): Unit = runBlocking {
        TestServer().use { server ->
            val laptop = Install(server, DeviceKind.WEB)
            openVouch(server).use { phone ->
                enrollByEmail(phone, server, ALICE)
                val code = laptop.open().use { v ->
                    process { scope ->
                        enrollByEmail(v, server, ALICE)
                        val flow = resumed(v, scope)
                        assertEquals(SetupScreen.Trusted(emailOnly = true), flow.screen.value)
                        flow.askForKeys().join()
                        (flow.screen.value as SetupScreen.WaitingForApproval).code
                    }
                }
                laptop.open().use { v ->
                    val flow = resumed(v, this)
                    val waiting = flow.screen.value as SetupScreen.WaitingForApproval
                    assertEquals(ApprovalPurpose.SHARE_KEYS, waiting.purpose)
                    assertEquals(code, waiting.code)
                    val approvals = ApprovalFlow(phone, this)
                    approvals.refresh().join()
                    approvals.open(approvals.requests.value.single().requestId).join()
                    val screen = approvals.selected.value!!
                    assertTrue(screen.emailOnly)
                    assertEquals(ALICE, screen.request.account)
                    assertFalse(screen.anotherPersonsAccount)
                    assertEquals(Vouch.approverWarning(), screen.warning)
                    // An admin's new_root screen names the other person's account and says
                    // what approving does, in its own words.
                    val newRoot = TrustThisSession(screen.request.copy(purpose = ApprovalPurpose.NEW_ROOT, account = "carol@acme.test"))
                    assertTrue(newRoot.anotherPersonsAccount)
                    assertEquals(Vouch.newRootWarning(), newRoot.warning)
                    assertTrue("another person" in newRoot.warning)
                    approvals.approve(code).join()
                    assertTrue(approvals.selected.value!!.approved)
                    withTimeout(20_000) { flow.screen.first { it == SetupScreen.Trusted() } }
                    assertEquals(Tier.KEY_HOLDER, (v.state.value as EnrollmentState.Trusted).tier)
                }
            }
        }
    }

    @Test
    fun `approver - a short code is refused before a run is spent, deny ends the new device's setup`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    laptop.signIn(ALICE, PASSWORD)
                    val setup = resumed(laptop, this)
                    setup.start().join()
                    setup.submitName("Laptop", byEmail = false).join()
                    val approvals = ApprovalFlow(phone, this)
                    approvals.refresh().join()
                    approvals.open(approvals.requests.value.single().requestId).join()
                    approvals.approve("12").join()
                    assertEquals(UserMessage("approval.code_is_six_digits"), approvals.selected.value!!.error)
                    assertEquals(3u, laptop.approvalPrompt()!!.runsLeft, "no run spent")
                    approvals.deny().join()
                    assertNull(approvals.selected.value, "Deny closes the screen")
                    withTimeout(20_000) { setup.screen.first { it == SetupScreen.Failed(UserMessage("setup.denied")) } }
                    // After a restart the denied device says so too.
                    assertEquals(SetupScreen.Failed(UserMessage("setup.denied")), resumed(laptop, this).screen.value)
                }
            }
        }
    }

    @Test
    fun `a failing call in a flow becomes a screen, never an uncaught exception`(): Unit = runBlocking {
        // Offline: nothing listens on port 9.
        val v = Vouch.open(tempProfile(), "http://127.0.0.1:9", device(), JvmSecretStore())
        v.use {
            val flow = resumed(it, this)
            assertEquals(SetupScreen.SignedOut(), flow.screen.value)
            flow.remindMeLater().join()
            // Not signed in: an invalid state, as words on the Start screen.
            assertEquals(SetupScreen.Start(UserMessage("error.invalid_state")), flow.screen.value)
            val approvals = ApprovalFlow(it, this)
            approvals.refresh().join()
            assertNotNull(approvals.listError.value)
            val devices = DevicesFlow(it, this)
            devices.refresh().join()
            assertNotNull(devices.screen.value.error)
        }
    }

    @OptIn(ExperimentalCoroutinesApi::class, kotlinx.coroutines.DelicateCoroutinesApi::class)
    @Test
    fun `blocking calls run on the injected dispatcher, not the caller's thread`(): Unit = runBlocking {
        val store = ThreadRecordingStore()
        val threads = store.threads
        val caller = Thread.currentThread().name
        newSingleThreadContext("vouch-io-test").use { io ->
            val profile = tempProfile()
            Vouch.open(profile, "https://vouch.example", device(), store, dispatcher = io).close()
            Vouch.open(profile, "https://vouch.example", device(), store, dispatcher = io).use { v ->
                assertNull(v.approvalPrompt())
            }
        }
        assertTrue(threads.size >= 2, threads.toString())
        assertTrue(threads.all { it.startsWith("vouch-io-test") }, "key store work ran on $threads, the caller is $caller")
    }

    @Test
    fun `one client per process - concurrent gets open once and share it`(): Unit = runBlocking {
        val opened = AtomicInteger()
        val profile = tempProfile()
        val store = JvmSecretStore()
        val holder = VouchHolder {
            opened.incrementAndGet()
            Vouch.open(profile, "https://vouch.example", device(), store)
        }
        holder.use {
            val all = (1..8).map { async(Dispatchers.IO) { holder.get() } }.awaitAll()
            assertEquals(1, opened.get())
            all.forEach { assertSame(all[0], it) }
            assertSame(all[0], holder.peek())
        }
        assertNull(holder.peek(), "closed")
        holder.use { assertTrue(it.get() !== null) }
        assertEquals(2, opened.get(), "reopened after close")
    }

    @Test
    fun `the vault list follows the core's changes`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { v ->
                enrollByEmail(v, server, ALICE)
                process { scope ->
                    val flow = VaultsFlow(v, scope)
                    flow.follow()
                    withTimeout(10_000) { flow.screen.first { it.error == null && it.vaults.isEmpty() } }
                    v.createVault("Personal")
                    val s = withTimeout(10_000) { flow.screen.first { it.vaults.isNotEmpty() } }
                    assertEquals(listOf("Personal"), s.vaults.map { it.name })
                    assertTrue(s.vaults.single().hasKey)
                }
            }
        }
    }
}
