//! The console's HTML pages (server-rendered with askama; no script at all). Every page
//! works through the API's own handlers and rules, called with the approving device as
//! the caller: the console can do exactly what that device may do (rule 8), and admin
//! pages only when an admin's key holder approved it.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Redirect, Response},
    routing::{MethodRouter, any, get, post},
};
use uuid::Uuid;
use vouch_proto::{
    AdminUser, AuditEvent, Device, DeviceKind, DeviceStatus, ErrorCode, LoginRequest, RenameDevice,
    Role, Tier, VerifiedBy,
};

use super::session::{self, Ended, Resolved, SessionRow, Token};
use crate::{
    AppState,
    audit::Actor,
    auth::{DeviceCaller, KeyHolder, Origin},
    error::ApiError,
    extract::{JsonBody, PathParams, QueryParams},
    model::{now, token_hash, ts},
};

/// The console's one stylesheet.
const STYLE: &str = include_str!("style.css");

/// The console's routes (HTML; not part of the JSON contract). Every answer, a wrong
/// method's 405 and an unknown path's 404 included, is a console page with the
/// console's security headers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", page(get(home)))
        .route("/console/", page(get(home)))
        .route("/console/style.css", page(get(style)))
        .route("/console/login", page(get(login_form).post(login)))
        .route("/console/wait", page(get(wait)))
        .route("/console/logout", page(post(logout)))
        .route("/console/devices", page(get(devices)))
        .route(
            "/console/devices/{id}/disable",
            page(get(confirm_disable).post(disable)),
        )
        .route("/console/devices/{id}/rename", page(post(rename)))
        .route("/console/sessions/{id}/revoke", page(post(revoke)))
        .route("/console/admin", page(get(admin)))
        .route(
            "/console/admin/users/{id}/deprovision",
            page(get(confirm_deprovision).post(deprovision)),
        )
        .route("/console/admin/users/{id}/unlock", page(post(unlock)))
        .route("/console/admin/audit", page(get(audit)))
        .route("/console/{*rest}", any(not_found))
        .layer(middleware::from_fn(security_headers))
}

/// A console route whose other methods answer the console's 405 page (set here, before
/// the headers layer wraps it, so the API's JSON 405 never stands in for it).
fn page(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(method_not_allowed)
}

/// A console path asked with a method it does not take: a page, like its 404.
async fn method_not_allowed() -> Response {
    render(
        &MessagePage {
            nav: None,
            title: "Not allowed".into(),
            message: "This page does not take that kind of request.".into(),
            back: "/console".into(),
        },
        StatusCode::METHOD_NOT_ALLOWED,
    )
}

