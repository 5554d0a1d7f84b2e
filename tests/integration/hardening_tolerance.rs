//! Issue 27 (hardening III): a storage-phase answer counts the soft violations the pool already
//! had (L1). Reproducers in tests/data/hardening3/.

use vmplace::checker::{check, Expect};
use vmplace::format::{Problem, Solution, SolverKind};
use vmplace::placement::{Mode, RunConfig};
use vmplace::service::api::{solve_text, Overrides};

const DATA: &str = "tests/data/hardening3";

fn text(name: &str) -> String {
    let path = format!("{}/{DATA}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn problem(text: &str) -> Problem {
    serde_json::from_str(text).unwrap()
}

fn solve(text: &str, mode: Mode, solver: SolverKind) -> Solution {
    let o = Overrides {
        solver: Some(solver),
        ..Default::default()
    };
    solve_text(text, mode, &o, &RunConfig::default()).expect("a valid problem")
}

#[test]
fn a_storage_answer_counts_the_soft_violations_the_pool_already_had() {
    // `g` (spread, soft, max_skew 1) runs three members on `h1` and none on `h2`: skew 3, two
    // violations before the call. A storage answer puts no member on a host, so still two.
    let text = text("storage-soft-preskew.json");
    let p = problem(&text);
    for solver in [SolverKind::Mip, SolverKind::Greedy] {
        let s = solve(&text, Mode::Storage, solver);
        assert_eq!(s.placements.len(), 1, "{solver:?}");
        assert_eq!(
            s.stats.soft_violations.get("g"),
            Some(&2),
            "{solver:?}: {:?}",
            s.stats.soft_violations
        );
        let v = check(&p, &s, Expect::StorageOnly);
        assert!(v.is_empty(), "{solver:?}: {v:#?}");
    }
}
