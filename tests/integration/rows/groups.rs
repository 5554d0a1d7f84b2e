//! Group rules in the host model and in phase 1's look-ahead (models/host.md, models/storage.md).

use super::*;

// ---- Group rules in the host model (models/host.md, "Group rules") ----

fn in_rack(id: &str, cpu: f64, rack: &str) -> Value {
    json!({"id": id, "capacity": {"cpu": cpu, "memory_gib": 1000}, "storage": ["s"],
           "labels": {"rack": rack}})
}

fn member(id: &str, cpu: f64, groups: &[&str]) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": 1}, "disk_gib": 1, "storage": "s",
           "groups": groups})
}

fn grouped_doc(hosts: Vec<Value>, requests: Vec<Value>, groups: Value) -> Domain {
    domain(
        json!({"storage": [storage_sys("s", 100.0, 0.0)], "hosts": hosts, "requests": requests,
               "groups": groups}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    )
}

fn rack_of<'a>(d: &Domain, a: &Assignment, i: usize, racks: &'a [(&str, &str)]) -> &'a str {
    let h = host_id(d, a.host[vmplace_core::domain::RequestIx(i)]).expect("hosted");
    racks
        .iter()
        .find(|(host, _)| *host == h)
        .map(|(_, r)| *r)
        .unwrap_or("?")
}

#[test]
fn group_anti_affinity_spreads_members_over_racks() {
    // Two members of a rack anti-affinity group (max 1 per rack): `pack` would put both on h1,
    // the rule puts one in each rack.
    let racks = [("h1", "r1"), ("h2", "r1"), ("h3", "r2")];
    let d = grouped_doc(
        racks.iter().map(|(h, r)| in_rack(h, 8.0, r)).collect(),
        vec![member("a", 2.0, &["web"]), member("b", 2.0, &["web"])],
        json!([{"id": "web", "policy": "anti-affinity", "scope": "rack"}]),
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_ne!(rack_of(&d, &a, 0, &racks), rack_of(&d, &a, 1, &racks));
}

#[test]
fn group_anti_affinity_counts_members_already_running() {
    // Max 2 per host; h1 runs one member already: of three new members at most one goes there.
    let d = grouped_doc(
        vec![
            json!({"id": "h1", "capacity": {"cpu": 16, "memory_gib": 1000}, "storage": ["s"],
                   "group_members": {"db": 1}}),
            host("h2", 16.0, &["s"]),
        ],
        vec![
            member("a", 1.0, &["db"]),
            member("b", 1.0, &["db"]),
            member("c", 1.0, &["db"]),
        ],
        json!([{"id": "db", "policy": "anti-affinity", "max_per_domain": 2}]),
    );
    let (_, a) = host_solve(&d, Stage::Policy { min_weight: 3.0 });
    let on_h1 = (0..3)
        .filter(|&i| host_id(&d, a.host[vmplace_core::domain::RequestIx(i)]) == Some("h1"))
        .count();
    assert_eq!(hosted(&a), 3);
    assert!(on_h1 <= 1, "{on_h1} new members on h1");
}

#[test]
fn group_affinity_keeps_members_in_one_rack() {
    // Each rack has room for one member only: affinity places one of the two.
    let racks = [("h1", "r1"), ("h2", "r2")];
    let d = grouped_doc(
        racks.iter().map(|(h, r)| in_rack(h, 2.0, r)).collect(),
        vec![member("a", 2.0, &["app"]), member("b", 2.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack"}]),
    );
    let (r, a) = host_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(hosted(&a), 1);
}

#[test]
fn group_spread_evens_members_over_zones() {
    // Zone a runs one member already; three new ones with max_skew 1 end as 1/2/1 (two hosts,
    // in b and c) or 2/1/1 (three); `pack` alone would use one host.
    let zones = [("h1", "a"), ("h2", "b"), ("h3", "c")];
    let mut hosts: Vec<Value> = zones.iter().map(|(h, z)| in_rack(h, 16.0, z)).collect();
    hosts[0]["group_members"] = json!({"api": 1});
    let d = grouped_doc(
        hosts,
        vec![
            member("a", 1.0, &["api"]),
            member("b", 1.0, &["api"]),
            member("c", 1.0, &["api"]),
        ],
        json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1}]),
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 3.0 });
    let mut per_zone = [1, 0, 0];
    for i in 0..3 {
        let z = zones
            .iter()
            .position(|(h, _)| Some(*h) == host_id(&d, a.host[vmplace_core::domain::RequestIx(i)]))
            .unwrap();
        per_zone[z] += 1;
    }
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert!(
        per_zone.iter().max().unwrap() - per_zone.iter().min().unwrap() <= 1,
        "{per_zone:?}"
    );
}

