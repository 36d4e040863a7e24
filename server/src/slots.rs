//! Counted places, in all and per client address: the one mechanism behind the hashing
//! gate's queue and the connection caps. A [`Slot`] is given back when dropped (also
//! when a client hangs up mid-request).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

/// At most `max` places taken at once, at most `max_per_address` by one address.
pub struct AddressSlots {
    taken: Mutex<(usize, HashMap<IpAddr, usize>)>,
    max: usize,
    max_per_address: usize,
}

/// One taken place.
pub struct Slot {
    slots: Arc<AddressSlots>,
    address: IpAddr,
}

impl AddressSlots {
    /// Places for `max` in all (at least 1), `max_per_address` per address (1..=max).
    pub fn new(max: usize, max_per_address: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            taken: Mutex::default(),
            max,
            max_per_address: max_per_address.clamp(1, max),
        })
    }

    /// A place for `address`, or `None` when all are taken or the address holds its share.
    pub fn take(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        let mine = taken.1.get(&address).copied().unwrap_or(0);
        if taken.0 >= self.max || mine >= self.max_per_address {
            return None;
        }
        taken.0 += 1;
        *taken.1.entry(address).or_default() += 1;
        Some(Slot {
            slots: self.clone(),
            address,
        })
    }

    /// Places taken now.
    #[cfg(test)]
    pub fn taken(&self) -> usize {
        self.taken.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.slots.taken.lock().unwrap_or_else(|e| e.into_inner());
        taken.0 = taken.0.saturating_sub(1);
        if let Some(n) = taken.1.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                taken.1.remove(&self.address);
            }
        }
    }
}
