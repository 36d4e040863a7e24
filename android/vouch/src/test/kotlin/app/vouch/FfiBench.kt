package app.vouch

import app.vouch.ffi.IntegrityCheckingUniffiLib
import app.vouch.ffi.RustBuffer
import app.vouch.ffi.UniffiLib
import app.vouch.ffi.UniffiRustCallStatus
import app.vouch.ffi.VouchException
import app.vouch.ffi.coreVersion
import app.vouch.ffi.panicProbe
import app.vouch.ffi.pingAsync
import java.lang.management.ManagementFactory
import kotlinx.coroutines.runBlocking

/**
 * Cost of one trivial FFI call from Kotlin on the JVM, and of the pieces it is made of,
 * printed as ns per call. Run by `scripts/kotlin-jvm-tests.sh --bench` (release library).
 * It first checks that a panic inside Rust is still caught in that profile (`panic_probe`
 * arrives as `VouchException.Internal`), which the shipped library relies on.
 *
 * Method: each case is warmed up for at least WARMUP_MS (C2 has compiled the loop and
 * JNA's per-class caches are filled), then timed in ROUNDS rounds; the median round is the
 * figure, min/max show the noise (the machine is shared), and the collector time spent
 * inside the timed rounds is printed beside it (per-call garbage is part of the cost).
 *
 * The pieces: a bare JNA direct-mapped call (no call status), allocating the
 * `UniffiRustCallStatus` every generated call allocates, the same call with one status
 * reused, and the generated wrappers. `benchU32()` exists only in a library built with
 * `--features test-hooks` (`bindings/src/bench_hooks.rs`); it is looked up by reflection
 * so that this file compiles against the shipped API too.
 */
object FfiBench {
    private const val WARMUP_MS = 1500L
    private const val ROUNDS = 9

    @Volatile private var sink: Long = 0

    private fun gcMillis() = ManagementFactory.getGarbageCollectorMXBeans().sumOf { it.collectionTime }

    private fun measure(name: String, n: Int, block: () -> Long) {
        val warmEnd = System.nanoTime() + WARMUP_MS * 1_000_000
        var acc = 0L
        while (System.nanoTime() < warmEnd) {
            repeat(n / 20) { acc += block() }
        }
        val rounds = DoubleArray(ROUNDS)
        val gc0 = gcMillis()
        val t0 = System.nanoTime()
        for (r in 0 until ROUNDS) {
            val t = System.nanoTime()
            repeat(n) { acc += block() }
            rounds[r] = (System.nanoTime() - t).toDouble() / n
        }
        val totalMs = (System.nanoTime() - t0) / 1e6
        val gcPct = 100.0 * (gcMillis() - gc0) / totalMs
        sink += acc
        rounds.sort()
        println(
            "kotlin-jvm %-44s %9.0f ns/call  (median of %d rounds of %d; min %.0f, max %.0f; GC %.0f%%)".format(
                name, rounds[ROUNDS / 2], ROUNDS, n, rounds[0], rounds[ROUNDS - 1], gcPct,
            ),
        )
    }

    @JvmStatic
    fun main(args: Array<String>) {
        val only = args.toSet()
        fun case(key: String, name: String, n: Int, block: () -> Long) {
            if (only.isEmpty() || key in only) measure(name, n, block)
        }
        println(
            "jvm ${System.getProperty("java.vm.name")} ${System.getProperty("java.version")}, " +
                "jna ${com.sun.jna.Native.VERSION}, ${Runtime.getRuntime().availableProcessors()} cpus, " +
                "gc ${ManagementFactory.getGarbageCollectorMXBeans().joinToString { it.name }}",
        )
        // The shipped profile keeps a panic catchable (`panic = "unwind"`, and
        // `-C force-unwind-tables=no` keeps the tables of every function that may unwind):
        // checked here, in the very profile the figures below are for.
        try {
            panicProbe()
            error("panic_probe returned instead of panicking")
        } catch (e: VouchException.Internal) {
            println("kotlin-jvm panic_probe(): caught in Rust, VouchException.Internal")
        }
        // A UInt parameter mangles the JVM name (`benchU32-<hash>`): match the prefix.
        val benchU32 = Class.forName("app.vouch.ffi.Vouch_ffiKt").methods
            .firstOrNull { it.name == "benchU32" || it.name.startsWith("benchU32-") }
        // The pieces.
        case("bare", "jna bare call (contract version, no status)", 200_000) {
            IntegrityCheckingUniffiLib.ffi_vouch_ffi_uniffi_contract_version().toLong()
        }
        case("status", "allocate UniffiRustCallStatus", 200_000) {
            UniffiRustCallStatus().code.toLong()
        }
        case("buffer", "allocate RustBuffer.ByValue", 200_000) {
            RustBuffer.ByValue().len
        }
        val status = UniffiRustCallStatus()
        case("string-reused", "core_version, one status reused, + free", 100_000) {
            val buf = UniffiLib.uniffi_vouch_ffi_fn_func_core_version(status)
            val len = buf.len
            UniffiLib.ffi_vouch_ffi_rustbuffer_free(buf, status)
            len
        }
        // The generated calls, as apps make them.
        if (benchU32 != null) {
            case("u32", "sync bench_u32(u32) -> u32", 200_000) {
                // A Kotlin UInt is an Int on the JVM.
                (benchU32.invoke(null, 7) as Int).toLong()
            }
        } else {
            println("kotlin-jvm sync bench_u32(): not in this library (build with --features test-hooks)")
        }
        case("string", "sync core_version() -> String", 100_000) { coreVersion().length.toLong() }
        case("async", "async ping_async() (suspend, runBlocking)", 20_000) {
            runBlocking { pingAsync(7u) }.toLong()
        }
        if (sink == 42L) println()
    }
}
