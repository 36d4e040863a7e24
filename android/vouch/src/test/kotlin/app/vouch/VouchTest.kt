package app.vouch

import app.vouch.ffi.ApprovalPurpose
import app.vouch.ffi.ChainRole
import app.vouch.ffi.AuditAction
import app.vouch.ffi.DeviceStatus
import app.vouch.ffi.Role
import app.vouch.ffi.ApprovalStatus
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
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.Test
import java.util.Collections
import java.util.concurrent.atomic.AtomicInteger

const val ALICE = "alice@acme.test"
const val ADMIN = "admin@acme.test"

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
    fun `code approval while the new device waits, and the secret travels`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    val vault = phone.createVault("Personal")
                    val item = phone.putItem(vault.id, "hunter2".toByteArray())
                    laptop.signIn(ALICE, PASSWORD)
                    laptop.registerDevice("Laptop")
                    val prompt = laptop.startApproval()
                    assertTrue(GROUPED_CODE.matches(prompt.code), "six digits, grouped")
                    assertEquals(3u, prompt.runsLeft)
                    assertEquals(ApprovalPurpose.ENROLL, prompt.purpose)
                    // The new device answers the approver's run: it waits while the code is typed.
                    val waiter = async(Dispatchers.IO) { laptop.waitForApproval() }
                    val request = phone.refreshPendingRequests().single()
                    assertEquals(prompt.requestId, request.requestId)
                    assertEquals(ApprovalPurpose.ENROLL, request.purpose)
                    assertEquals("Laptop", request.deviceName)
                    assertNull(request.requesterTier, "a new device has no tier yet")
                    assertFalse(request.otherNetwork)
                    assertEquals(ApprovalStatus.PENDING, request.status)
                    phone.approve(prompt.requestId, prompt.code)
                    val state = withTimeout(20_000) { waiter.await() } as EnrollmentState.Trusted
                    assertEquals(VerifiedBy.APPROVAL, state.verifiedBy)
                    assertEquals(Tier.KEY_HOLDER, state.tier)
                    assertNull(laptop.approvalPrompt(), "the code is gone")
                    laptop.sync()
                    assertArrayEquals("hunter2".toByteArray(), laptop.getItem(vault.id, item.itemId))
                }
            }
        }
    }

    @Test
    fun `the vouch chain and the recovery key from Kotlin`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server, DeviceKind.WEB).use { laptop ->
                openVouch(server).use { fresh ->
                    enrollByEmail(laptop, server, ALICE)
                    val vault = laptop.createVault("Personal")
                    val item = laptop.putItem(vault.id, "hunter2".toByteArray())
                    val members = laptop.chainMembers()
                    assertEquals(1, members.size)
                    assertTrue(members.single().thisDevice)
                    assertEquals(ChainRole.DEVICE, members.single().role)
                    val words = laptop.createRecoveryKey()
                    assertEquals(24, words.split(" ").size)
                    assertEquals(ChainRole.RECOVERY_KEY, laptop.chainMembers().last().role)
                    // A thief with the password and the mailbox adds a device by email code.
                    val thiefId = openVouch(server).use { thief ->
                        thief.signIn(ALICE, PASSWORD)
                        thief.registerDevice("Thief")
                        thief.requestEmailCode()
                        thief.submitEmailCode(server.latestCode(ALICE))
                        (thief.state.value as EnrollmentState.Trusted).deviceId
                    }
                    // Every device lost: a new one by email code, then the words.
                    enrollByEmail(fresh, server, ALICE)
                    assertEquals(Tier.EMAIL_ONLY, (fresh.state.value as EnrollmentState.Trusted).tier)
                    try {
                        fresh.useRecoveryKey("not my words")
                        fail("wrong words were accepted")
                    } catch (e: VouchError.InvalidRecoveryWords) {
                        // "not" is not a word of the list: the first word is named.
                        assertEquals(UserMessage("error.recovery_word_unknown", listOf("1")), e.userMessage)
                    }
                    try {
                        fresh.useRecoveryKey(words.split(" ").drop(1).joinToString(" "))
                        fail("23 words were accepted")
                    } catch (e: VouchError.InvalidRecoveryWords) {
                        assertEquals(UserMessage("error.recovery_words_count", listOf("23")), e.userMessage)
                    }
                    val done = fresh.useRecoveryKey(words)
                    assertEquals(Tier.KEY_HOLDER, (done.state as EnrollmentState.Trusted).tier)
                    assertTrue(done.vaultKeys >= 1u)
                    assertEquals(1, done.revoked.size, "the lost laptop is revoked")
                    assertEquals(listOf(thiefId), done.disabled, "the thief's email-only device is disabled")
                    assertArrayEquals("hunter2".toByteArray(), fresh.getItem(vault.id, item.itemId))
                    assertTrue(fresh.revokeRecoveryKey())
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
                    assertTrue(prompt.qrPayload.startsWith("VOUCH2:"))
                    val waiter = async(Dispatchers.IO) { laptop.waitForApproval() }
                    phone.refreshPendingRequests()
                    // A QR text that is not this request's is refused before anything is sent.
                    assertThrows<VouchError.InvalidQrCode> { runBlocking { phone.approveScanned(prompt.requestId, "VOUCH2:garbage") } }
                    phone.approveScanned(prompt.requestId, prompt.qrPayload)
                    val s = withTimeout(20_000) { waiter.await() }
                    assertEquals(VerifiedBy.APPROVAL, (s as EnrollmentState.Trusted).verifiedBy)
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
                val e = assertThrows<VouchError.WrongCode> { runBlocking { v.submitEmailCode(wrong) } }
                assertEquals(4, e.attemptsLeft)
                assertEquals(UserMessage("error.wrong_code", listOf("4")), e.userMessage)
                assertThrows<VouchError.TooManyRequests> { runBlocking { v.requestEmailCode() } }
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
                val e = assertThrows<VouchError.DeviceLimitReached> { runBlocking { second.registerDevice("Two") } }
                assertEquals("error.device_limit_reached", e.userMessage.key)
                assertTrue((e.cause as VouchException.DeviceLimitReached).detail.contains("disable one"), "the server's sentence stays in the cause")
            }
        }
    }

    @Test
    fun `wrong code is a typed exception and the request stays pending`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    laptop.signIn(ALICE, PASSWORD)
                    laptop.registerDevice("Laptop")
                    val prompt = laptop.startApproval()
                    val waiter = async(Dispatchers.IO) { laptop.waitForApproval() }
                    phone.refreshPendingRequests()
                    assertThrows<VouchError.CodeMismatch> { runBlocking { phone.approve(prompt.requestId, mistype(prompt.code)) } }
                    assertThrows<VouchError.InvalidInput> { runBlocking { phone.approve(prompt.requestId, "12") } }
                    assertEquals(ApprovalStatus.PENDING, phone.refreshPendingRequests().single().status)
                    assertEquals(2u, laptop.approvalPrompt()!!.runsLeft, "the failed run counts against the code")
                    assertFalse(waiter.isCompleted, "the new device still waits")
                    phone.deny(prompt.requestId)
                    assertTrue(withTimeout(20_000) { waiter.await() } is EnrollmentState.Denied)
                }
            }
        }
    }

    @Test
    fun `approve without user presence is refused`(): Unit = runBlocking {
        TestServer().use { server ->
            val presence = FakePresence(answer = false)
            openVouch(server, presence = presence).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    laptop.signIn(ALICE, PASSWORD)
                    laptop.registerDevice("Laptop")
                    val prompt = laptop.startApproval()
                    val waiter = async(Dispatchers.IO) { laptop.waitForApproval() }
                    phone.refreshPendingRequests()
                    // The person at the phone does not confirm: nothing is sent.
                    assertThrows<VouchError.UserPresenceRequired> { runBlocking { phone.approve(prompt.requestId, prompt.code) } }
                    assertEquals(1, presence.asked.get(), "the app was asked once")
                    assertTrue(presence.reasons.single().contains("Laptop"), presence.reasons.toString())
                    assertEquals(ApprovalStatus.PENDING, phone.refreshPendingRequests().single().status, "still pending")
                    assertEquals(3u, laptop.approvalPrompt()!!.runsLeft, "no run reached the new device")
                    assertFalse(waiter.isCompleted, "the new device still waits")
                    // Confirmed this time: the same request is approved.
                    presence.answer = true
                    phone.approve(prompt.requestId, prompt.code)
                    assertTrue(withTimeout(20_000) { waiter.await() } is EnrollmentState.Trusted)
                    assertEquals(2, presence.asked.get())
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
            assertThrows<VouchError.KeyStore> { openVouch(server, store = JvmSecretStore(), profile = profile) }
        }
    }

    @Test
    fun `the listener implemented in Kotlin sees every transition`(): Unit = runBlocking {
        TestServer().use { server ->
            val seen = Collections.synchronizedList(mutableListOf<String>())
            openVouch(server).use { v ->
                val sawTrusted = CompletableDeferred<Unit>()
                val job = launch(Dispatchers.IO) {
                    v.state.collect {
                        seen.add(it::class.simpleName ?: "?")
                        if (it is EnrollmentState.Trusted) sawTrusted.complete(Unit)
                    }
                }
                enrollByEmail(v, server, ALICE)
                // The collector runs on another thread: wait for it to record Trusted.
                withTimeout(5_000) { sawTrusted.await() }
                job.cancel()
            }
            assertEquals("Trusted", seen.last())
            assertTrue(seen.contains("Verifying"))
        }
    }

    @Test
    fun `cancelling a coroutine waiting for approval stops the wait and the client stays usable`(): Unit = runBlocking {
        TestServer().use { server ->
            // A key holder first: nobody can approve a user's first device (it is told to
            // verify by email code).
            openVouch(server).use { phone ->
                enrollByEmail(phone, server, ALICE)
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    laptop.signIn(ALICE, PASSWORD)
                    laptop.registerDevice("Laptop")
                    val prompt = laptop.startApproval()
                    val waiter = launch(Dispatchers.IO) { laptop.waitForApproval() }
                    // The wait is under way once it answers a run: a mistyped code comes back
                    // as CodeMismatch only from a waiting device (no sleep, no clock).
                    phone.refreshPendingRequests()
                    assertThrows<VouchError.CodeMismatch> { runBlocking { phone.approve(prompt.requestId, mistype(prompt.code)) } }
                    assertTrue(waiter.isActive, "still waiting for an approver")
                    waiter.cancel()
                    waiter.join()
                    assertTrue(waiter.isCancelled)
                    // The request stays open on both sides.
                    assertEquals(ApprovalStatus.PENDING, phone.refreshPendingRequests().single().status)
                    assertEquals(prompt.requestId, laptop.client.approvalPrompt()?.requestId)
                    // Waiting again works and is cancellable again.
                    val again = launch(Dispatchers.IO) { laptop.waitForApproval() }
                    again.cancel()
                    again.join()
                    assertTrue(again.isCancelled)
                    // After the cancellations the client still answers, and "no access" switches to email.
                    val s = laptop.requestEmailCode()
                    assertTrue((s as EnrollmentState.Verifying).verification is Verification.EmailCode)
                }
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
                    val vm = SetupFlow(laptop, this)
                    // Unconfined: the collector subscribes before the next line runs (no sleep).
                    val sawTrusted = CompletableDeferred<Unit>()
                    val collector = launch(Dispatchers.Unconfined) {
                        vm.screen.collect {
                            screens.add(it)
                            if (it == SetupScreen.Trusted()) sawTrusted.complete(Unit)
                        }
                    }
                    vm.resume().join()
                    assertEquals(SetupScreen.Start(), vm.screen.value)
                    vm.start().join()
                    assertEquals(SetupScreen.NameDevice(laptop.defaultDeviceName()), vm.screen.value)
                    vm.submitName("My laptop", byEmail = false).join()
                    val waiting = vm.screen.value as SetupScreen.WaitingForApproval
                    phone.refreshPendingRequests()
                    val requestId = phone.pendingRequests.value.single().requestId
                    assertTrue(GROUPED_CODE.matches(waiting.code))
                    assertEquals(3, waiting.runsLeft)
                    phone.approve(requestId, waiting.code)
                    // The collector may run on another thread: wait until it recorded Trusted.
                    withTimeout(20_000) { sawTrusted.await() }
                    collector.cancel()
                    val kinds = screens.map { it::class.simpleName }.distinct()
                    assertEquals(listOf("Loading", "Start", "NameDevice", "WaitingForApproval", "Trusted"), kinds)
                }
            }
        }
    }

    @Test
    fun `an email-only device asks for keys and the approver screen flags it`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                openVouch(server, DeviceKind.WEB).use { laptop ->
                    enrollByEmail(phone, server, ALICE)
                    val vault = phone.createVault("Personal")
                    val item = phone.putItem(vault.id, "pin 4711".toByteArray())
                    // "I don't have access to my trusted device": email makes it email-only.
                    enrollByEmail(laptop, server, ALICE)
                    assertEquals(Tier.EMAIL_ONLY, (laptop.state.value as EnrollmentState.Trusted).tier)
                    assertThrows<VouchError.KeyHolderRequired> { runBlocking { laptop.refreshPendingRequests() } }

                    val setup = SetupFlow(laptop, this)
                    setup.resume().join()
                    assertEquals(SetupScreen.Trusted(emailOnly = true), setup.screen.value, "offers to ask for the vault keys")
                    setup.askForKeys().join()
                    val waiting = setup.screen.value as SetupScreen.WaitingForApproval
                    assertEquals(ApprovalPurpose.SHARE_KEYS, waiting.purpose)
                    assertEquals(3, waiting.runsLeft)
                    val requestId = laptop.approvalPrompt()!!.requestId

                    val approvals = ApprovalFlow(phone, this)
                    approvals.refresh().join()
                    approvals.open(requestId).join()
                    val screen = approvals.selected.value!!
                    assertEquals(Vouch.approverWarning(), screen.warning)
                    assertTrue(screen.warning.contains("Nobody from Vouch"))
                    assertTrue(screen.emailOnly, "an email-only requester is flagged")
                    assertFalse(screen.otherNetwork)
                    assertEquals(ApprovalPurpose.SHARE_KEYS, screen.request.purpose)
                    // A mistyped code is told apart from a lost connection.
                    approvals.approve(mistype(waiting.code)).join()
                    val refused = approvals.selected.value!!
                    assertFalse(refused.approved)
                    assertFalse(refused.waitingForDevice)
                    assertEquals(UserMessage("error.code_mismatch"), refused.error)
                    approvals.approve(waiting.code).join()
                    assertTrue(approvals.selected.value!!.approved)
                    withTimeout(20_000) { setup.screen.first { it == SetupScreen.Trusted() } }
                    assertEquals(Tier.KEY_HOLDER, (laptop.state.value as EnrollmentState.Trusted).tier)
                    laptop.sync()
                    assertArrayEquals("pin 4711".toByteArray(), laptop.getItem(vault.id, item.itemId))
                }
            }
        }
    }

    @Test
    fun `setup view model with remind me later and the email path`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { v ->
                v.signIn(ALICE, PASSWORD)
                val vm = SetupFlow(v, this)
                vm.remindMeLater().join()
                assertEquals(SetupScreen.NotSecure, vm.screen.value)
                assertEquals(true, (v.state.value as EnrollmentState.Untrusted).remindedLater)
                assertTrue(v.state.value.showsNotSecureBanner)
                vm.start().join()
                vm.submitName(" ", byEmail = true).join()
                assertEquals(UserMessage("error.invalid_input"), (vm.screen.value as SetupScreen.NameDevice).error)
                vm.submitName("Phone", byEmail = true).join()
                val verify = vm.screen.value as SetupScreen.VerifyCode
                assertNull(verify.error)
                vm.submitCode("999999x").join()
                assertTrue((vm.screen.value as SetupScreen.VerifyCode).error != null)
                vm.submitCode(server.latestCode(ALICE)).join()
                assertEquals(SetupScreen.Trusted(), vm.screen.value)
            }
        }
    }

    @Test
    fun `offline is a typed exception`(): Unit = runBlocking {
        val v = Vouch.open(tempProfile(), "http://127.0.0.1:9", device(), JvmSecretStore())
        v.use { assertThrows<VouchError.Offline> { runBlocking { it.signIn(ALICE, PASSWORD) } } }
    }

    @Test
    fun `a malformed certificate pin is invalid input at open`(): Unit = runBlocking {
        val badPin = TlsPolicy(pinnedSpkiSha256 = listOf("md5/abc"), extraRootsDer = emptyList())
        assertThrows<VouchError.InvalidInput> {
            Vouch.open(tempProfile(), "https://vouch.example", device(), JvmSecretStore(), badPin)
        }
        val pin = TlsPolicy(listOf("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), emptyList())
        Vouch.open(tempProfile(), "https://vouch.example", device(), JvmSecretStore(), pin).close()
    }

    @Test
    fun `plain http to another host is insecure transport and bad ids are invalid input`(): Unit = runBlocking {
        assertThrows<VouchError.InsecureTransport> { Vouch.open(tempProfile(), "http://example.com", device(), JvmSecretStore()) }
        TestServer().use { server ->
            openVouch(server).use { v ->
                enrollByEmail(v, server, ALICE)
                assertThrows<VouchError.InvalidInput> { v.getItem("not-an-id", "x") }
                assertThrows<VouchError.InvalidState> { runBlocking { v.startApproval() } }
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
    fun `items have titles and a vault is deleted`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { v ->
                enrollByEmail(v, server, ALICE)
                val vault = v.createVault("Home")
                val item = v.putItem(vault.id, "hunter2".toByteArray(), title = "Wi-Fi")
                assertEquals("Wi-Fi", item.title)
                assertEquals(item.itemId, v.findItem(vault.id, "wi-fi").itemId)
                assertEquals(listOf("Wi-Fi"), v.listItems(vault.id).map { it.title })
                // Changing the value keeps the title.
                v.putItem(vault.id, "hunter3".toByteArray(), itemId = item.itemId)
                assertEquals("Wi-Fi", v.findItem(vault.id, item.itemId).title)
                assertThrows<VouchError.InvalidInput> {
                    v.putItem(vault.id, "x".toByteArray(), title = " WI-FI ")
                }
                v.deleteVault(vault.id)
                assertTrue(v.vaults().isEmpty())
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
                    assertThrows<VouchError.DeviceWiped> { phone.vaults() }
                }
            }
        }
    }
    @Test
    fun `rename a device, last seen, find a vault by name, sign out`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server, DeviceKind.WEB).use { web ->
                openVouch(server).use { phone ->
                    enrollByEmail(web, server, ALICE) // the user's first: a key holder
                    enrollByEmail(phone, server, ALICE) // email-only
                    val phoneId = (phone.state.value as EnrollmentState.Trusted).deviceId
                    // A device (any tier) renames itself: the server's record and its own state follow.
                    val renamed = phone.renameDevice(phoneId, "  Alice's   phone ")
                    assertEquals("Alice's phone", renamed.name, "the server's canonical name")
                    assertEquals("Alice's phone", (phone.state.value as EnrollmentState.Trusted).deviceName)
                    val webName = (web.state.value as EnrollmentState.Trusted).deviceName
                    assertThrows<VouchError.DeviceNameTaken> { runBlocking { phone.renameDevice(phoneId, webName) } }
                    assertThrows<VouchError.InvalidInput> { runBlocking { phone.renameDevice(phoneId, "   ") } }
                    assertThrows<VouchError.InvalidInput> { runBlocking { phone.renameDevice("not-an-id", "x") } }
                    // Last seen: set by the phone's calls with its device token (not before).
                    val listed = web.devices().single { it.id == phoneId }
                    assertEquals("Alice's phone", listed.name)
                    val seen = listed.lastSeenAt ?: throw AssertionError("the phone called the server: last seen is set")
                    assertFalse(seen.isBefore(listed.createdAt), "seen after it registered")
                    // "My trusted devices" on the web key holder renames another device.
                    val devicesFlow = DevicesFlow(web, this)
                    devicesFlow.rename(phoneId, "Phone 2").join()
                    assertNull(devicesFlow.screen.value.error)
                    assertEquals("Phone 2", devicesFlow.screen.value.devices.single { it.id == phoneId }.name)
                    devicesFlow.rename(phoneId, webName).join()
                    assertEquals("error.device_name_taken", devicesFlow.screen.value.error?.key)

                    // Vaults by name (on the key holder): trimmed and without case; an unknown
                    // name is a typed error.
                    val personal = web.createVault("Personal")
                    assertTrue(web.vaultNameTaken("  PERSONAL "))
                    assertFalse(web.vaultNameTaken("Work"))
                    assertEquals(personal, web.findVault("personal"))
                    assertEquals(personal, web.findVault(personal.id))
                    assertThrows<VouchError.InvalidInput> { runBlocking { web.findVault("Work") } }

                    // Sign out (the phone is email-only: any tier may): the server disables
                    // the phone, the phone wipes itself.
                    assertTrue(phone.signOut())
                    assertEquals(EnrollmentState.Wiped, phone.state.value)
                    assertEquals(DeviceStatus.DISABLED, web.devices().single { it.id == phoneId }.status)
                    assertThrows<VouchError.DeviceWiped> { phone.vaults() }
                }
            }
            // A device that was never trusted has nothing to end on the server.
            openVouch(server).use { fresh ->
                fresh.signIn(ALICE, PASSWORD)
                assertFalse(fresh.signOut())
            }
        }
    }

    @Test
    fun `admin lists users, finds one, deprovisions and reactivates, reads the audit log`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server, DeviceKind.WEB).use { admin ->
                openVouch(server).use { alice ->
                    enrollByEmail(admin, server, ADMIN)
                    enrollByEmail(alice, server, ALICE)
                    val aliceId = (alice.state.value as EnrollmentState.Trusted).user.id
                    val users = admin.adminUsers()
                    assertEquals(Role.ADMIN, users.single { it.email == ADMIN }.role)
                    val a = users.single { it.email == ALICE }
                    assertEquals(Role.MEMBER, a.role)
                    assertEquals(1u, a.trustedDevices)
                    assertNull(a.deprovisionedAt)
                    assertEquals(a, admin.adminUser("ALICE@acme.test"), "by email, without case")
                    assertEquals(a, admin.adminUser(aliceId), "by id")
                    assertThrows<VouchError.InvalidInput> { runBlocking { admin.adminUser("nobody@acme.test") } }
                    // Not an admin: the server refuses.
                    val refused = assertThrows<VouchError.Server> { runBlocking { alice.adminUsers() } }
                    assertEquals("forbidden", refused.code)

                    admin.adminDeprovision(aliceId)
                    assertTrue(admin.adminUser(aliceId).deprovisionedAt != null, "deprovisioned")
                    val back = admin.adminReactivate(aliceId)
                    assertNull(back.deprovisionedAt)
                    assertEquals(0u, back.trustedDevices, "the old devices stay disabled")

                    val log = admin.adminAudit(userId = aliceId)
                    assertTrue(log.all { it.userId == aliceId && it.userEmail == ALICE })
                    val actions = log.map { it.action }
                    for (a2 in listOf(AuditAction.REGISTERED, AuditAction.VERIFIED_BY_EMAIL, AuditAction.DEPROVISIONED, AuditAction.REACTIVATED)) {
                        assertTrue(a2 in actions, "$a2 in $actions")
                    }
                    assertEquals(log.map { it.seq }.sorted(), log.map { it.seq }, "oldest first")
                    assertEquals(listOf(log.last()), admin.adminAudit(userId = aliceId, limit = 1u), "the newest one")
                    assertTrue(admin.adminAudit().any { it.userEmail == ADMIN }, "the whole workspace")
                }
            }
        }
    }
}