/// Strict headers on every console answer: no script, no framing, no caching, no referrer.
async fn security_headers(req: axum::extract::Request, next: middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

// ---- plumbing ----------------------------------------------------------------------------

/// A page that could not be shown: an error page or a redirect (never a 500 for input).
struct PageError(Box<Response>);

impl PageError {
    fn page(r: Response) -> Self {
        Self(Box::new(r))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError::page(error_page(&e, None))
    }
}

type PageResult = Result<Response, PageError>;

/// The navigation of a signed-in console.
struct Nav {
    email: String,
    admin: bool,
    csrf: String,
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage {
    nav: Option<Nav>,
    title: String,
    message: String,
    back: String,
}

fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(_) => {
            log::error!("a console template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn error_page(e: &ApiError, nav: Option<Nav>) -> Response {
    let status = StatusCode::from_u16(e.code().status()).unwrap_or(StatusCode::BAD_REQUEST);
    let title = match e.code() {
        ErrorCode::Forbidden | ErrorCode::KeyHolderRequired => "Not allowed",
        ErrorCode::NotFound => "Not found",
        ErrorCode::TooManyRequests => "Too many attempts",
        _ => "That did not work",
    };
    render(
        &MessagePage {
            nav,
            title: title.into(),
            message: e.to_string(),
            back: "/console".into(),
        },
        status,
    )
}

/// Any other `/console/…` path: a page (with the console's headers), not the API's JSON.
async fn not_found() -> Response {
    render(
        &MessagePage {
            nav: None,
            title: "Not found".into(),
            message: "There is no such page in the console.".into(),
            back: "/console".into(),
        },
        StatusCode::NOT_FOUND,
    )
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Most values of one cookie name a request is read for.
const MAX_COOKIE_VALUES: usize = 8;

/// Every value the browser sent under `name`, in its order (at most
/// [`MAX_COOKIE_VALUES`]): a browser sends a cookie set with a narrower `Path` first, and
/// on loopback (no `__Host-` prefix) another local site can plant one.
fn cookies_named(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, v)| *k == name && !v.is_empty() && v.len() <= 200)
        .map(|(_, v)| v.to_owned())
        .take(MAX_COOKIE_VALUES)
        .collect()
}

/// The console's two cookies as this server names them. `Secure` is decided by the
/// configuration ([`crate::Settings::console_secure_cookies`]: off loopback, or the
/// flag), never by the request's `Host` header; `Secure` cookies carry the `__Host-`
/// prefix (and so `Path=/`, no `Domain`), plain ones (loopback) stay on `/console`.
#[derive(Clone, Copy)]
struct Cookies {
    secure: bool,
}

/// Which of the console's cookies.
#[derive(Clone, Copy)]
enum Which {
    /// The session's token.
    Session,
    /// The pre-sign-in secret of the sign-in form's CSRF token.
    Pre,
}

impl Cookies {
    fn of(state: &AppState) -> Self {
        Self {
            secure: state.settings.console_secure_cookies(),
        }
    }

    fn name(self, which: Which) -> String {
        let base = match which {
            Which::Session => session::COOKIE,
            Which::Pre => session::PRE_COOKIE,
        };
        if self.secure {
            format!("{}{base}", session::SECURE_PREFIX)
        } else {
            base.to_owned()
        }
    }

    /// Every value the browser sent (see [`cookies_named`]).
    fn all(self, headers: &HeaderMap, which: Which) -> Vec<String> {
        cookies_named(headers, &self.name(which))
    }

    /// The session tokens the browser sent.
    fn sessions(self, headers: &HeaderMap) -> Vec<Token> {
        self.all(headers, Which::Session)
            .into_iter()
            .map(Token)
            .collect()
    }

    /// The `Set-Cookie` value that sets (or, with `clear`, removes) the cookie.
    fn set(self, which: Which, value: &str, clear: bool) -> HeaderValue {
        let name = self.name(which);
        let mut c = if self.secure {
            format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Secure")
        } else {
            format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict")
        };
        if clear {
            c.push_str("; Max-Age=0");
        }
        HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
    }
}

fn with_cookie(mut resp: Response, value: HeaderValue) -> Response {
    resp.headers_mut().append(header::SET_COOKIE, value);
    resp
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn query(q: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn parse_id(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found("page").into())
}

/// A signed-in, approved console.
struct Ctx {
    session: SessionRow,
    /// The approving device as a caller of the API's rules; an admin only when an admin's
    /// key holder approved this console.
    caller: DeviceCaller,
    csrf: String,
}

impl Ctx {
    fn nav(&self) -> Nav {
        Nav {
            email: self.caller.user.email.clone(),
            admin: self.session.admin,
            csrf: self.csrf.clone(),
        }
    }

    fn key_holder(&self) -> KeyHolder {
        KeyHolder(self.caller.clone())
    }

    fn require_admin(&self) -> Result<(), PageError> {
        if self.session.admin && self.caller.user.role == Role::Admin {
            Ok(())
        } else {
            Err(PageError::page(error_page(
                &ApiError::forbidden(
                    "the admin pages need a console approved by an admin's key holder",
                ),
                Some(self.nav()),
            )))
        }
    }

    /// A posted form's CSRF token must be this session's.
    fn check(&self, token: &Token, f: &HashMap<String, String>) -> Result<(), PageError> {
        check_csrf(&token.0, f, Some(self.nav()))
    }

    /// The page an API refusal becomes (with this console's navigation).
    fn refused(&self, e: ApiError) -> PageError {
        PageError::page(error_page(&e, Some(self.nav())))
    }
}

/// Who may post an action form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Any approved console (the API's rules decide the rest).
    Session,
    /// A console an admin's key holder approved.
    Admin,
}

/// A posted action form about `/…/{id}/…`: the approved session, the form's fields (its
/// CSRF token checked first, then the admin requirement) and the id from the path.
async fn action_form(
    state: &AppState,
    headers: &HeaderMap,
    raw_id: &str,
    body: &Bytes,
    needs: Needs,
) -> Result<(Ctx, HashMap<String, String>, Uuid), PageError> {
    let (c, token) = ctx(state, headers).await?;
    let f = form(body);
    c.check(&token, &f)?;
    if needs == Needs::Admin {
        c.require_admin()?;
    }
    let id = parse_id(raw_id)?;
    Ok((c, f, id))
}

fn check_csrf(
    secret: &str,
    f: &HashMap<String, String>,
    nav: Option<Nav>,
) -> Result<(), PageError> {
    let given = f.get("csrf").map(String::as_str).unwrap_or("");
    if session::csrf_ok(secret, given) {
        Ok(())
    } else {
        Err(PageError::page(error_page(
            &ApiError::forbidden(
                "this form did not come from your console page (its security token is missing or stale): reload the page and try again",
            ),
            nav,
        )))
    }
}

fn ended_redirect(state: &AppState, why: Ended) -> PageError {
    let key = match why {
        Ended::Unknown => "unknown",
        Ended::Expired => "expired",
        Ended::ApproverGone => "approver",
        Ended::Elsewhere => "elsewhere",
    };
    PageError::page(with_cookie(
        see_other(&format!("/console/login?ended={key}")),
        Cookies::of(state).set(Which::Session, "", true),
    ))
}

/// The approved console of this browser, or a redirect (sign in; wait for approval).
async fn ctx(state: &AppState, headers: &HeaderMap) -> Result<(Ctx, Token), PageError> {
    let tokens = Cookies::of(state).sessions(headers);
    let best = state
        .db
        .tx(move |tx| session::resolve_best(tx, tokens))
        .await?;
    let Some((token, resolved)) = best else {
        return Err(PageError::page(see_other("/console/login")));
    };
    match resolved {
        // Approved while waiting: the wait page gives the browser its new token.
        Resolved::Approved(_) => Err(PageError::page(see_other("/console/wait"))),
        // Waiting: the way in is the password form (a sign-in there replaces it), never
        // the wait page of a cookie this browser may have been given by someone else.
        Resolved::Pending(_) => Err(PageError::page(see_other("/console/login"))),
        Resolved::Ended(why) => Err(ended_redirect(state, why)),
        Resolved::Active(session, caller) => {
            let mut caller = *caller;
            if !session.admin {
                // Not approved by an admin's key holder: the API's rules see a member.
                caller.user.role = Role::Member;
            }
            let csrf = session::csrf_for(&token.0);
            Ok((
                Ctx {
                    session,
                    caller,
                    csrf,
                },
                token,
            ))
        }
    }
}

fn day_time(t: &time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn secs(t: i64) -> String {
    day_time(&ts(t))
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    ctx(&state, &headers).await?;
    Ok(see_other("/console/devices"))
}

// ---- sign-in and approval -----------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    email: String,
    notice: String,
    error: String,
}

async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let cookies = Cookies::of(&state);
    let tokens = cookies.sessions(&headers);
    // An approved console goes on; a pending cookie (maybe one somebody else planted)
    // never skips the password: signing in replaces it.
    if let Some((_, Resolved::Active(..) | Resolved::Approved(_))) = state
        .db
        .tx(move |tx| session::resolve_best(tx, tokens))
        .await?
    {
        return Ok(see_other("/console"));
    }
    let q = query(q.as_deref());
    let notice = match q.get("ended").map(String::as_str) {
        Some("expired") => Ended::Expired.sentence(),
        Some("approver") => Ended::ApproverGone.sentence(),
        Some("unknown") => Ended::Unknown.sentence(),
        Some("elsewhere") => Ended::Elsewhere.sentence(),
        Some("signed_out") => "You signed out of the console.",
        _ => "",
    };
    let (pre, fresh) = match cookies.all(&headers, Which::Pre).pop() {
        // The last one sent: a planted one with a narrower `Path` comes first.
        Some(p) => (p, false),
        None => {
            let (p, _) = crate::model::new_token("")?;
            (p, true)
        }
    };
    let page = render(
        &LoginPage {
            nav: None,
            csrf: session::csrf_for(&pre),
            email: String::new(),
            notice: notice.into(),
            error: String::new(),
        },
        StatusCode::OK,
    );
    Ok(if fresh {
        with_cookie(page, cookies.set(Which::Pre, &pre, false))
    } else {
        page
    })
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Origin(origin): Origin,
    body: Bytes,
) -> PageResult {
    let f = form(&body);
    let cookies = Cookies::of(&state);
    let pres = cookies.all(&headers, Which::Pre);
    let Some(last) = pres.last() else {
        return Err(PageError::page(see_other("/console/login")));
    };
    // The form's token came from one of them (see `login_form`).
    let given = f.get("csrf").map(String::as_str).unwrap_or("");
    let pre = pres
        .iter()
        .find(|p| session::csrf_ok(p, given))
        .unwrap_or(last)
        .clone();
    check_csrf(&pre, &f, None)?;
    let email = f.get("email").cloned().unwrap_or_default();
    let req = LoginRequest {
        email: email.clone(),
        password: f.get("password").cloned().unwrap_or_default(),
    };
    // The API's own sign-in: the same password check and the same throttle.
    let signed_in =
        super::super::auth::login(State(state.clone()), Origin(origin), JsonBody(req)).await;
    let resp = match signed_in {
        Ok(Json(r)) => r,
        Err(e) => return Ok(login_refused(&pre, email, &e)),
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let account = token_hash(&resp.account_token);
    let user = resp.user.id;
    let origin = origin.to_string();
    let rate = state.settings.approval_rate_limit;
    let replaces = cookies.sessions(&headers);
    let created = state
        .db
        .tx(move |tx| {
            // The console needs no account token: the one sign-in made goes at once
            // (committed even when the console sign-in is refused).
            tx.execute("DELETE FROM account_tokens WHERE hash = ?1", [account])?;
            match session::create(tx, user, &user_agent, &origin, rate, &replaces) {
                Err(e) if e.code() == ErrorCode::TooManyRequests => Ok(Err(e)),
                other => other.map(Ok),
            }
        })
        .await?;
    let token = match created {
        Ok(t) => t,
        Err(e) => return Ok(login_refused(&pre, email, &e)),
    };
    // Always a new session and a new cookie at sign-in; the pre-sign-in cookie goes.
    let resp = see_other("/console/wait");
    let resp = with_cookie(resp, cookies.set(Which::Session, &token.0, false));
    Ok(with_cookie(resp, cookies.set(Which::Pre, "", true)))
}

/// The sign-in form again, saying why the sign-in was refused (wrong password, the
/// throttle, too many sign-ins waiting).
fn login_refused(pre: &str, email: String, e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.code().status()).unwrap_or(StatusCode::BAD_REQUEST);
    render(
        &LoginPage {
            nav: None,
            csrf: session::csrf_for(pre),
            email,
            notice: String::new(),
            error: e.to_string(),
        },
        status,
    )
}

#[derive(Template)]
#[template(path = "console/wait.html")]
struct WaitPage {
    nav: Option<Nav>,
    /// The session's id (opens nothing): picks it among several waiting.
    id: String,
    csrf: String,
    code: String,
    grouped: String,
    qr: String,
    user_agent: String,
    origin: String,
    expires: String,
}

/// The QR of the code, as inline SVG (no script, no external image).
fn qr_svg(text: &str) -> String {
    use qrcode::{QrCode, render::svg};
    let Ok(code) = QrCode::new(text.as_bytes()) else {
        return String::new();
    };
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(180, 180)
        .quiet_zone(true)
        .build();
    let start = svg.find("<svg").unwrap_or(0);
    svg[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code of the console code\" ",
        1,
    )
}

/// What the wait page found.
enum Waited {
    /// The session was approved: the browser's new token.
    Rotated(Token),
    /// Anything else.
    Resolved(Resolved),
}

async fn wait(
    State(state): State<AppState>,
    headers: HeaderMap,
    Origin(origin): Origin,
) -> PageResult {
    let cookies = Cookies::of(&state);
    let tokens = cookies.sessions(&headers);
    let origin = origin.to_string();
    let resolved = state
        .db
        .tx(move |tx| {
            let Some((t, resolved)) = session::resolve_best(tx, tokens)? else {
                return Ok(None);
            };
            if let Resolved::Approved(row) | Resolved::Pending(row) = &resolved
                && let Some(why) = session::refuse_elsewhere(tx, row, &origin)?
            {
                return Ok(Some((t, Waited::Resolved(Resolved::Ended(why)))));
            }
            let waited = match resolved {
                // Approved: the pending token is swapped for a new one, here and only once.
                Resolved::Approved(row) => match session::rotate(tx, &t, row.id)? {
                    Some(fresh) => Waited::Rotated(fresh),
                    None => Waited::Resolved(Resolved::Ended(Ended::Unknown)),
                },
                other => Waited::Resolved(other),
            };
            Ok(Some((t, waited)))
        })
        .await?;
    let Some((token, resolved)) = resolved else {
        return Ok(see_other("/console/login"));
    };
    let resolved = match resolved {
        Waited::Rotated(fresh) => {
            return Ok(with_cookie(
                see_other("/console/devices"),
                cookies.set(Which::Session, &fresh.0, false),
            ));
        }
        Waited::Resolved(r) => r,
    };
    match resolved {
        Resolved::Active(..) | Resolved::Approved(_) => Ok(see_other("/console/devices")),
        Resolved::Ended(why) => Err(ended_redirect(&state, why)),
        Resolved::Pending(row) => {
            let code = session::code_for(&token);
            let mut resp = render(
                &WaitPage {
                    nav: None,
                    id: row.id.to_string(),
                    csrf: session::csrf_for(&token.0),
                    grouped: session::grouped(&code),
                    qr: qr_svg(&format!("vouch-console:{code}")),
                    code,
                    user_agent: row.user_agent.clone(),
                    origin: row.origin.clone(),
                    expires: secs(row.expires_at()),
                },
                StatusCode::OK,
            );
            // The page looks again every 5 s (no script): approved → the console.
            resp.headers_mut()
                .insert(header::REFRESH, HeaderValue::from_static("5"));
            Ok(resp)
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Origin(origin): Origin,
    body: Bytes,
) -> PageResult {
    let f = form(&body);
    let cookies = Cookies::of(&state);
    let tokens = cookies.sessions(&headers);
    let Some(first) = tokens.first() else {
        return Ok(see_other("/console/login"));
    };
    // The session whose page the form came from (its CSRF token names it).
    let given = f.get("csrf").map(String::as_str).unwrap_or("");
    let t = tokens
        .iter()
        .find(|t| session::csrf_ok(&t.0, given))
        .unwrap_or(first)
        .clone();
    check_csrf(&t.0, &f, None)?;
    let origin = origin.to_string();
    state
        .db
        .tx(move |tx| {
            match session::resolve(tx, &t)? {
                Resolved::Active(s, caller) => {
                    let actor = Actor::of(&caller, &origin);
                    session::revoke(tx, s.user_id, s.id, &actor)?;
                }
                Resolved::Approved(s) => {
                    let actor = Actor {
                        device: s.approved_by,
                        origin: Some(origin.clone()),
                        console: Some(s.id),
                    };
                    session::revoke(tx, s.user_id, s.id, &actor)?;
                }
                Resolved::Pending(s) => session::end_pending(tx, &s, &origin)?,
                Resolved::Ended(_) => {}
            }
            Ok(())
        })
        .await?;
    Ok(with_cookie(
        see_other("/console/login?ended=signed_out"),
        cookies.set(Which::Session, "", true),
    ))
}

// ---- my trusted devices -------------------------------------------------------------------

/// A device as the pages show it.
struct DeviceView {
    id: String,
    name: String,
    kind: String,
    platform: String,
    status: String,
    created: String,
    last_seen: String,
    verified: String,
    email: String,
    this: bool,
    trusted: bool,
    pending: bool,
}

fn status_label(d: &Device) -> &'static str {
    match (d.status, d.tier) {
        (DeviceStatus::Pending, _) => "Pending approval",
        (DeviceStatus::Trusted, Some(Tier::KeyHolder)) => "Trusted · key holder",
        (DeviceStatus::Trusted, _) => "Email-only",
        (DeviceStatus::Disabled, _) => "Disabled",
        (DeviceStatus::Denied, _) => "Denied",
        (DeviceStatus::Expired, _) => "Expired",
    }
}

fn view(d: &Device, all: &[Device], this: Uuid, email: &str) -> DeviceView {
    let verified = match d.verified_by {
        Some(VerifiedBy::EmailCode) => "email code".to_owned(),
        Some(VerifiedBy::Approval) => {
            match d.approved_by.and_then(|a| all.iter().find(|x| x.id == a)) {
                Some(a) => format!("approved by {}", a.name),
                None => "approved by a key holder".to_owned(),
            }
        }
        None => "—".to_owned(),
    };
    let verified = match (d.verified_by, d.approved_by) {
        (Some(VerifiedBy::EmailCode), Some(a)) => {
            let by = all
                .iter()
                .find(|x| x.id == a)
                .map_or("a key holder", |x| x.name.as_str());
            format!("{verified}; keys shared by {by}")
        }
        _ => verified,
    };
    DeviceView {
        id: d.id.to_string(),
        name: d.name.clone(),
        kind: vouch_proto::enum_name(&d.kind),
        platform: d.platform.clone(),
        status: status_label(d).into(),
        created: day_time(&d.created_at),
        last_seen: d.last_seen_at.as_ref().map_or_else(|| "—".into(), day_time),
        verified,
        email: email.to_owned(),
        this: d.id == this,
        trusted: d.status == DeviceStatus::Trusted,
        pending: d.status == DeviceStatus::Pending,
    }
}

/// A console session as the devices page lists it.
struct SessionView {
    id: String,
    status: String,
    user_agent: String,
    origin: String,
    started: String,
    expires: String,
    approved_by: String,
    this: bool,
}

#[derive(Template)]
#[template(path = "console/devices.html")]
struct DevicesPage {
    nav: Option<Nav>,
    csrf: String,
    done: String,
    approver: String,
    /// May disable the user's devices (a web key holder's console, or an admin's).
    can_manage: bool,
    /// May rename the user's other devices (a web key holder's console).
    can_rename: bool,
    devices: Vec<DeviceView>,
    pending: usize,
    live: usize,
    limit: u32,
    sessions: Vec<SessionView>,
}

fn done_sentence(q: &HashMap<String, String>) -> String {
    match q.get("done").map(String::as_str) {
        Some("disabled") => {
            "The device was disabled: it is signed out (a key holder keeps its keys locked until one of your key holders signs its removal with `vouch devices disable`)."
        }
        Some("renamed") => "The device was renamed.",
        Some("revoked") => "The console session was ended.",
        Some("deprovisioned") => "The user was deprovisioned: every device of theirs is disabled.",
        Some("unlocked") => "The user's sign-in and email-code verification were unlocked.",
        _ => "",
    }
    .into()
}

async fn devices(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let (c, _) = ctx(&state, &headers).await?;
    let Json(list) = super::super::devices::list(State(state.clone()), c.caller.clone()).await?;
    let user = c.caller.user.id;
    let sessions = state.db.tx(move |tx| session::list(tx, user)).await?;
    let this = c.caller.device.device.id;
    let q = query(q.as_deref());
    let page = DevicesPage {
        nav: Some(c.nav()),
        csrf: c.csrf.clone(),
        done: done_sentence(&q),
        approver: c.caller.device.device.name.clone(),
        can_manage: c.caller.device.device.kind == DeviceKind::Web
            || c.caller.user.role == Role::Admin,
        can_rename: c.caller.device.device.kind == DeviceKind::Web,
        pending: list
            .iter()
            .filter(|d| d.status == DeviceStatus::Pending)
            .count(),
        live: list
            .iter()
            .filter(|d| matches!(d.status, DeviceStatus::Pending | DeviceStatus::Trusted))
            .count(),
        limit: state.settings.device_limit,
        devices: list.iter().map(|d| view(d, &list, this, "")).collect(),
        sessions: sessions
            .iter()
            .map(|s| SessionView {
                id: s.id.to_string(),
                status: match s.status {
                    vouch_proto::ConsoleStatus::Pending => "Waiting for approval".into(),
                    vouch_proto::ConsoleStatus::Active if s.admin => "Active · admin".into(),
                    vouch_proto::ConsoleStatus::Active => "Active".into(),
                },
                user_agent: s.user_agent.clone(),
                origin: s.origin.clone(),
                started: day_time(&s.wire().created_at),
                expires: secs(s.expires_at()),
                approved_by: s
                    .approved_by
                    .and_then(|a| list.iter().find(|d| d.id == a))
                    .map_or_else(String::new, |d| d.name.clone()),
                this: s.id == c.session.id,
            })
            .collect(),
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "console/confirm_disable.html")]
struct ConfirmDisablePage {
    nav: Option<Nav>,
    csrf: String,
    device: DeviceView,
    last_key_holder: bool,
    ends_console: bool,
    /// One of the user's own key holders: a console does not disable it (see `disable`).
    own_key_holder: bool,
    back: String,
}

/// Whether `d` is a trusted key holder of the console's own user. A console holds no key
/// and signs nothing: a key holder it disabled would only lock, and one phished console
/// approval could lock every key holder of the user (black-box review, stop 16, A-F4).
/// Key holders are disabled from a key holder, which signs the revocation on the chain.
fn own_key_holder(c: &Ctx, d: &Device) -> bool {
    d.user_id == c.caller.user.id
        && d.status == DeviceStatus::Trusted
        && d.tier == Some(Tier::KeyHolder)
}

/// The device `id` and its user's devices, if this console may see it (the user's own;
/// any of the workspace for an admin console).
async fn target(
    state: &AppState,
    c: &Ctx,
    id: Uuid,
) -> Result<(Device, Vec<Device>, String), PageError> {
    let Json(mine) = super::super::devices::list(State(state.clone()), c.caller.clone()).await?;
    if let Some(d) = mine.iter().find(|d| d.id == id) {
        return Ok((d.clone(), mine.clone(), c.caller.user.email.clone()));
    }
    if c.session.admin && c.caller.user.role == Role::Admin {
        let q = serde_json::from_value(serde_json::json!({})).map_err(|_| ApiError::internal())?;
        let Json(all) =
            super::super::admin::devices(State(state.clone()), c.key_holder(), QueryParams(q))
                .await?;
        if let Some(d) = all.iter().find(|d| d.id == id).cloned() {
            let theirs: Vec<Device> = all.into_iter().filter(|x| x.user_id == d.user_id).collect();
            let Json(users) = admin_users(state, c).await?;
            let email = users
                .iter()
                .find(|u| u.id == d.user_id)
                .map_or_else(String::new, |u| u.email.clone());
            return Ok((d, theirs, email));
        }
    }
    Err(ApiError::not_found("device").into())
}

async fn admin_users(state: &AppState, c: &Ctx) -> Result<Json<Vec<AdminUser>>, ApiError> {
    let q = serde_json::from_value(serde_json::json!({})).map_err(|_| ApiError::internal())?;
    super::super::admin::users(State(state.clone()), c.key_holder(), QueryParams(q)).await
}

fn back_to(f: &HashMap<String, String>) -> &'static str {
    match f.get("back").map(String::as_str) {
        Some("admin") => "/console/admin",
        _ => "/console/devices",
    }
}

async fn confirm_disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> PageResult {
    let (c, _) = ctx(&state, &headers).await?;
    let id = parse_id(&raw)?;
    let (d, theirs, email) = target(&state, &c, id).await?;
    let key_holders = theirs
        .iter()
        .filter(|x| x.status == DeviceStatus::Trusted && x.tier == Some(Tier::KeyHolder))
        .count();
    let last_key_holder =
        d.status == DeviceStatus::Trusted && d.tier == Some(Tier::KeyHolder) && key_holders == 1;
    let q = query(q.as_deref());
    let page = ConfirmDisablePage {
        nav: Some(c.nav()),
        csrf: c.csrf.clone(),
        device: view(&d, &theirs, c.caller.device.device.id, &email),
        last_key_holder,
        ends_console: d.id == c.caller.device.device.id,
        own_key_holder: own_key_holder(&c, &d),
        back: if q.get("back").map(String::as_str) == Some("admin") {
            "admin".into()
        } else {
            "devices".into()
        },
    };
    Ok(render(&page, StatusCode::OK))
}

async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Origin(origin): Origin,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let (c, f, id) = action_form(&state, &headers, &raw, &body, Needs::Session).await?;
    let also = f
        .get("also_approved")
        .is_some_and(|v| v == "on" || v == "true");
    let (d, theirs, _) = target(&state, &c, id).await?;
    let month_ago = now() - 30 * 24 * 3600;
    let swept = |x: &Device| {
        x.approved_by == Some(d.id)
            && x.verified_at
                .is_some_and(|t| t.unix_timestamp() > month_ago)
    };
    if own_key_holder(&c, &d) || (also && theirs.iter().any(|x| swept(x) && own_key_holder(&c, x)))
    {
        return Err(c.refused(ApiError::forbidden(
            "a key holder is disabled from one of your key holders (vouch devices disable, or the app): it signs the removal on your vouch chain and the device erases itself; a console holds no key and cannot sign it",
        )));
    }
    let q = serde_json::from_value(serde_json::json!({ "also_approved": also }))
        .map_err(|_| ApiError::internal())?;
    // The API's own rule: who may disable what (rule 8).
    let _disabled = super::super::devices::disable(
        State(state.clone()),
        c.key_holder(),
        Origin(origin),
        PathParams(id),
        QueryParams(q),
    )
    .await
    .map_err(|e| c.refused(e))?;
    Ok(see_other(&format!("{}?done=disabled", back_to(&f))))
}

