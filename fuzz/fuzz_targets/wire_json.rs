#![no_main]
//! Server answers and SSE event data: every wire type decodes garbage without panicking.
use libfuzzer_sys::fuzz_target;
use vouch_core::proto::{
    ApprovalState, Bytes, Device, ErrorBody, Event, ItemRecord, LoginResponse, PendingApproval,
};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<ErrorBody>(data);
    let _ = serde_json::from_slice::<Event>(data);
    let _ = serde_json::from_slice::<ApprovalState>(data);
    let _ = serde_json::from_slice::<PendingApproval>(data);
    let _ = serde_json::from_slice::<Vec<ItemRecord>>(data);
    let _ = serde_json::from_slice::<Vec<Device>>(data);
    let _ = serde_json::from_slice::<LoginResponse>(data);
    let _ = serde_json::from_slice::<Bytes>(data);
});
