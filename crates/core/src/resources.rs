//! What the wire's resource fields mean, for every layer above the wire: a host's usable
//! capacity, a storage system's usable space, whether traits meet a rule, and which resource
//! plays the role of CPU or of memory (the one place that reads a resource's name).

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

/// The part a resource plays where a rule needs CPU or memory by name: OpenStack's default host
/// choice (most free memory), the migration round's utilisation and its migration time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// CPU: the resource named `cpu`.
    Cpu,
    /// Memory: the first resource whose name contains `mem`, in any case (`memory_gib`,
    /// `mem_mb`, `MEM`).
    Memory,
}

impl Role {
    /// Whether a resource of this name plays the role.
    pub fn named(self, name: &str) -> bool {
        match self {
            Role::Cpu => name == "cpu",
            Role::Memory => name.to_ascii_lowercase().contains("mem"),
        }
    }

    /// The index of the first of `names` that plays the role.
    pub fn find<S: AsRef<str>>(self, names: &[S]) -> Option<usize> {
        names.iter().position(|n| self.named(n.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn roles_are_found_by_name() {
        let names = ["disk_iops", "MEM_mb", "cpu", "memory_gib"];
        assert_eq!(Role::Cpu.find(&names), Some(2));
        assert_eq!(Role::Memory.find(&names), Some(1));
        assert_eq!(Role::Memory.find(&["cpu"]), None);
        assert!(!Role::Cpu.named("vcpu"));
    }
}
