package app.vouch

import app.vouch.ffi.ConsoleStatus
import app.vouch.ffi.DeviceKind
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * "Approve a web console sign-in" on a phone, against a real server and a real console
 * sign-in over HTTP: user presence first, the code the browser shows, wrong codes counted
 * and the third ending the sign-in, an email-only device refused, and the event loop
 * surfacing a waiting browser.
 */
class ConsoleTest {
    @Test
    fun `a phone approves a console with the browser's code, after user presence`(): Unit = runBlocking {
        TestServer().use { server ->
            val presence = FakePresence(answer = false)
            openVouch(server, presence = presence).use { phone ->
                enrollByEmail(phone, server, ALICE)
                val browser = ConsoleBrowser(server)
                val code = browser.signIn(ALICE)
                val flow = ConsoleFlow(phone, this)
                flow.refresh().join()
                val session = flow.waiting.first { it.isNotEmpty() }.single()
                assertEquals("KotlinTest/1.0", session.userAgent)
                assertFalse(session.otherNetwork)
                flow.open(session.id)
                // The person at the phone does not confirm: nothing is sent.
                flow.approve(code).join()
                assertEquals(UserMessage("error.user_presence_required"), flow.selected.value!!.error)
                assertEquals(1, presence.asked.get())
                assertTrue(presence.reasons.single().contains("console"), presence.reasons.toString())
                assertEquals(ConsoleStatus.PENDING, phone.refreshConsoleSessions().single().status, "still waiting")
                assertEquals(303, browser.get("/console/devices").first, "the browser still waits")
                // Confirmed: approved, and the browser shows the console.
                presence.answer = true
                flow.approve("${code.take(3)} ${code.drop(3)}").join()
                assertTrue(flow.selected.value!!.approved, "${flow.selected.value}")
                val active = phone.refreshConsoleSessions().single()
                assertEquals(ConsoleStatus.ACTIVE, active.status)
                assertEquals((phone.state.value as app.vouch.ffi.EnrollmentState.Trusted).deviceId, active.approvedBy)
                // The waiting page (it reloads itself) swaps the cookie for the approved one.
                assertEquals(303, browser.get("/console/wait").first)
                val (status, page) = browser.get("/console/devices")
                assertEquals(200, status)
                assertTrue(page.contains("My trusted devices"))
                // Ended from the phone: the browser is signed out.
                phone.revokeConsole(active.id)
                assertEquals(emptyList<Any>(), phone.refreshConsoleSessions())
                assertEquals(303, browser.get("/console/devices").first)
            }
        }
    }

    @Test
    fun `wrong codes are refused, counted, and the third ends the sign-in`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                enrollByEmail(phone, server, ALICE)
                val code = ConsoleBrowser(server).signIn(ALICE)
                val flow = ConsoleFlow(phone, this)
                val id = phone.refreshConsoleSessions().single().id
                flow.open(id)
                flow.approve("12345").join()
                assertEquals(UserMessage("approval.code_is_six_digits"), flow.selected.value!!.error, "nothing sent")
                val wrong = mistype(code)
                val first = assertThrows<VouchError.WrongCode> { runBlocking { phone.approveConsole(id, wrong) } }
                assertEquals(2, first.attemptsLeft)
                flow.approve(wrong).join()
                assertEquals(UserMessage("error.wrong_code", listOf("1")), flow.selected.value!!.error)
                flow.approve(wrong).join()
                assertTrue(flow.selected.value!!.ended)
                assertEquals(UserMessage("console.sign_in_ended"), flow.selected.value!!.error)
                // The right code no longer works: the sign-in is gone.
                assertEquals(emptyList<Any>(), phone.refreshConsoleSessions())
                assertThrows<VouchError.Server> { runBlocking { phone.approveConsole(id, code) } }
            }
        }
    }

    @Test
    fun `an email-only device cannot list or approve a console`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server, DeviceKind.WEB).use { laptop ->
                openVouch(server).use { phone ->
                    enrollByEmail(laptop, server, ALICE)
                    enrollByEmail(phone, server, ALICE) // a second device by email: email-only
                    val code = ConsoleBrowser(server).signIn(ALICE)
                    val id = laptop.refreshConsoleSessions().single().id
                    val flow = ConsoleFlow(phone, this)
                    flow.refresh().join()
                    assertEquals(UserMessage("error.key_holder_required"), flow.listError.value)
                    assertThrows<VouchError.KeyHolderRequired> { runBlocking { phone.approveConsole(id, code) } }
                    assertEquals(ConsoleStatus.PENDING, laptop.refreshConsoleSessions().single().status)
                }
            }
        }
    }

    @Test
    fun `the event loop surfaces a browser waiting for approval`(): Unit = runBlocking {
        TestServer().use { server ->
            openVouch(server).use { phone ->
                enrollByEmail(phone, server, ALICE)
                val flow = ConsoleFlow(phone, this)
                assertNull(flow.selected.value)
                val events = launch(Dispatchers.IO) { phone.runEvents() }
                ConsoleBrowser(server).signIn(ALICE)
                // No call from here: only the console_requested event fills the list.
                val waiting = withTimeout(15_000) { flow.waiting.first { it.isNotEmpty() } }
                assertEquals("KotlinTest/1.0", waiting.single().userAgent)
                events.cancel()
            }
        }
    }
}