async fn rename(
    State(state): State<AppState>,
    headers: HeaderMap,
    Origin(origin): Origin,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let (c, f, id) = action_form(&state, &headers, &raw, &body, Needs::Session).await?;
    let name = f.get("name").cloned().unwrap_or_default();
    // The API's own rule: a key-holder web device renames the user's devices.
    let _renamed = super::super::manage::rename(
        State(state.clone()),
        c.caller.clone(),
        Origin(origin),
        PathParams(id),
        JsonBody(RenameDevice { name }),
    )
    .await
    .map_err(|e| c.refused(e))?;
    Ok(see_other("/console/devices?done=renamed"))
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Origin(origin): Origin,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let (c, _, id) = action_form(&state, &headers, &raw, &body, Needs::Session).await?;
    let actor = Actor::of(&c.caller, origin);
    let user = c.caller.user.id;
    state
        .db
        .tx(move |tx| session::revoke(tx, user, id, &actor))
        .await
        .map_err(|e| c.refused(e))?;
    if id == c.session.id {
        return Ok(with_cookie(
            see_other("/console/login?ended=signed_out"),
            Cookies::of(&state).set(Which::Session, "", true),
        ));
    }
    Ok(see_other("/console/devices?done=revoked"))
}

// ---- admin --------------------------------------------------------------------------------

