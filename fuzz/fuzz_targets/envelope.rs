#![no_main]
//! Envelope bytes from the server: parse, then try to open (mode_auth_psk, a run's psk);
//! never panics, never opens. The payload container gets the same bytes.
use libfuzzer_sys::fuzz_target;
use vouch_core::crypto::{
    ApprovalCode, ApprovalPayload, ApproverRun, Descriptor, DeviceIdentity, Envelope,
    EnvelopeContext, EnvelopePurpose, PakePassword, RequesterRun, RunContext,
};

fuzz_target!(|data: &[u8]| {
    let id = DeviceIdentity::generate().unwrap();
    let code = ApprovalCode::generate().unwrap();
    let ctx = RunContext {
        purpose: "enroll".into(),
        user_id: uuid::Uuid::nil(),
        request_id: uuid::Uuid::nil(),
        requester_id: uuid::Uuid::nil(),
        approver_id: uuid::Uuid::nil(),
        requester_bundle: id.public_key().bundle(),
        approver_bundle: id.public_key().bundle(),
        descriptor: Descriptor {
            name: String::new(),
            kind: String::new(),
            platform: String::new(),
            origin: String::new(),
        },
    };
    let a = ApproverRun::start(PakePassword::Code(&code), ctx.user_id, ctx.request_id).unwrap();
    let (run, _) = RequesterRun::answer(PakePassword::Code(&code), &ctx, a.message()).unwrap();
    assert!(ApprovalPayload::open(&run, data).is_err());
    if let Ok(env) = Envelope::from_bytes(data) {
        let ectx = EnvelopeContext {
            purpose: EnvelopePurpose::Approval,
            user_id: uuid::Uuid::nil(),
            request_id: uuid::Uuid::nil(),
            vault_id: uuid::Uuid::nil(),
            epoch: 0,
        };
        assert!(env.open(&id, id.public_key(), run.psk(), &ectx).is_err());
    }
});
