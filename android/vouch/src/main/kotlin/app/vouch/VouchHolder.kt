package app.vouch

import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock

/**
 * One [Vouch] per process (a profile's database has one writer): the app keeps one holder
 * in its `Application` (application scope, as element-x-android keeps its session graph)
 * and every view model asks it for the client, so a rotation or a second Activity never
 * opens the database twice. The first [get] opens (off the main thread, through
 * [Vouch.open]); later ones return the same instance; concurrent callers wait for the one
 * open. [close] frees it (tests, sign-out, a wiped profile); the next [get] opens again.
 */
class VouchHolder(private val open: suspend () -> Vouch) : AutoCloseable {
    private val mutex = Mutex()
    @Volatile private var vouch: Vouch? = null

    /** The client, opened on first use. Throws [VouchError] when it cannot be opened. */
    suspend fun get(): Vouch = vouch ?: mutex.withLock {
        vouch ?: open().also { vouch = it }
    }

    /** The client if already open (no I/O). */
    fun peek(): Vouch? = vouch

    override fun close() {
        val v = vouch
        vouch = null
        v?.close()
    }
}
