package android.os
object Build { object VERSION { const val SDK_INT: Int = 0 }; object VERSION_CODES { const val P = 28; const val R = 30; const val UPSIDE_DOWN_CAKE = 34 } }
class Looper { companion object { fun myLooper(): Looper? = null; fun getMainLooper(): Looper = Looper() } }
