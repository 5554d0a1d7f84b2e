//! Overcommit and reservations: allocation ratios and reservations name resources the host has,
//! reservations stay within the capacity, and `used` within the usable capacity
//! (`(capacity - reserved) * allocation_ratio`), for problem and state documents alike.

use super::pointer_token;
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::InputError;

/// Storage: `used_gib` within the usable space, and no reservation above the capacity.
pub(crate) fn check_storage_allocation(
    storage: &[vmplace_wire::Storage],
    errors: &mut Vec<InputError>,
) {
    for (i, s) in storage.iter().enumerate() {
        let reserved = s.reserved_gib.unwrap_or(0.0);
        if reserved > s.capacity_gib {
            errors.push(InputError::new(
                ErrorCode::ReservedExceedsCapacity,
                format!("/storage/{i}/reserved_gib"),
                format!(
                    "storage `{}` reserves {reserved} GiB of {} GiB",
                    s.id, s.capacity_gib
                ),
            ));
            continue;
        }
        let usable = crate::resources::usable_gib(s);
        if s.used_gib > usable {
            errors.push(InputError::new(
                ErrorCode::UsedExceedsCapacity,
                format!("/storage/{i}/used_gib"),
                format!(
                    "storage `{}` uses {} GiB of {usable} GiB usable",
                    s.id, s.used_gib
                ),
            ));
        }
    }
}

/// A host's reservations and allocation ratios name resources it has, and reserve no more than
/// it has.
pub(crate) fn check_host_allocation(
    at: &str,
    id: &str,
    capacity: &vmplace_wire::Resources,
    reserved: &vmplace_wire::Resources,
    ratio: &vmplace_wire::Resources,
    errors: &mut Vec<InputError>,
) {
    for (field, map) in [("reserved", reserved), ("allocation_ratio", ratio)] {
        for k in map.keys().filter(|k| !capacity.contains_key(*k)) {
            errors.push(InputError::new(
                ErrorCode::UsedWithoutCapacity,
                format!("{at}/{field}/{}", pointer_token(k)),
                format!("host `{id}` has `{field}` for `{k}` but no such capacity"),
            ));
        }
    }
    for (k, &r) in reserved {
        if let Some(&c) = capacity.get(k) {
            if r > c {
                errors.push(InputError::new(
                    ErrorCode::ReservedExceedsCapacity,
                    format!("{at}/reserved/{}", pointer_token(k)),
                    format!("host `{id}` reserves {r} of `{k}` but has {c}"),
                ));
            }
        }
    }
}
