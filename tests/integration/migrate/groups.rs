//! Group rules (`groups[]`, issue 12) in a migration round.

use super::*;

/// A host of `rack` (and zone `z` + rack's first letter).
fn racked(id: &str, rack: &str, watts: &[f64]) -> Value {
    let mut h = host(id, 1000.0, watts);
    h["labels"] = json!({"rack": rack, "zone": format!("z{}", &rack[..1])});
    h
}

fn member(id: &str, host: &str, group: &str) -> Value {
    let mut v = vm(id, host, 100.0, 1.0, &[1.0]);
    v["groups"] = json!([group]);
    v
}

/// Host → rack of the document, and where each VM ends after the plan.
fn ends(doc: &Value, p: &Plan) -> std::collections::HashMap<String, String> {
    let rack: std::collections::HashMap<&str, &str> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap(),
                h["labels"]["rack"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    doc["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let id = v["id"].as_str().unwrap();
            let host = p
                .migrations
                .iter()
                .find(|m| m.vm == id)
                .map_or(v["host"].as_str().unwrap(), |m| m.to.as_str());
            (id.to_string(), rack[host].to_string())
        })
        .collect()
}

#[test]
fn anti_affinity_over_racks_sends_leaving_members_to_racks_without_one() {
    // `m` (rack a0) goes into maintenance with w1 and w2 of `web` (one per rack). Rack a1 already
    // runs w0 and has the cheapest hosts; racks b0 and b1 have one free place each.
    for planner in ["pabfd", "optimize"] {
        let mut m = racked("m", "a0", &G4);
        m["state"] = json!("maintenance");
        let doc = json!({
            "storage": [{"id": "s", "capacity_gib": 1000}],
            "hosts": [m, racked("a1x", "a1", &G4), racked("a1y", "a1", &G4),
                      racked("b0x", "b0", &G5), racked("b1x", "b1", &G5)],
            "vms": [member("w0", "a1x", "web"), member("w1", "m", "web"), member("w2", "m", "web")],
            "groups": [{"id": "web", "policy": "anti-affinity", "scope": "rack"}],
            "policy": {"placement": planner, "underload": false}
        });
        let (s, p) = planned(&doc);
        let at = ends(&doc, &p);
        let mut racks = vec![at["w1"].clone(), at["w2"].clone()];
        racks.sort();
        assert_eq!(racks, vec!["b0", "b1"], "{planner}: {:#?}", p.migrations);
        assert!(
            p.migrations
                .iter()
                .all(|m| m.declined.get(&DeclineCode::AdmissionAntiAffinity) >= Some(&2)),
            "{planner}: both hosts of rack a1 decline"
        );
        // The same plan with w2 sent to rack a1 breaks the rule.
        let mut bad = p.clone();
        let i = bad.migrations.iter().position(|m| m.vm == "w2").unwrap();
        bad.migrations[i].to = "a1y".into();
        for c in &mut bad.migrations[i].candidates {
            c.accepted = true;
        }
        let v = check_plan(&s, &bad);
        assert!(
            v.iter().any(|x| x.rule == Rule::GroupRule),
            "{planner}: {v:#?}"
        );
    }
}

#[test]
fn affinity_keeps_leaving_members_in_their_rack() {
    // d1 and d2 of `db` (affinity by rack) leave `m` in rack a0; a0's other host is dearer than
    // rack a1's, but the group stays together in a0.
    for planner in ["pabfd", "optimize"] {
        let mut m = racked("m", "a0", &G4);
        m["state"] = json!("maintenance");
        let doc = json!({
            "storage": [{"id": "s", "capacity_gib": 1000}],
            "hosts": [m, racked("a0x", "a0", &G5), racked("a1x", "a1", &G4)],
            "vms": [member("d1", "m", "db"), member("d2", "m", "db")],
            "groups": [{"id": "db", "policy": "affinity", "scope": "rack"}],
            "policy": {"placement": planner, "underload": false}
        });
        let (s, p) = planned(&doc);
        let at = ends(&doc, &p);
        assert_eq!(
            (at["d1"].as_str(), at["d2"].as_str()),
            ("a0", "a0"),
            "{planner}"
        );
        assert!(p
            .migrations
            .iter()
            .all(|m| m.declined.get(&DeclineCode::AdmissionAffinity) == Some(&1)));
        let mut bad = p.clone();
        bad.migrations[0].to = "a1x".into();
        for c in &mut bad.migrations[0].candidates {
            c.accepted = true;
        }
        let v = check_plan(&s, &bad);
        assert!(
            v.iter().any(|x| x.rule == Rule::GroupRule),
            "{planner}: {v:#?}"
        );
    }
}