/// A user as the admin page lists it.
struct UserView {
    id: String,
    email: String,
    role: String,
    deprovisioned: bool,
    /// The admin looking at the page (who cannot deprovision themselves).
    is_you: bool,
    devices: u32,
    trusted: u32,
}

#[derive(Template)]
#[template(path = "console/admin.html")]
struct AdminPage {
    nav: Option<Nav>,
    csrf: String,
    done: String,
    users: Vec<UserView>,
    devices: Vec<DeviceView>,
    f_user: String,
    f_status: String,
    f_kind: String,
    f_email: String,
    total: usize,
}

async fn admin(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let (c, _) = ctx(&state, &headers).await?;
    c.require_admin()?;
    let q = query(q.as_deref());
    let Json(users) = admin_users(&state, &c).await?;
    let dq = serde_json::from_value(serde_json::json!({})).map_err(|_| ApiError::internal())?;
    let Json(all) =
        super::super::admin::devices(State(state.clone()), c.key_holder(), QueryParams(dq)).await?;
    let f_user = q.get("user").cloned().unwrap_or_default();
    let f_status = q.get("status").cloned().unwrap_or_default();
    let f_kind = q.get("kind").cloned().unwrap_or_default();
    let f_email = q
        .get("email")
        .map(|e| e.trim().to_lowercase())
        .unwrap_or_default();
    let email_of = |id: Uuid| {
        users
            .iter()
            .find(|u| u.id == id)
            .map_or_else(String::new, |u| u.email.clone())
    };
    let this = c.caller.device.device.id;
    let devices: Vec<DeviceView> = all
        .iter()
        .filter(|d| f_user.is_empty() || d.user_id.to_string() == f_user)
        .filter(|d| match f_status.as_str() {
            "" => true,
            "email_only" => d.status == DeviceStatus::Trusted && d.tier != Some(Tier::KeyHolder),
            "key_holder" => d.status == DeviceStatus::Trusted && d.tier == Some(Tier::KeyHolder),
            s => vouch_proto::enum_name(&d.status) == s,
        })
        .filter(|d| f_kind.is_empty() || vouch_proto::enum_name(&d.kind) == f_kind)
        .filter(|d| f_email.is_empty() || email_of(d.user_id).to_lowercase().contains(&f_email))
        .map(|d| view(d, &all, this, &email_of(d.user_id)))
        .collect();
    let page = AdminPage {
        nav: Some(c.nav()),
        csrf: c.csrf.clone(),
        done: done_sentence(&q),
        total: all.len(),
        users: users
            .iter()
            .map(|u| UserView {
                id: u.id.to_string(),
                email: u.email.clone(),
                role: vouch_proto::enum_name(&u.role),
                deprovisioned: u.deprovisioned_at.is_some(),
                is_you: u.id == c.caller.user.id,
                devices: u.devices,
                trusted: u.trusted_devices,
            })
            .collect(),
        devices,
        f_user,
        f_status,
        f_kind,
        f_email,
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "console/confirm_deprovision.html")]
struct ConfirmDeprovisionPage {
    nav: Option<Nav>,
    csrf: String,
    id: String,
    email: String,
    devices: u32,
}

