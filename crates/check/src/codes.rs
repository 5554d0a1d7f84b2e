//! The checker's own lists: the rules it reports and the codes an answer may carry. They are
//! written out here, not taken from the solver's types, so that the checker stays independent;
//! a test holds them against the README.

use serde::{Deserialize, Serialize};

/// A rule the checker verifies (the `rule` of a violation).
#[derive(
    Debug,
    Clone,
    Copy,
    Serialize,
    Deserialize,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rule {
    /// `UNKNOWN_REQUEST`.
    UnknownRequest,
    /// `DUPLICATE_REQUEST`.
    DuplicateRequest,
    /// `MISSING_REQUEST`.
    MissingRequest,
    /// `UNKNOWN_REASON_CODE`.
    UnknownReasonCode,
    /// `UNKNOWN_STORAGE`.
    UnknownStorage,
    /// `UNKNOWN_HOST`.
    UnknownHost,
    /// `FIXED_STORAGE_CHANGED`.
    FixedStorageChanged,
    /// `UNEXPECTED_HOST`.
    UnexpectedHost,
    /// `MISSING_HOST`.
    MissingHost,
    /// `NOT_CONNECTED`.
    NotConnected,
    /// `ANTI_AFFINITY`.
    AntiAffinity,
    /// `STORAGE_CAPACITY`.
    StorageCapacity,
    /// `HOST_CAPACITY`.
    HostCapacity,
    /// `BAD_GAP`.
    BadGap,
    /// `BAD_BOUND`.
    BadBound,
    /// `BAD_STATUS`.
    BadStatus,
    /// `BAD_STATS`.
    BadStats,
    /// `BAD_PLACED_WEIGHT`.
    BadPlacedWeight,
    /// `UNKNOWN_VM`.
    UnknownVm,
    /// `MOVED_TWICE`.
    MovedTwice,
    /// `WRONG_SOURCE`.
    WrongSource,
    /// `TARGET_NOT_ACTIVE`.
    TargetNotActive,
    /// `NOT_LIVE`.
    NotLive,
    /// `NOT_ACCEPTED`.
    NotAccepted,
    /// `UNKNOWN_DECLINE_CODE`.
    UnknownDeclineCode,
    /// `BAD_STEPS`: a plan's steps miss a migration, repeat one, or name a VM that does not move.
    BadSteps,
    /// `UNSAFE_STEP`: a host exceeds a capacity while a wave runs (a VM counts on both hosts).
    UnsafeStep,
    /// `CONCURRENCY`: a host takes part in more migrations of one wave than
    /// `policy.max_concurrent_per_host`.
    Concurrency,
    /// `BAD_RESULT`: an IAllocator answer whose `result` does not have the protocol's shape.
    BadResult,
    /// `GROUP_NOT_ALLOWED`: an unallocable group, a group outside the targets, or one whose
    /// instance policy or networks refuse the instance.
    GroupNotAllowed,
    /// `NOT_MOVABLE`: an IAllocator answer relocates, evacuates or changes the group of an
    /// instance Ganeti cannot move that way: its disks are not mirrored (`plain`, `file`), its
    /// template is unknown, or a `secondary-only` evacuation moves one without a secondary.
    NotMovable,
    /// `WRONG_GROUP_NAME`: a moved instance's group in `[moved, failed, jobs]` is not the name
    /// of the group of the node it moves to.
    WrongGroupName,
    /// `BAD_JOBS`: the jobs of `[moved, failed, jobs]` do not carry out the moves Ganeti
    /// executes: each moved instance needs exactly one `OP_INSTANCE_MIGRATE` or
    /// `OP_INSTANCE_FAILOVER` whose `target_node` is its listed node, and no opcode may do
    /// anything else.
    BadJobs,
    /// `FAILED_HOST`: a failure's witness restarts a VM on a failed or inactive host.
    FailedHost,
    /// `RESTART_COVERAGE`: a VM of the failed hosts is neither restarted nor listed as
    /// unrestartable, or is listed twice.
    RestartCoverage,
    /// `HOST_TRAITS`: a VM's host lacks a trait it requires or has one it forbids.
    HostTraits,
    /// `STORAGE_TRAITS`: a disk's storage lacks a storage trait its request requires or has one
    /// it forbids.
    StorageTraits,
    /// `GROUP_RULE`: a hard group rule (`groups[]`) broken where the answer added members, or a
    /// member on a host outside every domain of its group's scope; in a plan, a hard rule more
    /// broken after the plan or while a wave runs than the state had it.
    GroupRule,
    /// `TRANSIENT_CAPACITY`: under `policy.reassign`, a host's transient resource, counting the
    /// shares the VMs that left it still hold, exceeds its capacity after the plan or while a
    /// wave runs.
    TransientCapacity,
    /// `MIN_DOMAINS`: a group of `min_domains` runs in fewer domains than it asks after the plan.
    MinDomains,
    /// `DEPENDENCY`: a member of a group of `dependencies` runs in a domain where the group it
    /// depends on does not, after the plan.
    Dependency,
}

