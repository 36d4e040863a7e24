package androidx.annotation
annotation class RequiresApi(val value: Int = 0, val api: Int = 0)