async fn confirm_deprovision(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> PageResult {
    let (c, _) = ctx(&state, &headers).await?;
    c.require_admin()?;
    let id = parse_id(&raw)?;
    let Json(users) = admin_users(&state, &c).await?;
    let u = users
        .iter()
        .find(|u| u.id == id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let page = ConfirmDeprovisionPage {
        nav: Some(c.nav()),
        csrf: c.csrf.clone(),
        id: u.id.to_string(),
        email: u.email.clone(),
        devices: u.devices,
    };
    Ok(render(&page, StatusCode::OK))
}

async fn deprovision(
    State(state): State<AppState>,
    headers: HeaderMap,
    Origin(origin): Origin,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let (c, _, id) = action_form(&state, &headers, &raw, &body, Needs::Admin).await?;
    let _disabled = super::super::admin::deprovision(
        State(state.clone()),
        c.key_holder(),
        Origin(origin),
        PathParams(id),
    )
    .await
    .map_err(|e| c.refused(e))?;
    Ok(see_other("/console/admin?done=deprovisioned"))
}

async fn unlock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Bytes,
) -> PageResult {
    let (c, _, id) = action_form(&state, &headers, &raw, &body, Needs::Admin).await?;
    super::super::admin::unlock(State(state.clone()), c.key_holder(), PathParams(id))
        .await
        .map_err(|e| c.refused(e))?;
    Ok(see_other("/console/admin?done=unlocked"))
}

/// An audit entry as the page shows it.
struct AuditView {
    at: String,
    action: String,
    user: String,
    device: String,
    actor: String,
    origin: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    entries: Vec<AuditView>,
}

async fn audit(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    let (c, _) = ctx(&state, &headers).await?;
    c.require_admin()?;
    let q = serde_json::from_value(serde_json::json!({ "limit": 200 }))
        .map_err(|_| ApiError::internal())?;
    let Json(mut entries): Json<Vec<AuditEvent>> =
        super::super::audit::list(State(state.clone()), c.key_holder(), QueryParams(q)).await?;
    entries.reverse();
    let page = AuditPage {
        nav: Some(c.nav()),
        entries: entries
            .iter()
            .map(|e| AuditView {
                at: day_time(&e.at),
                action: vouch_proto::enum_name(&e.action).replace('_', " "),
                user: e.user_email.clone(),
                device: e.device_name.clone().unwrap_or_default(),
                actor: e
                    .actor_email
                    .clone()
                    .unwrap_or_else(|| "the device itself or the operator".into()),
                origin: e.origin.clone().unwrap_or_default(),
                detail: e.detail.clone().unwrap_or_default(),
            })
            .collect(),
    };
    Ok(render(&page, StatusCode::OK))
}