impl Rule {
    /// The placement rules, in the README's order.
    pub const PLACEMENT: [Rule; 21] = [
        Rule::UnknownRequest,
        Rule::DuplicateRequest,
        Rule::MissingRequest,
        Rule::UnknownReasonCode,
        Rule::UnknownStorage,
        Rule::UnknownHost,
        Rule::FixedStorageChanged,
        Rule::UnexpectedHost,
        Rule::MissingHost,
        Rule::NotConnected,
        Rule::HostTraits,
        Rule::StorageTraits,
        Rule::AntiAffinity,
        Rule::GroupRule,
        Rule::StorageCapacity,
        Rule::HostCapacity,
        Rule::BadGap,
        Rule::BadBound,
        Rule::BadStatus,
        Rule::BadStats,
        Rule::BadPlacedWeight,
    ];
    /// The plan rules, in the README's order.
    pub const PLAN: [Rule; 19] = [
        Rule::UnknownVm,
        Rule::MovedTwice,
        Rule::WrongSource,
        Rule::UnknownHost,
        Rule::TargetNotActive,
        Rule::NotLive,
        Rule::NotAccepted,
        Rule::UnknownDeclineCode,
        Rule::HostTraits,
        Rule::HostCapacity,
        Rule::AntiAffinity,
        Rule::GroupRule,
        Rule::BadStats,
        Rule::BadSteps,
        Rule::UnsafeStep,
        Rule::Concurrency,
        Rule::TransientCapacity,
        Rule::MinDomains,
        Rule::Dependency,
    ];

    /// The IAllocator answer rules, in the README's order.
    pub const IALLOCATOR: [Rule; 9] = [
        Rule::BadResult,
        Rule::UnknownHost,
        Rule::TargetNotActive,
        Rule::GroupNotAllowed,
        Rule::NotMovable,
        Rule::WrongGroupName,
        Rule::BadJobs,
        Rule::HostCapacity,
        Rule::AntiAffinity,
    ];

    /// The failure-scenario rules, in the README's order.
    pub const FAILURE: [Rule; 13] = [
        Rule::UnknownHost,
        Rule::UnknownVm,
        Rule::RestartCoverage,
        Rule::FailedHost,
        Rule::NotConnected,
        Rule::HostTraits,
        Rule::HostCapacity,
        Rule::AntiAffinity,
        Rule::GroupRule,
        Rule::BadStats,
        Rule::BadBound,
        Rule::BadGap,
        Rule::BadStatus,
    ];

    /// The rule's name as it appears in a violation.
    pub fn name(self) -> String {
        wire_name(&self)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Known unplaced codes.
pub const UNPLACED_CODES: [&str; 12] = [
    "NO_STORAGE_CAPACITY",
    "DEMAND_EXCEEDS_HOSTS",
    "NO_CONNECTED_HOST_CAPACITY",
    "ANTI_AFFINITY",
    "CAPACITY_TAKEN",
    "NO_HOST_WITH_TRAITS",
    "NO_STORAGE_WITH_TRAITS",
    "LOOKAHEAD_NO_HOST",
    "SOLVER_FAILURE",
    "STOPPED_EARLY",
    "AFFINITY",
    "SPREAD",
];

/// Known admission decline codes.
pub const DECLINE_CODES: [&str; 9] = [
    "ADMISSION_SOURCE",
    "ADMISSION_STATE",
    "ADMISSION_STORAGE",
    "ADMISSION_TRAITS",
    "ADMISSION_CAPACITY",
    "ADMISSION_HEADROOM",
    "ADMISSION_ANTI_AFFINITY",
    "ADMISSION_AFFINITY",
    "ADMISSION_SPREAD",
];

pub(crate) use vmplace_wire::spelling::wire_name;
