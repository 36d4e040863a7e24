//! Every v1 route path, defined once: the server mounts and documents these (its
//! `utoipa::path` attributes name them), the client calls them with [`fill`].

use std::fmt::Display;

/// `/v1/auth/login`: Sign in with email and password.
pub const LOGIN: &str = "/v1/auth/login";
/// `/v1/devices`: Register a device; list the user's devices.
pub const DEVICES: &str = "/v1/devices";
/// `/v1/devices/{id}`: One device (rename).
pub const DEVICE: &str = "/v1/devices/{id}";
/// `/v1/devices/{id}/approval-requests`: Open an approval request for a device.
pub const DEVICE_APPROVAL_REQUESTS: &str = "/v1/devices/{id}/approval-requests";
/// `/v1/devices/{id}/disable`: Disable a device.
pub const DEVICE_DISABLE: &str = "/v1/devices/{id}/disable";
/// `/v1/devices/{id}/email-code`: Email a code to verify a device.
pub const DEVICE_EMAIL_CODE: &str = "/v1/devices/{id}/email-code";
/// `/v1/devices/{id}/email-code/verify`: Submit the emailed code.
pub const DEVICE_EMAIL_CODE_VERIFY: &str = "/v1/devices/{id}/email-code/verify";
/// `/v1/devices/{id}/sign-out`: A device signs itself out.
pub const DEVICE_SIGN_OUT: &str = "/v1/devices/{id}/sign-out";
/// `/v1/approval-requests`: Pending requests an approver sees.
pub const APPROVAL_REQUESTS: &str = "/v1/approval-requests";
/// `/v1/approval-requests/{id}`: A request as its requester reads it.
pub const APPROVAL_REQUEST: &str = "/v1/approval-requests/{id}";
/// `/v1/approval-requests/{id}/ack`: The new device acknowledges the payload.
pub const APPROVAL_ACK: &str = "/v1/approval-requests/{id}/ack";
/// `/v1/approval-requests/{id}/approve`: The approver approves (after a run).
pub const APPROVAL_APPROVE: &str = "/v1/approval-requests/{id}/approve";
/// `/v1/approval-requests/{id}/cancel`: The requester withdraws its request.
pub const APPROVAL_CANCEL: &str = "/v1/approval-requests/{id}/cancel";
/// `/v1/approval-requests/{id}/deny`: An approver denies.
pub const APPROVAL_DENY: &str = "/v1/approval-requests/{id}/deny";
/// `/v1/approval-requests/{id}/runs`: The approver starts a PAKE run.
pub const APPROVAL_RUNS: &str = "/v1/approval-requests/{id}/runs";
/// `/v1/approval-requests/{id}/runs/{run}`: A run as the approver reads it.
pub const APPROVAL_RUN: &str = "/v1/approval-requests/{id}/runs/{run}";
/// `/v1/approval-requests/{id}/runs/{run}/abort`: Either side abandons a run.
pub const APPROVAL_RUN_ABORT: &str = "/v1/approval-requests/{id}/runs/{run}/abort";
/// `/v1/approval-requests/{id}/runs/{run}/response`: The new device answers a run.
pub const APPROVAL_RUN_RESPONSE: &str = "/v1/approval-requests/{id}/runs/{run}/response";
/// `/v1/chain`: The user's vouch chain (read; append a root or a revocation).
pub const CHAIN: &str = "/v1/chain";
/// `/v1/envelopes`: Vault keys other key holders sealed to this device.
pub const ENVELOPES: &str = "/v1/envelopes";
/// `/v1/recovery/restore`: A device vouched for by the user's recovery key becomes a key holder.
pub const RECOVERY_RESTORE: &str = "/v1/recovery/restore";
/// `/v1/recovery/{id}/envelopes`: The vault keys sealed to a recovery key.
pub const RECOVERY_ENVELOPES: &str = "/v1/recovery/{id}/envelopes";
/// `/v1/vaults/{id}/rotate`: A new key epoch for a vault, sealed to its key holders.
pub const VAULT_ROTATE: &str = "/v1/vaults/{id}/rotate";
/// `/v1/vaults/{id}/envelopes`: Seal a vault's key to the user's other key holders.
pub const VAULT_ENVELOPES: &str = "/v1/vaults/{id}/envelopes";
/// `/v1/events`: The server-sent event stream.
pub const EVENTS: &str = "/v1/events";
/// `/v1/vaults`: Create and list vaults.
pub const VAULTS: &str = "/v1/vaults";
/// `/v1/vaults/{id}/delete`: Delete a vault with its sealed deletion.
pub const VAULT_DELETE: &str = "/v1/vaults/{id}/delete";
/// `/v1/vaults/{id}/items`: A vault's item records (pull).
pub const VAULT_ITEMS: &str = "/v1/vaults/{id}/items";
/// `/v1/vaults/{id}/items/{item_id}`: Write one item record.
pub const VAULT_ITEM: &str = "/v1/vaults/{id}/items/{item_id}";
/// `/v1/admin/audit`: The workspace's audit log of device events.
pub const ADMIN_AUDIT: &str = "/v1/admin/audit";
/// `/v1/admin/devices`: Every device of the workspace.
pub const ADMIN_DEVICES: &str = "/v1/admin/devices";
/// `/v1/admin/users`: The workspace's users with their device counts.
pub const ADMIN_USERS: &str = "/v1/admin/users";
/// `/v1/admin/users/{id}/deprovision`: Disable every device of a user.
pub const ADMIN_USER_DEPROVISION: &str = "/v1/admin/users/{id}/deprovision";
/// `/v1/admin/users/{id}/reactivate`: Let a deprovisioned user in again.
pub const ADMIN_USER_REACTIVATE: &str = "/v1/admin/users/{id}/reactivate";
/// `/v1/admin/users/{id}/unlock`: Lift a user's code lock and sign-in throttle.
pub const ADMIN_USER_UNLOCK: &str = "/v1/admin/users/{id}/unlock";
/// `/v1/dev/clock`: `--dev` only: move the server's clock.
pub const DEV_CLOCK: &str = "/v1/dev/clock";
/// `/v1/dev/outbox`: `--dev` only: the mails the server would have sent.
pub const DEV_OUTBOX: &str = "/v1/dev/outbox";

/// `pattern` with its `{…}` placeholders replaced, in order, by `values`. A placeholder
/// without a value stays as it is (a route with two ids needs both).
pub fn fill(pattern: &str, values: &[&(dyn Display + Sync)]) -> String {
    let mut out = String::with_capacity(pattern.len() + 40 * values.len());
    let mut rest = pattern;
    let mut values = values.iter();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        match values.next() {
            Some(v) => out.push_str(&v.to_string()),
            None => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fill_the_placeholders_in_order() {
        assert_eq!(
            fill(APPROVAL_RUN_ABORT, &[&1, &"r"]),
            "/v1/approval-requests/1/runs/r/abort"
        );
        assert_eq!(fill(VAULTS, &[]), "/v1/vaults");
        assert_eq!(fill(VAULT_ITEM, &[&"v"]), "/v1/vaults/v/items/{item_id}");
    }
}
