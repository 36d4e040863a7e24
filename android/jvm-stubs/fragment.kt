package androidx.fragment.app
open class FragmentActivity : android.content.Context(), androidx.lifecycle.LifecycleOwner { override val lifecycle = androidx.lifecycle.Lifecycle() }
