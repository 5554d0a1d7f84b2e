//! The resource axes of a pool: which resources its dense vectors count, in which order, and
//! which of them plays CPU or memory. The one converter from the wire's named amounts
//! (`Resources`) to dense vectors, for placement's `Domain`, migration's `Pool` and capacity's
//! `Fleet`.

use crate::resources::Role;
use std::collections::BTreeSet;
use vmplace_wire::Resources;

/// The resources of a pool, sorted by name, with the positions of the CPU and memory roles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Axes {
    names: Vec<String>,
    /// Position of the resource that plays CPU ([`Role::Cpu`]).
    pub cpu: Option<usize>,
    /// Position of the resource that plays memory ([`Role::Memory`]).
    pub mem: Option<usize>,
}

impl Axes {
    /// Every resource that one of `named` names, sorted.
    pub fn of<'a>(named: impl IntoIterator<Item = &'a Resources>) -> Axes {
        let names: Vec<String> = named
            .into_iter()
            .flat_map(|m| m.keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Axes {
            cpu: Role::Cpu.find(&names),
            mem: Role::Memory.find(&names),
            names,
        }
    }

    /// The resources' names, in the vectors' order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How many resources.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the pool names no resource.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `m` as a vector over the axes: its amount of each, 0 where it names none.
    pub fn dense(&self, m: &Resources) -> Vec<f64> {
        self.names
            .iter()
            .map(|r| m.get(r).copied().unwrap_or(0.0))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_the_sorted_union_and_roles_are_found_once() {
        let a: Resources = [("memory_gib".into(), 4.0), ("cpu".into(), 2.0)].into();
        let b: Resources = [("gpu".into(), 1.0)].into();
        let axes = Axes::of([&a, &b]);
        assert_eq!(axes.names(), ["cpu", "gpu", "memory_gib"]);
        assert_eq!((axes.cpu, axes.mem), (Some(0), Some(2)));
        assert_eq!(axes.dense(&b), [0.0, 1.0, 0.0]);
        assert_eq!(axes.dense(&a), [2.0, 0.0, 4.0]);
    }
}
