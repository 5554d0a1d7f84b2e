//! The ranges of the documents' numbers, chosen so that every figure vmplace derives from them
//! (sums over a million items, products of a weight and an amount, migration times) stays finite
//! and well inside HiGHS's range (it reads 1e20 as infinity). The schemas publish them; the
//! schema stage of validation enforces them.

use schemars::{json_schema, Schema, SchemaGenerator};

/// Largest amount of a resource, of storage or of a disk image, in its unit (GiB, cores, MIPS).
pub const AMOUNT_MAX: f64 = 1e12;
/// Largest request priority.
pub const PRIORITY_MAX: f64 = 1e6;
/// Largest weight of a migration policy's score, and largest power-table entry (watts).
pub const WEIGHT_MAX: f64 = 1e6;
/// Largest time in seconds (time limits, hold times, intervals: about 30 years).
pub const SECONDS_MAX: f64 = 1e9;
/// Largest count (budget, candidates listed).
pub const COUNT_MAX: f64 = 1e9;
/// Most candidate hosts a plan lists per migration (`policy.candidates_listed`): each is an
/// entry of the plan, and a listing of 10^9 turned a 944 KB state into a 998 MB plan.
pub const LISTED_MAX: f64 = 1000.0;
/// Largest seed: 2^53 - 1, the largest integer every JSON reader keeps exactly.
pub const SEED_MAX: f64 = 9_007_199_254_740_991.0;
/// Largest network bandwidth, Mbit/s (1 Pbit/s).
pub const BANDWIDTH_MAX: f64 = 1e9;

/// Schema of a resource vector: resource name -> amount in `0..=AMOUNT_MAX`.
pub fn resources(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": {"type": "number", "minimum": 0.0, "maximum": AMOUNT_MAX}
    })
}

/// Largest allocation (overcommit) ratio.
pub const RATIO_MAX: f64 = 1e3;

/// Schema of allocation ratios: resource name -> ratio in `(0, RATIO_MAX]`.
pub fn ratios(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": {"type": "number", "exclusiveMinimum": 0.0, "maximum": RATIO_MAX}
    })
}

/// Schema of one optional allocation ratio in `(0, RATIO_MAX]`.
pub fn optional_ratio(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["number", "null"], "exclusiveMinimum": 0.0, "maximum": RATIO_MAX})
}

/// Schema of an optional amount in `0..=AMOUNT_MAX`.
pub fn optional_amount(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["number", "null"], "minimum": 0.0, "maximum": AMOUNT_MAX})
}

/// Schema of an optional resource vector.
pub fn optional_resources(g: &mut SchemaGenerator) -> Schema {
    let mut s = resources(g);
    s.insert("type".into(), serde_json::json!(["object", "null"]));
    s
}

/// Schema of a power table: watts, each in `0..=WEIGHT_MAX` (the count is a rule: 11).
pub fn watts(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {"type": "number", "minimum": 0.0, "maximum": WEIGHT_MAX}
    })
}