#[test]
fn spread_sends_a_leaving_member_to_the_emptiest_zone() {
    // `s` (zone za, maintenance) holds s1; zone zb runs s2 and has the cheaper hosts; zone zc is
    // empty. With s1 in zb the skew would be 2 > 1: it goes to zc.
    for planner in ["pabfd", "optimize"] {
        let mut src = racked("src", "a0", &G4);
        src["state"] = json!("maintenance");
        let doc = json!({
            "storage": [{"id": "s", "capacity_gib": 1000}],
            "hosts": [src, racked("b0x", "b0", &G4), racked("b0y", "b0", &G4), racked("c0x", "c0", &G5)],
            "vms": [member("s1", "src", "api"), member("s2", "b0x", "api")],
            "groups": [{"id": "api", "policy": "spread", "scope": "zone", "max_skew": 1}],
            "policy": {"placement": planner, "underload": false}
        });
        let (_, p) = planned(&doc);
        assert_eq!(
            moves(&p),
            vec![("s1".into(), "src".into(), "c0x".into())],
            "{planner}"
        );
        assert_eq!(
            p.migrations[0].declined.get(&DeclineCode::AdmissionSpread),
            Some(&2),
            "{planner}"
        );
        // Without the rule the cheaper zone would take it.
        let mut free = doc.clone();
        free["groups"] = json!([]);
        for v in free["vms"].as_array_mut().unwrap() {
            v["groups"] = json!([]);
        }
        let (_, p) = planned(&free);
        assert_ne!(moves(&p)[0].2, "c0x", "{planner}");
    }
}

#[test]
fn state_group_errors_have_codes_and_paths_all_at_once() {
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 1000}],
        "hosts": [racked("h1", "a0", &G4)],
        "vms": [member("v1", "h1", "ghost")],
        "groups": [{"id": "g", "policy": "anti-affinity", "scope": "row", "max_skew": 2},
                   {"id": "g", "policy": "affinity"}]
    });
    let e = read_state(&doc.to_string()).unwrap_err();
    for (code, path) in [
        ("E1214", "/vms/0/groups/0"),
        ("E1215", "/groups/0/scope"),
        ("E1216", "/groups/0/max_skew"),
        ("E1201", "/groups/1/id"),
    ] {
        assert!(
            e.iter().any(|x| x.code == code && x.path == path),
            "{code} at {path}: {e:#?}"
        );
    }
}

#[test]
fn a_member_moves_inside_its_rack_and_a_rack_with_one_place_takes_one() {
    // w1 leaves m (rack a0) and may move inside a0 (to a0y, the cheapest); w2 and w3 leave n
    // (rack a3, alone there) for another rack: a2 is full with w0, a0 with w1 (which counts there
    // as it leaves m), a1 has one place. One of them stays on n, so the round MIP has no answer
    // and its warm start, the greedy plan, stands.
    let mut m = racked("m", "a0", &G5);
    m["state"] = json!("maintenance");
    let mut n = racked("n", "a3", &G5);
    n["state"] = json!("maintenance");
    let doc = json!({
        "storage": [{"id": "s", "capacity_gib": 1000}],
        "hosts": [m, n, racked("a0y", "a0", &G4), racked("a1x", "a1", &G5), racked("a2x", "a2", &G5)],
        "vms": [member("w0", "a2x", "web"), member("w1", "m", "web"),
                member("w2", "n", "web"), member("w3", "n", "web")],
        "groups": [{"id": "web", "policy": "anti-affinity", "scope": "rack"}],
        "policy": {"placement": "optimize", "underload": false}
    });
    let (_, p) = planned(&doc);
    let to = |vm: &str| {
        p.migrations
            .iter()
            .find(|m| m.vm == vm)
            .map(|m| m.to.clone())
    };
    assert_eq!(to("w1").as_deref(), Some("a0y"), "{:#?}", p.migrations);
    // One of w2, w3 takes rack a1's place; the other stays.
    assert_eq!(p.migrations.len(), 2, "{:#?}", p.migrations);
    assert_eq!(p.stats.stayed.len(), 1, "{:#?}", p.stats);
}

