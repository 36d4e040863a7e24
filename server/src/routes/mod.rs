//! Every v1 route. Each handler carries its OpenAPI description (`utoipa::path`), and the
//! router is built from the same list, so `GET /v1/openapi.json` cannot drift.

mod admin;
mod approvals;
mod auth;
mod dev;
mod devices;
mod email_code;
mod events;
mod vaults;

use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Vouch", version = "1", description = "Vouch v1 HTTP contract (reference server)"),
    components(schemas(vouch_proto::ErrorBody, vouch_proto::Event)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes; `dev` adds the dev outbox and the dev clock.
pub fn router(dev: bool) -> OpenApiRouter<AppState> {
    let r = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(devices::register, devices::list))
        .routes(routes!(devices::disable))
        .routes(routes!(email_code::send))
        .routes(routes!(email_code::verify))
        .routes(routes!(approvals::open))
        .routes(routes!(approvals::list_pending))
        .routes(routes!(approvals::get))
        .routes(routes!(approvals::cancel))
        .routes(routes!(approvals::start_run))
        .routes(routes!(approvals::get_run))
        .routes(routes!(approvals::respond))
        .routes(routes!(approvals::abort))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::ack))
        .routes(routes!(approvals::deny))
        .routes(routes!(events::stream))
        .routes(routes!(vaults::create, vaults::list))
        .routes(routes!(vaults::list_items))
        .routes(routes!(vaults::put_item))
        .routes(routes!(admin::devices))
        .routes(routes!(admin::deprovision))
        .routes(routes!(admin::unlock));
    if dev {
        r.routes(routes!(dev::outbox)).routes(routes!(dev::clock))
    } else {
        r
    }
}
