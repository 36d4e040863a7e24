//! This device's copy of the vouch chain and the record of which key holders it sealed
//! each vault key to.

use rusqlite::params;
use uuid::Uuid;

use super::Store;
use crate::{
    chain::Link,
    error::{Error, Result},
};

impl Store {
    /// The chain as this device last verified it, in order (empty before it saw one).
    pub fn chain_links(&self) -> Result<Vec<Link>> {
        let conn = self.conn()?;
        let mut st = conn.prepare_cached("SELECT link FROM chain_links ORDER BY seq")?;
        let rows = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|b| Link::decode(&b?).map_err(|_| Error::CorruptRow("chain_links")))
            .collect()
    }

    /// Whether this device already sealed `(vault, epoch)` to `member`.
    pub fn key_shared(&self, vault_id: Uuid, epoch: u32, member: Uuid) -> Result<bool> {
        Ok(self.conn()?.query_row(
            "SELECT EXISTS(SELECT 1 FROM key_shares WHERE vault_id = ?1 AND epoch = ?2 AND member_id = ?3)",
            params![vault_id.to_string(), epoch, member.to_string()],
            |r| r.get(0),
        )?)
    }

    /// Records that `(vault, epoch)` was sealed to `member` and the server stored it.
    pub fn mark_key_shared(&self, vault_id: Uuid, epoch: u32, member: Uuid) -> Result<()> {
        self.conn()?.execute(
            "INSERT OR IGNORE INTO key_shares (vault_id, epoch, member_id) VALUES (?1, ?2, ?3)",
            params![vault_id.to_string(), epoch, member.to_string()],
        )?;
        Ok(())
    }
}
