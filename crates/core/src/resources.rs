//! What the wire's resource fields mean, for every layer above the wire: a host's usable
//! capacity, a storage system's usable space, whether traits meet a rule.

use vmplace_wire::problem::Traits;
use vmplace_wire::{Resources, Storage};

/// A host's usable capacity per resource: `(capacity - reserved) * allocation_ratio` (a missing
/// reservation is 0, a missing ratio 1). `used` counts against it.
pub fn usable(capacity: &Resources, reserved: &Resources, ratio: &Resources) -> Resources {
    capacity
        .iter()
        .map(|(k, c)| {
            let held = reserved.get(k).copied().unwrap_or(0.0);
            let r = ratio.get(k).copied().unwrap_or(1.0);
            (k.clone(), (c - held).max(0.0) * r)
        })
        .collect()
}

/// A storage system's usable space, GiB: `(capacity_gib - reserved_gib) * allocation_ratio`.
pub fn usable_gib(s: &Storage) -> f64 {
    (s.capacity_gib - s.reserved_gib.unwrap_or(0.0)).max(0.0) * s.allocation_ratio.unwrap_or(1.0)
}

/// Whether a host or storage system with traits `has` meets a rule: every `required` trait and
/// no `forbidden` one.
pub fn traits_met(required: &Traits, forbidden: &Traits, has: &Traits) -> bool {
    required.is_subset(has) && forbidden.is_disjoint(has)
}