#[test]
fn a_soft_rule_is_broken_only_when_that_is_cheaper() {
    // Two members of a soft host anti-affinity group on two idle hosts: at weight 0.5 sharing a
    // host (1 host + 0.5) beats two hosts (2); at weight 2 it does not.
    for (weight, cost, same) in [(0.5, 1.5, true), (2.0, 2.0, false)] {
        let d = grouped_doc(
            vec![host("h1", 8.0, &["s"]), host("h2", 8.0, &["s"])],
            vec![member("a", 2.0, &["g"]), member("b", 2.0, &["g"])],
            json!([{"id": "g", "policy": "anti-affinity", "hard": false, "weight": weight}]),
        );
        let (r, a) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
        assert!(close(r.objective, cost), "weight {weight}: {}", r.objective);
        assert_eq!(
            a.host[vmplace_core::domain::RequestIx(0)]
                == a.host[vmplace_core::domain::RequestIx(1)],
            same,
            "weight {weight}"
        );
    }
}

#[test]
fn soft_affinity_and_spread_are_priced_per_violation() {
    // Soft affinity over racks with room for one member each: two members placed, one violation
    // (two racks used) at weight 3 on top of two hosts.
    let d = grouped_doc(
        vec![in_rack("h1", 2.0, "r1"), in_rack("h2", 2.0, "r2")],
        vec![member("a", 2.0, &["app"]), member("b", 2.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack", "hard": false, "weight": 3}]),
    );
    let (r, _) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 5.0), "{}", r.objective);
    // Soft spread over two racks, skew 0 (every rack equal): both members in one rack's two
    // hosts costs 2 hosts + 2 x 1 skew; one per rack, 2 hosts and no violation.
    let d = grouped_doc(
        vec![in_rack("h1", 8.0, "r1"), in_rack("h2", 8.0, "r2")],
        vec![member("a", 2.0, &["api"]), member("b", 2.0, &["api"])],
        json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1, "hard": false, "weight": 0.25}]),
    );
    // Together on one host: 1 host + 0.25 x (2 - 0 - 1) = 1.25; apart: 2 hosts.
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
    assert!(close(r.objective, 1.25), "{}", r.objective);
    assert_eq!(
        a.host[vmplace_core::domain::RequestIx(0)],
        a.host[vmplace_core::domain::RequestIx(1)]
    );
}

