//! The web console at `/console` (issue 17): delegated sessions of a key holder
//! ([`session`]), their JSON routes for key holders ([`api`]), and the HTML pages
//! ([`pages`]).

pub(crate) mod api;
pub(crate) mod pages;
pub(crate) mod session;
