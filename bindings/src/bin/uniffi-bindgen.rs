//! The uniffi binding generator, pinned to the uniffi version of this crate. Used in
//! library mode: `uniffi-bindgen generate --library libvouch_ffi.so --language kotlin --out-dir …`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
