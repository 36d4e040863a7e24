//! Every v1 route. Each handler carries its OpenAPI description (`utoipa::path`), and the
//! router is built from the same list, so `GET /v1/openapi.json` cannot drift.

mod admin;
mod approvals;
mod audit;
mod auth;
mod chain;
mod console;
mod dev;
mod devices;
mod email_code;
mod events;
mod manage;
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

/// Adds the answers every route can give, with the v1 error body, where a route's own
/// description does not list them: 400 (bad input: `bad_request`, `invalid_json`,
/// `invalid_public_key`), 404 (`not_found`), 413 (a body over 64 KiB) where there is a
/// body, 500 (`internal`), and for routes with a bearer token 401 (`unauthorized`,
/// `token_expired`) and 403 (`forbidden`, `device_disabled`, `device_not_trusted`,
/// `key_holder_required`). Tested by schemathesis (`scripts/schemathesis.sh`).
struct CommonErrors;

/// Completes the document once every route is in it (see [`CommonErrors`]).
pub(crate) fn complete(api: &mut utoipa::openapi::OpenApi) {
    utoipa::Modify::modify(&CommonErrors, api);
}

impl utoipa::Modify for CommonErrors {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in api.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let mut add = |status: &str, what: &str| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(what).into());
                };
                add("400", "bad_request, invalid_json, invalid_public_key");
                add("404", "not_found");
                add("500", "internal");
                if has_body {
                    add("413", "payload_too_large");
                }
                if secured {
                    add("401", "unauthorized, token_expired");
                    add(
                        "403",
                        "forbidden, device_disabled, device_not_trusted, key_holder_required",
                    );
                }
            }
        }
    }
}

/// The console's HTML pages (not in the JSON contract).
pub fn console_pages() -> axum::Router<AppState> {
    console::pages::router()
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
        .routes(routes!(chain::get, chain::post))
        .routes(routes!(chain::envelopes))
        .routes(routes!(chain::post_envelopes))
        .routes(routes!(chain::rotate))
        .routes(routes!(chain::recovery_envelopes))
        .routes(routes!(chain::recovery_restore))
        .routes(routes!(vaults::create, vaults::list))
        .routes(routes!(vaults::list_items))
        .routes(routes!(vaults::put_item))
        .routes(routes!(vaults::delete))
        .routes(routes!(admin::devices))
        .routes(routes!(admin::deprovision))
        .routes(routes!(admin::unlock))
        .routes(routes!(manage::rename))
        .routes(routes!(manage::sign_out))
        .routes(routes!(admin::users))
        .routes(routes!(admin::reactivate))
        .routes(routes!(audit::list))
        .routes(routes!(console::api::list))
        .routes(routes!(console::api::approve))
        .routes(routes!(console::api::revoke));
    if dev {
        r.routes(routes!(dev::outbox)).routes(routes!(dev::clock))
    } else {
        r
    }
}
