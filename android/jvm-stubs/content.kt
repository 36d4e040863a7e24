package android.content
open class Context {
    val resources: android.content.res.Resources = android.content.res.Resources()
    val packageName: String = ""
    fun getString(id: Int): String = ""
    fun getString(id: Int, vararg args: Any): String = ""
}
