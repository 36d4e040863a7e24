package androidx.core.content
object ContextCompat { fun getMainExecutor(c: android.content.Context): java.util.concurrent.Executor = java.util.concurrent.Executor { it.run() } }
