//! The uniffi surface over `vouch-core`. Empty until the bindings issue lands.
