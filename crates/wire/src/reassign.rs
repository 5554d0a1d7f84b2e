//! The reassignment parts of the migration state document (issue 29): what a pool needs to be
//! rebalanced by cost rather than by overload, the rules and costs of Google's machine
//! reassignment (the ROADEF/EURO 2012 challenge), named for any pool. `policy.reassign` turns
//! them on: `vmplace migrate` then runs the reassignment engine (`roadef::reassign`) and
//! sequences its moves into safe waves. The fields are described in the book's migration guide
//! (`docs/src/guide/migration.md`, "Planning by cost") and in `models/roadef.md`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest whole number of the reassignment fields (costs, weights, targets): the challenge's
/// 32-bit range, so that every cost sum fits in 64-bit integers.
pub const WHOLE_MAX: f64 = 2_147_483_647.0;

/// A resource's reassignment rules.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ResourceRule {
    /// Resource name, as in `hosts[].capacity` and `vms[].demand`.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Transient: a VM that moves keeps its share of it on the host it started on for the whole
    /// round (a disk copy that is only released at the end), as well as using it on its target.
    #[serde(default, skip_serializing_if = "is_false")]
    pub transient: bool,
    /// Cost per unit used above a host's `safety_capacity` of this resource (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(max = WHOLE_MAX))]
    pub load_cost: u32,
}

/// A balance target between two resources: on every host, the free amount of `resource_b` should
/// be at least `target` times the free amount of `resource_a`; each unit short costs `weight`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BalanceTarget {
    /// The first resource (its free amount is multiplied by `target`).
    #[schemars(length(min = 1))]
    pub resource_a: String,
    /// The second resource.
    #[schemars(length(min = 1))]
    pub resource_b: String,
    /// Ratio target.
    #[schemars(range(max = WHOLE_MAX))]
    pub target: u32,
    /// Cost per unit short.
    #[schemars(range(max = WHOLE_MAX))]
    pub weight: u32,
}

/// The cost of moving a VM from one host to another: a matrix over hosts (`scope` `"host"`), or
/// a table over the values of a label (`"rack"`, `"zone"`...): `costs[from][to]`, missing pairs
/// cost 0. A VM that stays on its host pays nothing, except what `costs[h][h]` says in scope
/// `"host"`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MoveCosts {
    /// `"host"` (default) or a label key of `hosts[].labels` that every host has.
    #[serde(default = "host_scope")]
    #[schemars(length(min = 1))]
    pub scope: String,
    /// From a host id (or label value) to a host id (or label value): cost per VM moved.
    #[schemars(schema_with = "whole_table")]
    pub costs: BTreeMap<String, BTreeMap<String, u32>>,
}

/// Spread with a minimum number of domains (Kubernetes' `minDomains`): the members of each group
/// listed run in at least that many distinct domains of `scope`. One scope for every group (the
/// engine has one spread domain per host).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MinDomains {
    /// `"host"` or a label key of `hosts[].labels` that every host has.
    #[schemars(length(min = 1))]
    pub scope: String,
    /// Group id (of `groups`) -> fewest domains holding a member.
    #[serde(default)]
    #[schemars(schema_with = "whole_map")]
    pub groups: BTreeMap<String, u32>,
}

/// Groups that depend on others within a label's domain: every member of a rule's `group` runs
/// in a domain of `scope` where some member of its `on` group runs. One scope for every rule (the
/// engine has one dependency domain per host); the search also tries moves between hosts of one
/// domain first, so the scope is worth giving without rules.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Dependencies {
    /// `"host"` or a label key of `hosts[].labels` that every host has.
    #[schemars(length(min = 1))]
    pub scope: String,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Dependency>,
}

/// One dependency: `group` depends on `on`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// The dependent group (an id of `groups`).
    #[schemars(length(min = 1))]
    pub group: String,
    /// The group it depends on.
    #[schemars(length(min = 1))]
    pub on: String,
}

/// `policy.reassign`: plan the round by the reassignment engine, minimising load, balance and
/// move costs under the hard rules. The weights multiply the three move costs (default 0).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct ReassignPolicy {
    /// Per unit of `vms[].move_cost` of every VM that moves.
    #[serde(default)]
    #[schemars(range(max = WHOLE_MAX))]
    pub vm_move: u32,
    /// Per VM of the group with the most moved members (a VM in no group is a group of its own).
    #[serde(default)]
    #[schemars(range(max = WHOLE_MAX))]
    pub group_move: u32,
    /// Per unit of `move_costs` of every move.
    #[serde(default)]
    #[schemars(range(max = WHOLE_MAX))]
    pub host_move: u32,
}

/// The reassignment cost of the VMs where the plan leaves them, in its five parts (weights
/// applied), and of the state before the plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct ReassignCost {
    /// Usage above safety capacities, by `resources[].load_cost`.
    pub load: i64,
    /// Balance targets' shortfalls, by weight.
    pub balance: i64,
    /// `vm_move` times the moved VMs' `move_cost`.
    pub vm_move: i64,
    /// `group_move` times the most moved members of one group.
    pub group_move: i64,
    /// `host_move` times the moves' `move_costs`.
    pub host_move: i64,
    /// The sum of the five.
    pub total: i64,
    /// The total before the plan (no VM moved).
    pub initial_total: i64,
}

fn host_scope() -> String {
    "host".to_string()
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Schema of `min_domains.groups`: whole numbers in `0..=WHOLE_MAX`.
fn whole_map(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 0, "maximum": WHOLE_MAX}
    })
}

/// Schema of `move_costs.costs`: whole numbers in `0..=WHOLE_MAX`, two levels deep.
fn whole_table(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": WHOLE_MAX}
        }
    })
}
