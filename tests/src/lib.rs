//! End-to-end tests live here once the core client exists.