#[test]
fn a_soft_group_binds_neither_planner() {
    // As the anti-affinity test above, soft: the plan is the one without the group, and a member
    // joins w0 in rack a1.
    for planner in ["pabfd", "optimize"] {
        let mut m = racked("m", "a0", &G4);
        m["state"] = json!("maintenance");
        let doc = json!({
            "storage": [{"id": "s", "capacity_gib": 1000}],
            "hosts": [m, racked("a1x", "a1", &G4), racked("a1y", "a1", &G4),
                      racked("b0x", "b0", &G5), racked("b1x", "b1", &G5)],
            "vms": [member("w0", "a1x", "web"), member("w1", "m", "web"), member("w2", "m", "web")],
            "groups": [{"id": "web", "policy": "anti-affinity", "scope": "rack", "hard": false}],
            "policy": {"placement": planner, "underload": false}
        });
        let (_, p) = planned(&doc);
        let mut free = doc.clone();
        free["groups"] = json!([]);
        for v in free["vms"].as_array_mut().unwrap() {
            v["groups"] = json!([]);
        }
        let (_, q) = planned(&free);
        assert_eq!(moves(&p), moves(&q), "{planner}");
        // A member ends in rack a1 next to w0, which a hard rule would forbid; the plan counts it.
        let at = ends(&doc, &p);
        assert!(at["w1"] == "a1" || at["w2"] == "a1", "{planner}: {at:?}");
        let extra = [&at["w1"], &at["w2"]]
            .iter()
            .filter(|r| **r == "a1")
            .count() as u32;
        assert_eq!(
            p.stats.soft_violations.get("web"),
            Some(&extra),
            "{planner}"
        );
        let s: State = serde_json::from_value(doc.clone()).unwrap();
        let mut bad = p.clone();
        bad.stats.soft_violations.insert("web".into(), 0);
        let v = check_plan(&s, &bad);
        assert!(
            v.iter().any(|x| x.rule == Rule::BadStats),
            "{planner}: {v:#?}"
        );
    }
}

#[test]
fn the_shipped_state_with_groups_gets_valid_plans_that_strand_only_what_the_rules_hold() {
    // instances/README.md: the web members on host-0 have no rack with a place; the round is
    // planned around them.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/instances/migration/planetlab-20110303-h40-vm100-groups.json"
    ))
    .unwrap();
    for planner in ["pabfd", "optimize"] {
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        doc["policy"]["placement"] = json!(planner);
        let (_, p) = planned(&doc);
        for web in ["vm000", "vm040", "vm080"] {
            assert!(p.stats.stayed.iter().any(|s| s == web), "{planner}: {web}");
        }
        assert!(p.migrations.len() >= 9, "{planner}: {}", p.migrations.len());
    }
}

#[test]
fn the_round_mip_holds_spread_over_members_that_stay_and_the_skew_the_round_starts_with() {
    // x and y leave m (rack A, in maintenance); spread by rack, skew 1. Rack C is the cheapest.
    let spread = json!({"id": "api", "policy": "spread", "scope": "rack", "max_skew": 1});
    let run = |stay: Vec<Value>| {
        let mut m = racked("m", "A0", &G5);
        m["state"] = json!("maintenance");
        let mut vms = vec![member("x", "m", "api"), member("y", "m", "api")];
        vms.extend(stay);
        let doc = json!({
            "storage": [{"id": "s", "capacity_gib": 1000}],
            "hosts": [m, racked("b1", "B0", &G5), racked("c1", "C0", &G4), racked("d1", "D0", &G5)],
            "vms": vms,
            "groups": [spread.clone()],
            "policy": {"placement": "optimize", "underload": false}
        });
        let (_, p) = planned(&doc);
        let mut to: Vec<String> = p.migrations.iter().map(|m| m.to.clone()).collect();
        to.sort();
        (to, p.stats.stayed)
    };
    // B runs two members, C and D one each (skew 1): both to C would make it 2.
    let (to, stayed) = run(vec![
        member("b", "b1", "api"),
        member("b2", "b1", "api"),
        member("c", "c1", "api"),
        member("d", "d1", "api"),
    ]);
    assert_eq!(to, vec!["c1", "d1"], "{stayed:?}");
    // B and C run one each, D none: only D may take them, both (1, 1, 2).
    let (to, stayed) = run(vec![member("b", "b1", "api"), member("c", "c1", "api")]);
    assert_eq!(to, vec!["d1", "d1"], "{stayed:?}");
}
