//! Safe steps under group rules: members that enter and leave racks, swaps between racks,
//! affinity and spread, and the step checker's count of a moving member.

use super::*;

/// A host of rack `rack` (label), roomy.
fn in_rack(id: &str, rack: &str) -> Value {
    let mut h = host(id, 10.0);
    h["labels"] = json!({"rack": rack});
    h
}

/// The state with `groups` and VM `id`s' membership.
fn grouped(mut s: Value, groups: Value, members: &[(&str, &str)]) -> Value {
    s["groups"] = groups;
    for v in s["vms"].as_array_mut().unwrap() {
        if let Some((_, g)) = members.iter().find(|(id, _)| v["id"] == *id) {
            v["groups"] = json!([g]);
        }
    }
    s
}

#[test]
fn an_anti_affinity_member_enters_a_rack_once_the_member_leaving_it_has_left() {
    // Rack B holds b until b has gone to rack C; while b's wave runs it counts in both racks.
    let s = grouped(
        state(
            vec![
                in_rack("a1", "A"),
                in_rack("b1", "B"),
                in_rack("b2", "B"),
                in_rack("c1", "C"),
            ],
            vec![vm("a", "a1", 1.0), vm("b", "b1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "anti-affinity", "scope": "rack"}]),
        &[("a", "g"), ("b", "g")],
    );
    let p = sequenced(&s, &[("a", "a1", "b2"), ("b", "b1", "c1")]);
    assert_eq!(p.steps, vec![vec!["b".to_string()], vec!["a".to_string()]]);
    // Without the group both run at once.
    let free = state(
        vec![
            in_rack("a1", "A"),
            in_rack("b1", "B"),
            in_rack("b2", "B"),
            in_rack("c1", "C"),
        ],
        vec![vm("a", "a1", 1.0), vm("b", "b1", 1.0)],
        8,
    );
    assert_eq!(
        sequenced(&free, &[("a", "a1", "b2"), ("b", "b1", "c1")])
            .steps
            .len(),
        1
    );
}

#[test]
fn an_anti_affinity_swap_between_racks_is_dropped_not_run() {
    // a (rack A) and b (rack B) trade racks: whichever moves first, its new rack holds two while
    // its wave runs. No pivot may help (a detour changes the member's rack too).
    let s = grouped(
        state(
            vec![
                in_rack("a1", "A"),
                in_rack("a2", "A"),
                in_rack("b1", "B"),
                in_rack("b2", "B"),
            ],
            vec![vm("a", "a1", 1.0), vm("b", "b1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "anti-affinity", "scope": "rack"}]),
        &[("a", "g"), ("b", "g")],
    );
    let p = sequenced(&s, &[("a", "a1", "b2"), ("b", "b1", "a2")]);
    // Once one is dropped, the other would join a rack where the first still runs.
    assert!(p.migrations.is_empty(), "{:#?}", p.migrations);
    assert_eq!(p.stats.dropped.len(), 2, "{:#?}", p.stats.dropped);
    assert!(p
        .stats
        .dropped
        .iter()
        .all(|d| d.code == DropCode::NoSafeOrder));
}

#[test]
fn an_affinity_group_moves_no_member_that_would_split_it() {
    // x and y (affinity by rack, both in A) are both sent to rack B: after either wave alone the
    // group would span two racks, so neither runs.
    let s = grouped(
        state(
            vec![in_rack("a1", "A"), in_rack("b1", "B"), in_rack("b2", "B")],
            vec![vm("x", "a1", 1.0), vm("y", "a1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "affinity", "scope": "rack"}]),
        &[("x", "g"), ("y", "g")],
    );
    let p = sequenced(&s, &[("x", "a1", "b1"), ("y", "a1", "b2")]);
    assert!(p.migrations.is_empty(), "{:#?}", p.migrations);
    assert_eq!(p.stats.dropped.len(), 2);
    // A lone member may move: the group stays in one rack.
    let lone = grouped(
        state(
            vec![in_rack("a1", "A"), in_rack("b1", "B")],
            vec![vm("x", "a1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "affinity", "scope": "rack"}]),
        &[("x", "g")],
    );
    assert_eq!(sequenced(&lone, &[("x", "a1", "b1")]).migrations.len(), 1);
}

#[test]
fn the_step_checker_counts_a_moving_member_in_both_racks() {
    // The same rack entry as above, run in one wave by hand: the checker objects.
    let s = grouped(
        state(
            vec![
                in_rack("a1", "A"),
                in_rack("b1", "B"),
                in_rack("b2", "B"),
                in_rack("c1", "C"),
            ],
            vec![vm("a", "a1", 1.0), vm("b", "b1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "anti-affinity", "scope": "rack"}]),
        &[("a", "g"), ("b", "g")],
    );
    let mut p: Plan =
        serde_json::from_value(plan_of(&[("a", "a1", "b2"), ("b", "b1", "c1")])).unwrap();
    p.steps = vec![vec!["a".into(), "b".into()]];
    let st: State = serde_json::from_value(s).unwrap();
    let v = check_plan(&st, &p);
    assert!(
        v.iter()
            .any(|x| x.rule == Rule::GroupRule && x.path == "/steps/0"),
        "{v:#?}"
    );
}

#[test]
fn anti_affinity_members_bound_for_different_racks_move_in_one_wave() {
    // a leaves rack A for rack C, b leaves rack B for rack D, c leaves rack E for a host outside
    // every rack: nothing is shared, so one wave; a soft group does not order the rack entry of
    // the first test either.
    let mut loose = host("x1", 10.0);
    loose["labels"] = json!({});
    let s = grouped(
        state(
            vec![
                in_rack("a1", "A"),
                in_rack("b1", "B"),
                in_rack("c1", "C"),
                in_rack("d1", "D"),
                in_rack("e1", "E"),
                loose,
            ],
            vec![vm("a", "a1", 1.0), vm("b", "b1", 1.0), vm("c", "e1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "anti-affinity", "scope": "rack"}]),
        &[("a", "g"), ("b", "g"), ("c", "g")],
    );
    let moves = [("a", "a1", "c1"), ("b", "b1", "d1"), ("c", "e1", "x1")];
    assert_eq!(sequenced(&s, &moves).steps.len(), 1);
    let soft = grouped(
        state(
            vec![
                in_rack("a1", "A"),
                in_rack("b1", "B"),
                in_rack("b2", "B"),
                in_rack("c1", "C"),
            ],
            vec![vm("a", "a1", 1.0), vm("b", "b1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "anti-affinity", "scope": "rack", "hard": false}]),
        &[("a", "g"), ("b", "g")],
    );
    assert_eq!(
        sequenced(&soft, &[("a", "a1", "b2"), ("b", "b1", "c1")])
            .steps
            .len(),
        1
    );
}

#[test]
fn two_spread_members_bound_for_one_rack_do_not_both_go() {
    // Spread by rack (skew 1): x in A, y in B, C empty (1, 1, 0). Either alone to C leaves a
    // skew of 1; both would leave 0, 0, 2. A wave holds one crossing per group, and after it the
    // second would break the rule: it is dropped.
    let s = grouped(
        state(
            vec![
                in_rack("a1", "A"),
                in_rack("b1", "B"),
                in_rack("c1", "C"),
                in_rack("c2", "C"),
            ],
            vec![vm("x", "a1", 1.0), vm("y", "b1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "spread", "scope": "rack", "max_skew": 1}]),
        &[("x", "g"), ("y", "g")],
    );
    let p = sequenced(&s, &[("x", "a1", "c1"), ("y", "b1", "c2")]);
    assert_eq!(p.migrations.len(), 1, "{:#?}", p.migrations);
    assert_eq!(p.stats.dropped.len(), 1);
}

#[test]
fn the_rack_entry_waits_whatever_order_the_plan_lists_the_moves_in() {
    // As the first group test, with the leaving move listed first.
    let s = grouped(
        state(
            vec![
                in_rack("a1", "A"),
                in_rack("b1", "B"),
                in_rack("b2", "B"),
                in_rack("c1", "C"),
            ],
            vec![vm("a", "a1", 1.0), vm("b", "b1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "anti-affinity", "scope": "rack"}]),
        &[("a", "g"), ("b", "g")],
    );
    let p = sequenced(&s, &[("b", "b1", "c1"), ("a", "a1", "b2")]);
    assert_eq!(p.steps, vec![vec!["b".to_string()], vec!["a".to_string()]]);
}

#[test]
fn spread_members_that_keep_the_skew_together_share_a_wave() {
    // Spread by rack (skew 1): x leaves A for C, y leaves B for D (1, 1, 0, 0 to 0, 0, 1, 1).
    // After both the skew is 1, as after either: one wave.
    let s = grouped(
        state(
            vec![
                in_rack("a1", "A"),
                in_rack("b1", "B"),
                in_rack("c1", "C"),
                in_rack("d1", "D"),
            ],
            vec![vm("x", "a1", 1.0), vm("y", "b1", 1.0)],
            8,
        ),
        json!([{"id": "g", "policy": "spread", "scope": "rack", "max_skew": 1}]),
        &[("x", "g"), ("y", "g")],
    );
    let p = sequenced(&s, &[("x", "a1", "c1"), ("y", "b1", "d1")]);
    assert_eq!(p.steps.len(), 1, "{:#?}", p.steps);
    assert!(p.stats.dropped.is_empty());
}
