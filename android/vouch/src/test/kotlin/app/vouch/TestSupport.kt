package app.vouch

import app.vouch.ffi.DeviceInfo
import app.vouch.ffi.DeviceKind
import app.vouch.ffi.SecretStore
import app.vouch.ffi.SecretStoreException
import app.vouch.ffi.UserPresence
import app.vouch.ffi.VouchClient
import kotlinx.coroutines.runBlocking
import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.security.SecureRandom
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

const val PASSWORD = "dev-password"

/** A real `vouch-server --dev` process on a free loopback port (binary from VOUCH_SERVER_BIN). */
class TestServer(vararg extra: String) : AutoCloseable {
    private val dir: File = Files.createTempDirectory("vouch-kt-server").toFile()
    private val process: Process
    val url: String

    init {
        val bin = System.getenv("VOUCH_SERVER_BIN") ?: error("VOUCH_SERVER_BIN is not set")
        val cmd = listOf(bin, "--dev", "--listen", "127.0.0.1:0", "--data", dir.path) + extra
        process = ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val line = BufferedReader(InputStreamReader(process.inputStream)).readLine() ?: error("server did not start")
        url = line.removePrefix("listening on ").trim()
    }

    /** The newest 6-digit code mailed to [email], read from the dev outbox. */
    fun latestCode(email: String): String {
        val req = HttpRequest.newBuilder(URI.create("$url/v1/dev/outbox?to=$email")).build()
        val body = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString()).body()
        return Regex("\\b(\\d{6})\\b").findAll(body).last().groupValues[1]
    }

    /** Moves the dev server's clock forward (`POST /v1/dev/clock`): expiries without waiting. */
    fun advanceClock(seconds: Long) {
        val req = HttpRequest.newBuilder(URI.create("$url/v1/dev/clock"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"advance_secs\":$seconds}")).build()
        val res = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString())
        check(res.statusCode() == 200) { "dev clock: ${res.statusCode()} ${res.body()}" }
    }

    override fun close() {
        process.destroy()
        process.waitFor()
        dir.deleteRecursively()
    }
}

/** A SecretStore written in Kotlin (AES-256-GCM, keys in memory), counting its calls. */
class JvmSecretStore : SecretStore {
    private val keys = ConcurrentHashMap<String, SecretKey>()
    private val random = SecureRandom()
    val wraps = AtomicInteger()
    val unwraps = AtomicInteger()

    override fun wrapSecret(label: String, secret: ByteArray): ByteArray {
        wraps.incrementAndGet()
        val key = keys.getOrPut(label) { KeyGenerator.getInstance("AES").apply { init(256) }.generateKey() }
        val iv = ByteArray(12).also { random.nextBytes(it) }
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, key, GCMParameterSpec(128, iv))
        cipher.updateAAD(label.toByteArray())
        return iv + cipher.doFinal(secret)
    }

    override fun unwrapSecret(label: String, wrapped: ByteArray): ByteArray {
        unwraps.incrementAndGet()
        val key = keys[label] ?: throw SecretStoreException.KeyNotFound()
        if (wrapped.size < 28) throw SecretStoreException.AuthenticationFailed()
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, wrapped.copyOfRange(0, 12)))
        cipher.updateAAD(label.toByteArray())
        try {
            return cipher.doFinal(wrapped.copyOfRange(12, wrapped.size))
        } catch (e: AEADBadTagException) {
            throw SecretStoreException.AuthenticationFailed()
        }
    }

    override fun deleteSecret(label: String) {
        keys.remove(label)
    }
}

/**
 * The person at a phone's biometric prompt, faked: confirms while [answer] is true,
 * refuses otherwise; counts the prompts and keeps their texts. Called on a Rust thread.
 */
class FakePresence(@Volatile var answer: Boolean = true) : UserPresence {
    val asked = AtomicInteger()
    val reasons: MutableList<String> = java.util.Collections.synchronizedList(mutableListOf())

    override fun confirmPresence(reason: String): Boolean {
        asked.incrementAndGet()
        reasons.add(reason)
        return answer
    }
}

fun tempProfile(): String = Files.createTempDirectory("vouch-kt-profile").toString()

fun device(kind: DeviceKind = DeviceKind.MOBILE, model: String = "Pixel 8") =
    DeviceInfo(kind, model, "Android 15", "Vouch")

fun openVouch(
    server: TestServer,
    kind: DeviceKind = DeviceKind.MOBILE,
    store: SecretStore = JvmSecretStore(),
    profile: String = tempProfile(),
    presence: UserPresence? = FakePresence(true),
) = runBlocking {
    Vouch.open(profile, server.url, device(kind, if (kind == DeviceKind.MOBILE) "Pixel 8" else "Laptop"), store, presence = presence)
}

/** "482 913": six digits in two groups of three. */
val GROUPED_CODE = Regex("^\\d{3} \\d{3}$")

/** The code with its last digit changed (what a person might mistype). */
fun mistype(code: String): String {
    val last = code.last()
    return code.dropLast(1) + (if (last == '9') '0' else last + 1)
}

/** Sign in, register with the default name, verify by email code. */
suspend fun enrollByEmail(v: Vouch, server: TestServer, email: String) {
    v.signIn(email, PASSWORD)
    v.registerDevice(v.defaultDeviceName())
    v.requestEmailCode()
    v.submitEmailCode(server.latestCode(email))
}

/** A plain client, for tests that want the generated API directly. */
fun rawClient(server: TestServer, store: SecretStore = JvmSecretStore()) =
    VouchClient(tempProfile(), server.url, device(), store, null)

/** Runs [block] and returns the exception of type [T] it throws; fails otherwise. */
inline fun <reified T : Throwable> assertThrows(block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("expected ${T::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${T::class.simpleName}, nothing was thrown")
}

/**
 * A browser at the server's web console over real HTTP (its own cookies, no redirects
 * followed): signs in with the password and reads the 6-digit code the waiting page shows.
 */
class ConsoleBrowser(private val server: TestServer) {
    private val http = HttpClient.newBuilder()
        .cookieHandler(java.net.CookieManager())
        .followRedirects(HttpClient.Redirect.NEVER)
        .build()

    /** GETs a console page; its status and body. */
    fun get(path: String): Pair<Int, String> {
        val req = HttpRequest.newBuilder(URI.create("${server.url}$path")).header("User-Agent", "KotlinTest/1.0").build()
        val res = http.send(req, HttpResponse.BodyHandlers.ofString())
        return res.statusCode() to res.body()
    }

    /** Signs in as [email] with the dev password; returns the code the browser shows. */
    fun signIn(email: String): String {
        val (_, form) = get("/console/login")
        val csrf = Regex("name=\"csrf\" value=\"([^\"]+)\"").find(form)!!.groupValues[1]
        fun enc(s: String) = java.net.URLEncoder.encode(s, Charsets.UTF_8)
        val body = "csrf=${enc(csrf)}&email=${enc(email)}&password=${enc(PASSWORD)}"
        val req = HttpRequest.newBuilder(URI.create("${server.url}/console/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("User-Agent", "KotlinTest/1.0")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build()
        val res = http.send(req, HttpResponse.BodyHandlers.ofString())
        check(res.statusCode() == 303) { "console sign-in: ${res.statusCode()}" }
        val (status, wait) = get("/console/wait")
        check(status == 200) { "console wait page: $status" }
        return Regex("aria-label=\"Code (\\d{6})").find(wait)!!.groupValues[1]
    }
}
