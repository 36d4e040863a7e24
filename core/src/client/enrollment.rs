//! Signing in, naming the device, and verification by email code.

use uuid::Uuid;
use vouch_proto::routes;
use vouch_proto::{
    CodeSent, Device, ErrorCode, LoginRequest, LoginResponse, RegisterDeviceRequest, TrustedDevice,
    VerifyCodeRequest, default_device_name, validate_device_name,
};

use super::{ApprovalPrompt, Client, EnrollmentState, Verification, state::Tokens};

/// How [`Client::start_verification`] went on.
#[derive(Debug, Clone)]
pub enum VerificationStarted {
    /// A key holder can approve: show this code and QR, then wait for the decision.
    Approval(ApprovalPrompt),
    /// Nobody can approve this device (the user's first): a code was emailed; the state
    /// says when it expires and when another may be sent.
    EmailCode(EnrollmentState),
}
use crate::{
    crypto::{DeviceIdentity, PublicKey},
    error::{Error, Result},
};

impl Client {
    /// Signs in with email and password. From `SignedOut` (or a finished/wiped/denied
    /// enrollment) to `Untrusted`; the account token is kept sealed.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<EnrollmentState> {
        let _t = self.inner.transition.lock().await;
        if matches!(
            self.state(),
            EnrollmentState::Trusted { .. } | EnrollmentState::Verifying { .. }
        ) {
            return Err(Error::InvalidState("already signed in on this device"));
        }
        let req = LoginRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
        };
        let resp: LoginResponse = self.inner.transport.post(routes::LOGIN, None, &req).await?;
        let state = EnrollmentState::Untrusted {
            user: resp.user,
            reminded_later: false,
        };
        self.persist(
            state.clone(),
            Some(Tokens {
                account: Some(resp.account_token),
                device: None,
            }),
        )?;
        Ok(state)
    }

    /// "Remind me later": stays signed in but not secure (no vault access); setup stays
    /// reachable from the profile.
    pub async fn remind_me_later(&self) -> Result<EnrollmentState> {
        let _t = self.inner.transition.lock().await;
        match self.state() {
            EnrollmentState::Untrusted { user, .. } => {
                let state = EnrollmentState::Untrusted {
                    user,
                    reminded_later: true,
                };
                self.persist(state.clone(), None)?;
                Ok(state)
            }
            _ => Err(Error::InvalidState(
                "only an untrusted session can postpone setup",
            )),
        }
    }

    /// The suggested name `[username][device name] - [OS]/[browser or app]`.
    pub fn default_device_name(&self) -> Result<String> {
        let user = self
            .state()
            .user()
            .cloned()
            .ok_or(Error::InvalidState("not signed in"))?;
        let d = &self.inner.device;
        Ok(default_device_name(&user.username, &d.model, &d.os, &d.app))
    }

    /// Names this device and registers it as pending (new X25519 identity made on the
    /// device; only the public key leaves it). `Untrusted`/`Denied`/`Expired` → `Verifying`.
    pub async fn register_device(&self, name: &str) -> Result<EnrollmentState> {
        let _t = self.inner.transition.lock().await;
        let (user, retry) = match self.state() {
            EnrollmentState::Untrusted { user, .. } => (user, true),
            EnrollmentState::Denied { user } | EnrollmentState::Expired { user } => (user, false),
            _ => {
                return Err(Error::InvalidState(
                    "sign in first (or this device is already registered)",
                ));
            }
        };
        let name = validate_device_name(name)
            .map_err(|e| Error::InvalidInput(e.to_string()))?
            .to_owned();
        let account = self.account_token()?;
        // The identity is saved before it is announced, so a crash cannot lose the secret
        // half of a key the server already knows. An untrusted session that already made
        // one (an attempt that failed, or a crash after the server registered it) keeps
        // it: the server answers a repeated registration of the same pending key with
        // the same device, so the device is never orphaned. After a denial or expiry the
        // device starts over with a fresh key.
        let identity = match self.inner.store.identity()? {
            Some(existing) if retry => existing,
            _ => {
                let fresh = DeviceIdentity::generate()?;
                self.inner.store.save_identity(&fresh)?;
                fresh
            }
        };
        let d = &self.inner.device;
        let req = RegisterDeviceRequest {
            name: name.clone(),
            kind: d.kind,
            platform: format!("{} / {}", d.os, d.app),
            key_bundle: identity.bundle().into(),
        };
        let device: Device = self
            .inner
            .transport
            .post(routes::DEVICES, Some(&account), &req)
            .await?;
        if PublicKey::from_bundle(&device.key_bundle.0)? != *identity.public_key() {
            return Err(Error::Protocol("server registered another key"));
        }
        let state = EnrollmentState::Verifying {
            user,
            device_id: device.id,
            device_name: device.name,
            verification: Verification::NotStarted,
        };
        self.persist(state.clone(), None)?;
        self.inner
            .store
            .audit("device_registered", &device.id.to_string())?;
        Ok(state)
    }

    /// Starts verifying this registered device the way that can work: an approval from a
    /// key holder when the user has one; otherwise (the user's first device, which nobody
    /// can approve) an email code is sent, which makes it the first key holder.
    pub async fn start_verification(&self) -> Result<VerificationStarted> {
        match self.start_approval().await {
            Ok(prompt) => Ok(VerificationStarted::Approval(prompt)),
            Err(Error::Server {
                code: ErrorCode::EmailCodeRequired,
                ..
            }) => Ok(VerificationStarted::EmailCode(
                self.request_email_code().await?,
            )),
            Err(e) => Err(e),
        }
    }

    pub(super) fn verifying(&self) -> Result<(vouch_proto::UserInfo, Uuid, String)> {
        match self.state() {
            EnrollmentState::Verifying {
                user,
                device_id,
                device_name,
                ..
            } => Ok((user, device_id, device_name)),
            _ => Err(Error::InvalidState(
                "this device is not waiting for verification",
            )),
        }
    }

    /// Sends (or re-sends) an email code. Also the path of "I don't have access to my
    /// trusted device". A re-send too soon fails with `too_many_requests` and
    /// `retry_after_secs`.
    pub async fn request_email_code(&self) -> Result<EnrollmentState> {
        let _t = self.inner.transition.lock().await;
        let (user, device_id, device_name) = self.verifying()?;
        let account = self.account_token()?;
        let sent: CodeSent = self
            .inner
            .transport
            .post(
                &routes::fill(routes::DEVICE_EMAIL_CODE, &[&device_id]),
                Some(&account),
                &(),
            )
            .await?;
        let state = EnrollmentState::Verifying {
            user,
            device_id,
            device_name,
            verification: Verification::EmailCode {
                expires_at: sent.expires_at,
                resend_after: sent.resend_after,
            },
        };
        self.persist(state.clone(), None)?;
        Ok(state)
    }

    /// Submits the emailed code. On success the device is `Trusted` (verified by email:
    /// vault keys arrive only when a key-holding device approves sharing). Wrong, expired
    /// and locked codes are `Error::Server` with `invalid_code` (and `attempts_left`),
    /// `code_expired`, `code_locked`.
    pub async fn submit_email_code(&self, code: &str) -> Result<EnrollmentState> {
        let _t = self.inner.transition.lock().await;
        let (user, device_id, _) = self.verifying()?;
        let account = self.account_token()?;
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let resp: Result<TrustedDevice> = self
            .inner
            .transport
            .post(
                &routes::fill(routes::DEVICE_EMAIL_CODE_VERIFY, &[&device_id]),
                Some(&account),
                &VerifyCodeRequest { code },
            )
            .await;
        let trusted = match resp {
            Ok(t) => t,
            Err(Error::Server {
                code: ErrorCode::DeviceNotPending,
                ..
            }) => {
                return Err(Error::InvalidState(
                    "the server no longer has this device pending",
                ));
            }
            Err(e) => return Err(e),
        };
        let state = EnrollmentState::Trusted {
            user,
            device_id,
            device_name: trusted.device.name,
            verified_by: vouch_proto::VerifiedBy::EmailCode,
            // The server decides (a key holder only for a user who never had one); an
            // answer without a tier is read as the weaker one.
            tier: trusted.device.tier.unwrap_or(vouch_proto::Tier::EmailOnly),
        };
        let tokens = Tokens {
            account: Some(account),
            device: Some(trusted.device_token),
        };
        self.persist(state.clone(), Some(tokens))?;
        self.inner.store.audit("trusted", "email_code")?;
        // The user's first key holder starts the vouch chain (its self-signed root); if
        // that fails now, the next sync or approval makes it.
        if state.is_key_holder()
            && let Err(e) = self.sync_chain().await
        {
            log::warn!("the vouch chain was not started yet: {e}");
        }
        Ok(state)
    }
}
