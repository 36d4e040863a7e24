package app.vouch

import app.vouch.ffi.coreVersion
import app.vouch.ffi.pingAsync
import kotlinx.coroutines.runBlocking

/**
 * Cost of one trivial FFI call from Kotlin on the JVM (sync and async), printed as ns per
 * call. Run by `scripts/kotlin-jvm-tests.sh --bench`; the Rust side of the comparison is
 * `cargo bench -p vouch-ffi`.
 */
object FfiBench {
    @JvmStatic
    fun main(args: Array<String>) {
        fun measure(name: String, n: Int, block: () -> Unit) {
            repeat(n / 10) { block() } // warm-up (JIT)
            val t = System.nanoTime()
            repeat(n) { block() }
            val ns = (System.nanoTime() - t).toDouble() / n
            println("kotlin-jvm %-28s %10.0f ns/call  (%d calls)".format(name, ns, n))
        }
        measure("sync core_version()", 200_000) { coreVersion() }
        measure("async ping_async() (suspend)", 20_000) { runBlocking { pingAsync(7u) } }
    }
}