#[test]
fn joint_domain_keeps_a_pinned_image_and_the_storage_traits() {
    // `a` is pinned to s2 (its image is there); `b` needs SSD storage, which only s2 has. Both
    // would rather use s1 (the only storage of the larger host).
    let mut s2 = storage_sys("s2", 100.0, 10.0);
    s2["traits"] = json!(["SSD"]);
    let mut b = req("b", 2.0, 5.0);
    b["storage_required_traits"] = json!(["SSD"]);
    let mut a = req("a", 2.0, 10.0);
    a["storage"] = json!("s2");
    let d = joint_doc(
        vec![storage_sys("s1", 1000.0, 0.0), s2],
        vec![host("big", 64.0, &["s1"]), host("small", 4.0, &["s2"])],
        vec![a, b],
    );
    let (r, x) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_eq!(
        storage_id(&d, x.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert_eq!(
        storage_id(&d, x.storage[vmplace_core::domain::RequestIx(1)]),
        Some("s2")
    );
}

#[test]
fn joint_domain_offers_only_storage_with_room_for_the_image() {
    // An image of exactly the free space of s2 fits there; s1, reaching the same host, is short.
    let d = joint_doc(
        vec![storage_sys("s1", 39.0, 0.0), storage_sys("s2", 40.0, 0.0)],
        vec![host("h", 8.0, &["s1", "s2"])],
        vec![req("a", 2.0, 40.0)],
    );
    let (r, x) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(
        storage_id(&d, x.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
}

#[test]
fn joint_storage_capacity_counts_every_flavor_on_a_storage() {
    // Images of 10, 11 and 12 GiB (three flavors) and 25 GiB free: two fit, not three.
    let d = joint_doc(
        vec![storage_sys("s", 25.0, 0.0)],
        vec![host("h", 16.0, &["s"])],
        vec![
            req("a", 1.0, 10.0),
            req("b", 1.0, 11.0),
            req("c", 1.0, 12.0),
        ],
    );
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn joint_domain_lets_a_host_take_as_many_copies_as_fit_exactly() {
    // Two identical VMs of 2 CPUs on one host of exactly 4 CPUs, images of exactly the free space.
    let d = joint_doc(
        vec![storage_sys("s", 20.0, 0.0)],
        vec![host("h", 4.0, &["s"])],
        vec![req("a", 2.0, 10.0), req("b", 2.0, 10.0)],
    );
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn joint_open_counts_only_idle_hosts() {
    // A VM fits the running host: `pack` keeps one active host (the running one) and opens none.
    let d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![
            busy_host("run", 8.0, 2.0, &["s"]),
            host("idle", 8.0, &["s"]),
        ],
        vec![req("a", 2.0, 1.0)],
    );
    let (r, x) = joint_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(
        host_id(&d, x.host[vmplace_core::domain::RequestIx(0)]),
        Some("run")
    );
}

#[test]
fn joint_policy_cost_counts_what_a_host_already_uses_under_balance() {
    // Host A uses 2 of 8 CPUs, B none: a VM of 4 goes to B (0.5), not A (0.75).
    let mut d = joint_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![busy_host("A", 8.0, 2.0, &["s"]), host("B", 8.0, &["s"])],
        vec![req("v", 4.0, 1.0)],
    );
    d.settings.host_policy = Objective::Balance;
    let (r, x) = joint_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert!(close(r.objective, 0.5), "{}", r.objective);
    assert_eq!(
        host_id(&d, x.host[vmplace_core::domain::RequestIx(0)]),
        Some("B")
    );
}

#[test]
fn soft_violations_no_column_can_change_are_a_constant_of_the_objective() {
    // h1 is full and already runs three members of anti-affinity group `g` (max 1 per host): two
    // violations no placement can change (weight 3), and one of group `old` (two members there,
    // weight 5), which has no member in this batch at all. On top of the two active hosts (h1,
    // and h2 that the new VMs open): 2 + 2 x 3 + 1 x 5 if soft; a hard group's out-of-reach
    // excess adds nothing.
    for (hard, cost) in [(false, 2.0 + 2.0 * 3.0 + 5.0), (true, 2.0)] {
        let d = grouped_doc(
            vec![
                json!({"id": "h1", "capacity": {"cpu": 4, "memory_gib": 1000},
                       "used": {"cpu": 4}, "storage": ["s"], "group_members": {"g": 3, "old": 2}}),
                host("h2", 8.0, &["s"]),
            ],
            vec![member("a", 2.0, &["g"]), req_on("b", 2.0)],
            json!([{"id": "g", "policy": "anti-affinity", "hard": hard, "weight": 3},
                   {"id": "old", "policy": "anti-affinity", "hard": hard, "weight": 5}]),
        );
        let (r, _) = host_solve(&d, Stage::Policy { min_weight: 2.0 });
        assert!(close(r.objective, cost), "hard {hard}: {}", r.objective);
    }
}

fn req_on(id: &str, cpu: f64) -> Value {
    json!({"id": id, "demand": {"cpu": cpu, "memory_gib": 1}, "disk_gib": 1, "storage": "s"})
}

#[test]
fn group_affinity_follows_the_members_already_running() {
    // A member of `app` runs in rack r1. The new member goes there (h1, idle) under a hard rule,
    // although the running host h2 of rack r2 would cost no new host; soft at weight 3 it goes to
    // h2 as well only if 3 < 1, so it still goes to r1; soft at weight 0.5 it goes to h2 and the
    // violation (two racks) costs 0.5.
    let hosts = || {
        vec![
            json!({"id": "h0", "capacity": {"cpu": 2, "memory_gib": 1000}, "used": {"cpu": 2},
                   "storage": ["s"], "labels": {"rack": "r1"}, "group_members": {"app": 1}}),
            in_rack("h1", 8.0, "r1"),
            json!({"id": "h2", "capacity": {"cpu": 8, "memory_gib": 1000}, "used": {"cpu": 1},
                   "storage": ["s"], "labels": {"rack": "r2"}}),
        ]
    };
    for (hard, weight, host_wanted, cost) in [
        (true, 1.0, "h1", 3.0),
        (false, 3.0, "h1", 3.0),
        (false, 0.5, "h2", 2.5),
    ] {
        let d = grouped_doc(
            hosts(),
            vec![member("a", 2.0, &["app"])],
            json!([{"id": "app", "policy": "affinity", "scope": "rack", "hard": hard,
                    "weight": if hard { Value::Null } else { json!(weight) }}]),
        );
        let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
        assert_eq!(
            host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
            Some(host_wanted),
            "hard {hard}, weight {weight}"
        );
        assert!(
            close(r.objective, cost),
            "hard {hard}, weight {weight}: {}",
            r.objective
        );
    }
}

#[test]
fn group_spread_lets_a_skewed_pool_narrow_but_not_widen() {
    // Zones hold 4, 1 and 1 members (skew 3 > max_skew 1). The new member may not go to zone a
    // (running host, no new host), which would widen the skew to 4: it opens a host in b or c.
    let zones = [("h1", "a"), ("h2", "b"), ("h3", "c")];
    let mut hosts: Vec<Value> = zones.iter().map(|(h, z)| in_rack(h, 16.0, z)).collect();
    hosts[0]["used"] = json!({"cpu": 1});
    hosts[0]["group_members"] = json!({"api": 4});
    hosts[1]["group_members"] = json!({"api": 1});
    hosts[2]["group_members"] = json!({"api": 1});
    let d = grouped_doc(
        hosts,
        vec![member("n", 1.0, &["api"])],
        json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1}]),
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert!(close(r.objective, 2.0), "{}", r.objective);
    assert_ne!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h1")
    );
}

// ---- Group rules in phase 1's look-ahead (models/storage.md, `group_lookahead`) ----

fn storage_groups_doc(
    storage: Vec<Value>,
    hosts: Vec<Value>,
    requests: Vec<Value>,
    groups: Value,
) -> Domain {
    domain(
        json!({"storage": storage, "hosts": hosts, "requests": requests, "groups": groups}),
        Objective::Balance,
        Objective::Pack,
        0.0,
    )
}

fn racked(id: &str, storage: &str, rack: &str) -> Value {
    json!({"id": id, "capacity": {"cpu": 16, "memory_gib": 1000}, "storage": [storage],
           "labels": {"rack": rack}})
}

fn unpinned(id: &str, disk: f64, groups: &[&str]) -> Value {
    json!({"id": id, "demand": {"cpu": 1, "memory_gib": 1}, "disk_gib": disk, "groups": groups})
}

#[test]
fn group_lookahead_holds_anti_affinity_members_to_the_places_a_storage_reaches() {
    // s reaches two hosts of rack r1 only; at most one member per rack: one of two placed.
    let d = storage_groups_doc(
        vec![storage_sys("s", 100.0, 0.0)],
        vec![racked("h1", "s", "r1"), racked("h2", "s", "r1")],
        vec![unpinned("a", 1.0, &["web"]), unpinned("b", 1.0, &["web"])],
        json!([{"id": "web", "policy": "anti-affinity", "scope": "rack"}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(placed(&a), 1);
}

#[test]
fn group_lookahead_keeps_affinity_members_on_storage_that_reaches_one_rack() {
    // s1 reaches rack r1, s2 rack r2, each with room for one image: affinity places one.
    let d = storage_groups_doc(
        vec![storage_sys("s1", 10.0, 0.0), storage_sys("s2", 10.0, 0.0)],
        vec![racked("h1", "s1", "r1"), racked("h2", "s2", "r2")],
        vec![unpinned("a", 10.0, &["app"]), unpinned("b", 10.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack"}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
    assert_eq!(placed(&a), 1);
}

#[test]
fn joint_columns_counts_the_model_before_it_is_built() {
    // The size check (`--solver joint` falls back past JOINT_COLUMNS) counts exactly the columns
    // `joint_domain` creates: here s1 x {h1, h2} for both flavors, s2 x {h2} for one (the other's
    // image does not fit s2), h3 full.
    let mut d = joint_doc(
        vec![storage_sys("s1", 100.0, 0.0), storage_sys("s2", 15.0, 0.0)],
        vec![
            host("h1", 8.0, &["s1"]),
            host("h2", 8.0, &["s1", "s2"]),
            busy_host("h3", 8.0, 8.0, &["s1", "s2"]),
        ],
        vec![req("a", 2.0, 10.0), req("b", 2.0, 20.0)],
    );
    d.settings.host_policy = Objective::Balance;
    let (r, _) = joint_solve(&d, Stage::Placement);
    assert_eq!(joint::columns(&d), 5);
    assert_eq!(r.size.variables, 5);
}

#[test]
fn group_lookahead_sends_affinity_members_toward_the_domain_they_run_in() {
    // `app` runs in rack r2, which only s2 reaches, and s2 has no room for the image: the new
    // member cannot be placed (on s1 it would be in rack r1).
    let mut h2 = racked("h2", "s2", "r2");
    h2["group_members"] = json!({"app": 1});
    let d = storage_groups_doc(
        vec![
            storage_sys("s1", 100.0, 0.0),
            storage_sys("s2", 100.0, 95.0),
        ],
        vec![racked("h1", "s1", "r1"), h2],
        vec![unpinned("a", 10.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack"}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 0.0), "{}", r.objective);
    assert_eq!(placed(&a), 0);
}

#[test]
fn affinity_relaxed_sends_members_toward_their_domain_past_the_domains_modelled_one_by_one() {
    // As above, but s1 reaches 300 racks (past the 256 the look-ahead models one binary each):
    // the relaxed rows still keep the new member off s1, whose racks are not r0, where `app`
    // runs; r0's storage has no room, so nothing is placed.
    let mut h0 = racked("h0", "s2", "r0");
    h0["group_members"] = json!({"app": 1});
    let mut hosts: Vec<Value> = (1..=300)
        .map(|i| racked(&format!("h{i}"), "s1", &format!("r{i}")))
        .collect();
    hosts.push(h0);
    let d = storage_groups_doc(
        vec![
            storage_sys("s1", 100.0, 0.0),
            storage_sys("s2", 100.0, 95.0),
        ],
        hosts,
        vec![unpinned("a", 10.0, &["app"])],
        json!([{"id": "app", "policy": "affinity", "scope": "rack"}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 0.0), "{}", r.objective);
    assert_eq!(placed(&a), 0);
}

#[test]
fn group_lookahead_holds_spread_members_to_what_the_racks_a_storage_reaches_can_take() {
    // `api` (spread by rack, skew 1), four new members, racks r1 (s1 only), r2 and r3 (s2 only,
    // room for one image). In any valid end a rack holds at most floor(4 / 3) + 1 = 2: two on s1,
    // one on s2. Without the look-ahead all four would go to s1, and rack r1.
    let d = storage_groups_doc(
        vec![storage_sys("s1", 100.0, 0.0), storage_sys("s2", 10.0, 0.0)],
        vec![
            racked("h1", "s1", "r1"),
            racked("h2", "s2", "r2"),
            racked("h3", "s2", "r3"),
        ],
        (0..4)
            .map(|i| unpinned(&format!("m{i}"), 10.0, &["api"]))
            .collect(),
        json!([{"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1}]),
    );
    let (r, a) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 3.0), "{}", r.objective);
    let on_s1 = a
        .storage
        .iter()
        .filter(|s| s.map(|s| s.0) == Some(0))
        .count();
    assert_eq!(on_s1, 2);
}

#[test]
fn round_rules_count_members_and_say_whether_an_end_holds() {
    // The greedy plan's test (RoundRule::holds) on hand-made counts, and the counts of a plan.
    let rule = |policy: RoundPolicy| RoundRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(1), Some(2), None].into()),
        members: vec![(0, Some(0)), (1, Some(1))],
        fixed: Counts::from(vec![1, 0, 0]),
        policy,
    };
    let c = |dense: [u32; 3]| Counts::from(dense.to_vec());
    let together = rule(RoundPolicy::Together(1));
    assert!(together.holds(&c([2, 0, 0])));
    assert!(!together.holds(&c([1, 1, 0])));
    assert!(rule(RoundPolicy::Together(2)).holds(&c([1, 1, 0])));
    let spread = rule(RoundPolicy::Spread {
        room: std::sync::Arc::new(vec![true, true, false]),
        rooms: 2,
        skew: 1,
    });
    assert!(
        spread.holds(&c([2, 1, 5])),
        "rack 2 has no room: not compared"
    );
    assert!(!spread.holds(&c([2, 0, 0])));
    assert!(
        !spread.holds(&c([0, 2, 0])),
        "an empty rack with room counts 0"
    );
    let arrivals = Arrivals {
        max: 0,
        start: Counts::default(),
    };
    assert!(rule(RoundPolicy::Arrivals(arrivals)).holds(&c([9, 9, 9])));
    // Member 0 stays (None), member 1 moves to host 2 (domain 2): 1 + 1, 0, 1.
    assert_eq!(
        together.counts(|i| (i == 1).then_some(HostIx(2))).dense(3),
        vec![2, 0, 1]
    );
    // To a host outside the scope: it counts nowhere.
    assert_eq!(
        together.counts(|i| (i == 1).then_some(HostIx(3))).dense(3),
        vec![2, 0, 0]
    );
}

#[test]
fn migration_group_affinity_counts_a_domain_where_only_members_that_stay_run() {
    // The group runs in three racks: a (rack 0), c (rack 1), and a member that is no candidate
    // in rack 2; it may end in two at most, so a or c joins the other.
    let hosts = vec![sloped(10.0), sloped(10.0)];
    let vms = vec![round_vm(10.0, Some(0), &[1]), round_vm(10.0, Some(1), &[0])];
    let mut input = round(hosts, vms);
    input.rules = vec![RoundRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(1)].into()),
        members: vec![(0, Some(0)), (1, Some(1))],
        fixed: Counts::from(vec![0, 0, 1]),
        policy: RoundPolicy::Together(2),
    }];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends[0], ends[1], "{ends:?}");
}
