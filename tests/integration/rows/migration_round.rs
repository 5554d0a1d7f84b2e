//! The migration round (models/migration.md).

use super::*;

fn round_host(p0: f64, always_on: bool, mem: f64) -> RoundHost {
    RoundHost {
        cap: 100.0,
        fixed: 0.0,
        p0,
        p1: p0 + 100.0,
        always_on,
        rest_cap: vec![mem],
        rest_fixed: vec![0.0],
    }
}

pub(super) fn round_vm(cpu: f64, stay: Option<usize>, targets: &[usize]) -> RoundVm {
    RoundVm {
        cpu,
        peak: cpu,
        stay: stay.map(HostIx),
        targets: targets.iter().map(|&h| HostIx(h)).collect(),
        move_cost: 0.0,
        group: None,
        rest: vec![1.0],
        start: None,
        must_leave: false,
    }
}

pub(super) fn round(hosts: Vec<RoundHost>, vms: Vec<RoundVm>) -> RoundInput {
    RoundInput {
        hosts: hosts.into(),
        vms,
        group_fixed: Vec::new(),
        rules: Vec::new(),
        theta: 0.8,
        budget: usize::MAX,
        penalty: 10_000.0,
        stuck: 1e6,
    }
}

pub(super) fn round_solve(input: &RoundInput) -> (MipResult, Vec<Option<HostIx>>) {
    let (r, ends) = migration::solve(input, &opts()).expect("HiGHS runs");
    assert_eq!(r.status, MipStatus::Optimal, "{r:?}");
    (r, ends)
}

#[test]
fn migration_assignment_sends_a_leaving_vm_to_exactly_one_host() {
    // A VM on a host in maintenance (no stay column) must land somewhere.
    let input = round(
        vec![round_host(50.0, true, 10.0), round_host(70.0, true, 10.0)],
        vec![round_vm(10.0, None, &[0, 1])],
    );
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))]);
    // Both hosts stay on (offset 120 W) plus the dynamic power of 10 % on host 0.
    assert!(close(r.objective, 120.0 + 10.0), "{}", r.objective);
}

#[test]
fn migration_cost_strands_a_vm_that_must_leave_only_when_no_target_takes_it() {
    // The VM on host 0 (in maintenance) must leave; host 1 has 10 GiB, then 0.5.
    let mut vm = round_vm(10.0, Some(0), &[1]);
    vm.must_leave = true;
    let input = round(
        vec![round_host(50.0, false, 10.0), round_host(70.0, true, 10.0)],
        vec![vm.clone()],
    );
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
    assert!(close(migration::cost(&input, &ends), r.objective));
    // No room on host 1: it stays, at the price of one stranded VM, and the model still answers.
    let input = round(
        vec![round_host(50.0, false, 10.0), round_host(70.0, true, 0.5)],
        vec![vm],
    );
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))]);
    assert!(r.objective >= 1e6, "{}", r.objective);
    assert!(close(migration::cost(&input, &ends), r.objective));
}

#[test]
fn migration_capacity_keeps_memory_within_the_target() {
    // The cheaper host 0 has 0.5 GiB of memory left; the VM needs 1.
    let input = round(
        vec![round_host(50.0, true, 0.5), round_host(70.0, true, 10.0)],
        vec![round_vm(10.0, None, &[0, 1])],
    );
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
}

#[test]
fn migration_capacity_prices_cpu_above_the_safe_utilisation() {
    // Two VMs of 50 % CPU: together on host 0 they would pass theta = 0.8 and pay the penalty,
    // so one goes to host 1 although it costs more power.
    let mut a = round_vm(50.0, None, &[0, 1]);
    a.rest = vec![0.0];
    let b = a.clone();
    let input = round(
        vec![round_host(50.0, false, 10.0), round_host(70.0, false, 10.0)],
        vec![a, b],
    );
    let (r, ends) = round_solve(&input);
    assert_ne!(ends[0], ends[1], "{ends:?}");
    assert!(close(r.objective, 50.0 + 70.0 + 100.0), "{}", r.objective);
}

#[test]
fn migration_host_on_switches_on_a_host_that_receives_even_an_idle_vm() {
    // An idle VM (no CPU) leaving a host: whichever host takes it must be on and pay its idle
    // power, the cheaper one.
    let input = round(
        vec![round_host(50.0, false, 10.0), round_host(70.0, false, 10.0)],
        vec![round_vm(0.0, None, &[0, 1])],
    );
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))]);
    assert!(close(r.objective, 50.0), "{}", r.objective);
}

#[test]
fn migration_anti_affinity_keeps_group_members_apart() {
    // Two members of group 0 leave; host 0 is cheaper but takes one at most.
    let mut a = round_vm(1.0, None, &[0, 1]);
    a.group = Some(0);
    let b = a.clone();
    let input = round(
        vec![round_host(50.0, true, 10.0), round_host(70.0, true, 10.0)],
        vec![a, b],
    );
    let (_, ends) = round_solve(&input);
    assert_ne!(ends[0], ends[1], "{ends:?}");
}

#[test]
fn migration_anti_affinity_avoids_a_host_where_a_member_stays() {
    // A member of group 0 that is no candidate runs on host 0.
    let mut a = round_vm(1.0, None, &[0, 1]);
    a.group = Some(0);
    let mut input = round(
        vec![round_host(50.0, true, 10.0), round_host(70.0, true, 10.0)],
        vec![a],
    );
    input.group_fixed = vec![(0, HostIx(0))];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
}

/// A host that stays on, whose dynamic power is `slope` W at full CPU: cheaper hosts, lower slope.
pub(super) fn sloped(slope: f64) -> RoundHost {
    RoundHost {
        p1: 50.0 + slope,
        ..round_host(50.0, true, 10.0)
    }
}

#[test]
fn migration_group_arrivals_cap_the_members_entering_a_domain() {
    // Racks: hosts 0, 1 in rack 0 (cheap), hosts 2, 3 in rack 1, host 4 (maintenance) in rack 2.
    // Two members of an anti-affinity group (one per rack) leave host 4.
    let hosts: Vec<RoundHost> = [10.0, 10.0, 60.0, 60.0, 90.0]
        .into_iter()
        .map(sloped)
        .collect();
    let vms = vec![
        round_vm(10.0, None, &[0, 1, 2, 3]),
        round_vm(10.0, None, &[0, 1, 2, 3]),
    ];
    let rack = |h: usize| [0, 0, 1, 1, 2][h];
    let rule = |arrivals: [u32; 3]| RoundRule {
        domain_of: std::sync::Arc::new((0..5).map(|h| Some(rack(h))).collect()),
        members: vec![(0, Some(2)), (1, Some(2))],
        fixed: Counts::default(),
        // max 2, less the members at the start: `arrivals` may arrive per rack.
        policy: RoundPolicy::Arrivals(Arrivals {
            max: 2,
            start: Counts::from(arrivals.iter().map(|a| 2 - a).collect::<Vec<u32>>()),
        }),
    };
    let racks =
        |ends: &[Option<HostIx>]| ends.iter().map(|e| rack(e.unwrap().0)).collect::<Vec<_>>();
    // No rule: both take the cheap rack.
    let (_, ends) = round_solve(&round(hosts.clone(), vms.clone()));
    assert_eq!(racks(&ends), vec![0, 0]);
    // One place per rack: one each.
    let mut input = round(hosts.clone(), vms.clone());
    input.rules = vec![rule([1, 1, 0])];
    let (_, ends) = round_solve(&input);
    let mut got = racks(&ends);
    got.sort();
    assert_eq!(got, vec![0, 1], "{ends:?}");
    // A member already fills rack 0: both go to rack 1.
    input.rules = vec![rule([0, 2, 0])];
    let (_, ends) = round_solve(&input);
    assert_eq!(racks(&ends), vec![1, 1], "{ends:?}");
    // That member is a candidate too (it may stay on host 0 or move to host 1): a move inside
    // its own rack is no arrival.
    input.vms.push(round_vm(10.0, Some(0), &[1]));
    let mut r = rule([0, 2, 0]);
    r.members.push((2, Some(0)));
    input.rules = vec![r];
    let (_, ends) = round_solve(&input);
    assert_eq!(racks(&ends), vec![1, 1, 0], "{ends:?}");
}

#[test]
fn migration_group_spread_keeps_the_racks_within_the_skew() {
    // Two members leave host 0 (rack 0, in maintenance: no room): host 1 (rack 1) is cheap,
    // host 2 (rack 2) dear. Racks 1 and 2 may differ by one member: one each.
    let hosts = vec![sloped(90.0), sloped(10.0), sloped(60.0)];
    let vms = vec![round_vm(10.0, None, &[1, 2]), round_vm(10.0, None, &[1, 2])];
    let (_, ends) = round_solve(&round(hosts.clone(), vms.clone()));
    assert_eq!(ends, vec![Some(HostIx(1)), Some(HostIx(1))]);
    let spread = |fixed: Vec<u32>, skew: u32| RoundRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(1), Some(2)].into()),
        members: vec![(0, Some(0)), (1, Some(0))],
        fixed: Counts::from(fixed),
        policy: RoundPolicy::Spread {
            room: std::sync::Arc::new(vec![false, true, true]),
            rooms: 2,
            skew,
        },
    };
    let mut input = round(hosts, vms);
    input.rules = vec![spread(vec![0, 0, 0], 1)];
    let (_, ends) = round_solve(&input);
    let mut got = ends.clone();
    got.sort();
    assert_eq!(got, vec![Some(HostIx(1)), Some(HostIx(2))], "{ends:?}");
    // A member that stays in rack 2 already: both may take rack 1 (2 against 1).
    input.rules = vec![spread(vec![0, 0, 1], 1)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1)), Some(HostIx(1))]);
    // Rack 1 holds two that stay: the skew keeps both out of it.
    input.rules = vec![spread(vec![0, 2, 0], 1)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(2)), Some(HostIx(2))]);
}

#[test]
fn migration_group_affinity_ends_the_members_in_as_few_domains_as_they_started() {
    // a may stay on host 0 (rack 0, dear) or move to host 1 (rack 1, cheap); b stays in rack 0.
    let hosts = vec![sloped(90.0), sloped(10.0)];
    let vms = vec![round_vm(10.0, Some(0), &[1])];
    let (_, ends) = round_solve(&round(hosts.clone(), vms.clone()));
    assert_eq!(ends, vec![Some(HostIx(1))]);
    let together = |fixed: Vec<u32>, most: u32| RoundRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(1)].into()),
        members: vec![(0, Some(0))],
        fixed: Counts::from(fixed),
        policy: RoundPolicy::Together(most),
    };
    let mut input = round(hosts, vms);
    input.rules = vec![together(vec![1, 0], 1)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))], "a stays with b");
    // Alone, a may go: the group is still in one rack.
    input.rules = vec![together(vec![0, 0], 1)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
    // Started in two racks (b in rack 0, c in rack 1): a may join c.
    input.rules = vec![together(vec![1, 1], 2)];
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
}

#[test]
fn migration_budget_caps_the_moves() {
    // Two VMs on two hosts would consolidate onto host 0 (saving host 1's idle power); with a
    // budget of one move, one moves, and with none, neither.
    for (budget, moves) in [(usize::MAX, 1), (1, 1), (0, 0)] {
        let input = RoundInput {
            budget,
            ..round(
                vec![round_host(50.0, false, 10.0), round_host(70.0, false, 10.0)],
                vec![round_vm(10.0, Some(0), &[1]), round_vm(10.0, Some(1), &[0])],
            )
        };
        let (_, ends) = round_solve(&input);
        let moved = ends
            .iter()
            .zip(&input.vms)
            .filter(|(e, vm)| **e != vm.stay)
            .count();
        assert_eq!(moved, moves, "budget {budget}: {ends:?}");
    }
}

#[test]
fn migration_cost_weighs_idle_power_against_move_cost() {
    // Consolidating saves host 1's 70 W idle power; a move cost of 100 W-equivalent outweighs it.
    for (move_cost, stays) in [(0.0, false), (100.0, true)] {
        let mut vm = round_vm(10.0, Some(1), &[0]);
        vm.move_cost = move_cost;
        let input = round(
            vec![round_host(50.0, true, 10.0), round_host(70.0, false, 10.0)],
            vec![vm],
        );
        let (r, ends) = round_solve(&input);
        assert_eq!(
            ends[0] == Some(HostIx(1)),
            stays,
            "move cost {move_cost}: {ends:?}"
        );
        let want = if stays {
            50.0 + 70.0 + 10.0
        } else {
            50.0 + 10.0
        };
        assert!(close(r.objective, want), "{}", r.objective);
        assert!(close(migration::cost(&input, &ends), r.objective));
    }
}

#[test]
fn migration_capacity_counts_what_staying_vms_use() {
    // Host 0 is cheaper, but VMs that stay there use 9.5 of its 10 GiB: the VM (1 GiB) goes to 1.
    let mut cheap = round_host(50.0, true, 10.0);
    cheap.rest_fixed = vec![9.5];
    let input = round(
        vec![cheap, round_host(70.0, true, 10.0)],
        vec![round_vm(10.0, None, &[0, 1])],
    );
    let (_, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(1))]);
}

#[test]
fn migration_capacity_pays_the_overload_when_there_is_no_other_host() {
    // A 90 % VM must leave, and its only target's safe utilisation is 80 %: it goes there and
    // the model pays for the 10 % above (10,000 W per unit of capacity, so 1,000 W).
    let mut vm = round_vm(90.0, None, &[0]);
    vm.rest = vec![0.0];
    let input = round(vec![round_host(50.0, true, 10.0)], vec![vm]);
    let (r, ends) = round_solve(&input);
    assert_eq!(ends, vec![Some(HostIx(0))]);
    assert!(close(r.objective, 50.0 + 90.0 + 1000.0), "{}", r.objective);
}

#[test]
fn migration_capacity_counts_the_expected_cpu_of_vms_that_stay() {
    // Host 0 is cheaper but already expects 50 % from VMs that stay (whether it must stay on or
    // may go off): a 40 % VM would take it past 80 %, so it goes to host 1.
    for always_on in [true, false] {
        let mut busy = round_host(50.0, always_on, 10.0);
        busy.fixed = 50.0;
        let mut vm = round_vm(40.0, None, &[0, 1]);
        vm.rest = vec![0.0];
        let input = round(vec![busy, round_host(60.0, false, 10.0)], vec![vm]);
        let (r, ends) = round_solve(&input);
        assert_eq!(ends, vec![Some(HostIx(1))], "always on: {always_on}");
        // Host 0 stays on for its own VMs (50 W), host 1 runs the VM (60 W + 40 W).
        assert!(close(r.objective, 150.0), "{}", r.objective);
    }
}

#[test]
fn storage_candidates_take_an_image_that_fills_the_free_space_exactly() {
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 60.0)],
               "hosts": [host("h1", 8.0, &["s1"])],
               "requests": [req("vm", 1.0, 40.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 1.0), "{}", r.objective);
}

#[test]
fn storage_candidates_bound_copies_in_the_relaxation_and_count_exact_fits() {
    // Three 40 GiB images, 100 GiB free: the capacity row alone lets the LP place 2.5; the
    // column's bound (whole images that fit) keeps it at 2.
    let three = json!({"storage": [storage_sys("s1", 100.0, 0.0)],
           "hosts": [host("h1", 64.0, &["s1"])],
           "requests": [req("a", 1.0, 40.0), req("b", 1.0, 40.0), req("c", 1.0, 40.0)]});
    let d = domain(three, Objective::Balance, Objective::Balance, 0.0);
    let slack = vec![vec![0.0; d.resources.len()]; 1];
    let warm = Assignment::empty(3);
    let input = StorageInput {
        d: &d,
        slack: &slack.clone().into(),
        warm: &warm,
    };
    let relaxed = MipOptions {
        relax: true,
        ..opts()
    };
    let (r, _) = storage::solve(&input, Stage::Placement, &relaxed).unwrap();
    assert!(close(r.objective, 2.0), "{}", r.objective);
    // Two 50 GiB images fill 100 GiB exactly: both.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 64.0, &["s1"])],
               "requests": [req("a", 1.0, 50.0), req("b", 1.0, 50.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert!(close(r.objective, 2.0), "{}", r.objective);
}

#[test]
fn storage_model_has_rows_only_where_they_bind() {
    // One CPU-only request, one storage system, one host: y, and one look-ahead share for CPU
    // (memory is not demanded). Rows: the storage's capacity, CPU look-ahead, CPU share; no
    // assignment row for a single column.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [host("h1", 8.0, &["s1"])],
               "requests": [{"id": "vm", "demand": {"cpu": 2}, "disk_gib": 10}]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, _) = storage_solve(&d, Stage::Placement);
    assert_eq!(
        (r.size.variables, r.size.constraints),
        (2, 3),
        "{:?}",
        r.size
    );
}

#[test]
fn storage_balance_counts_what_a_storage_already_holds() {
    // s1 holds 50 GiB, s2 40 GiB: a 30 GiB image on s2 gives U = 0.7, on s1 0.8.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 50.0), storage_sys("s2", 100.0, 40.0)],
               "hosts": [host("h1", 8.0, &["s1", "s2"])],
               "requests": [req("vm", 1.0, 30.0)]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = storage_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        storage_id(&d, a.storage[vmplace_core::domain::RequestIx(0)]),
        Some("s2")
    );
    assert!(close(r.objective, 0.7), "U = {}", r.objective);
}

#[test]
fn host_balance_counts_what_a_host_already_runs() {
    // h1 runs 5 of 10 CPUs, h2 4: a 3-CPU VM on h2 gives U = 0.7, on h1 0.8.
    let d = domain(
        json!({"storage": [storage_sys("s1", 100.0, 0.0)],
               "hosts": [busy_host("h1", 10.0, 5.0, &["s1"]), busy_host("h2", 10.0, 4.0, &["s1"])],
               "requests": [{"id": "vm", "demand": {"cpu": 3}, "disk_gib": 1, "storage": "s1"}]}),
        Objective::Balance,
        Objective::Balance,
        0.0,
    );
    let (r, a) = host_solve(&d, Stage::Policy { min_weight: 1.0 });
    assert_eq!(
        host_id(&d, a.host[vmplace_core::domain::RequestIx(0)]),
        Some("h2")
    );
    assert!(close(r.objective, 0.7), "U = {}", r.objective);
}

#[test]
fn presolve_runs_only_when_the_time_limit_leaves_it_room() {
    use vmplace_core::model::presolve_allowed;
    // The 10,000-request storage model (132,650 columns): not on a 0.26 s or 15 s limit, from
    // 16 s on (its worst presolve, 4 s, is a quarter of that).
    assert!(!presolve_allowed(true, 0.26, 132_650));
    assert!(!presolve_allowed(true, 15.9, 132_650));
    assert!(presolve_allowed(true, 16.0, 132_650));
    // Twice the columns need four times the limit.
    assert!(!presolve_allowed(true, 63.9, 265_300));
    assert!(presolve_allowed(true, 64.0, 265_300));
    // The 100,000-request model (924,642 columns) on 43 s: no presolve (it took 256 s).
    assert!(!presolve_allowed(true, 43.0, 924_642));
    // Small models always, unless the caller turns it off (LNS neighbourhoods).
    assert!(presolve_allowed(true, 0.05, 3_463));
    assert!(!presolve_allowed(false, 100.0, 10));
}

/// The energy floor's MIP on one G4-like type (86 W idle, 117 W full, linear).
fn floor_of(count: usize, demand: f64) -> f64 {
    use vmplace_core::model::floor::{min_power, HostType};
    let watts: Vec<f64> = (0..11).map(|i| 86.0 + 3.1 * i as f64).collect();
    let types = [HostType {
        count,
        mips: 3720.0,
        watts,
    }];
    min_power(&types, demand, &opts()).unwrap()
}

#[test]
fn floor_demand_makes_hosts_serve_the_demand() {
    // Without the row nothing need run: 0 W.
    let w = floor_of(4, 2250.0);
    assert!((w - (86.0 + 31.0 * 2250.0 / 3720.0)).abs() < 1e-6, "{w}");
}

#[test]
fn floor_capacity_needs_two_hosts_past_one_hosts_mips() {
    // 5000 MIPS need two 3720-MIPS hosts: two idle powers, not one.
    let w = floor_of(4, 5000.0);
    assert!(
        (w - (2.0 * 86.0 + 31.0 * 5000.0 / 3720.0)).abs() < 1e-6,
        "{w}"
    );
    // Capped at the pool's capacity: one host, full.
    assert!((floor_of(1, 9999.0) - 117.0).abs() < 1e-6);
}

#[test]
fn floor_envelope_charges_the_curve_below_its_table() {
    use vmplace_core::model::floor::{envelope, min_power, HostType};
    // A table above its chord at 50 %: the envelope is the chord, 100 + 50 u.
    let mut watts: Vec<f64> = (0..11).map(|i| 100.0 + 5.0 * i as f64).collect();
    watts[5] = 140.0;
    assert_eq!(envelope(&watts).len(), 1);
    let types = [HostType {
        count: 1,
        mips: 1000.0,
        watts,
    }];
    let w = min_power(&types, 500.0, &opts()).unwrap();
    assert!((w - 125.0).abs() < 1e-6, "{w}");
}

#[test]
fn floor_envelope_is_the_lower_hull_of_the_power_table() {
    use vmplace_core::model::floor::{envelope, hull};
    let near = |a: &[(f64, f64)], b: &[(f64, f64)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(p, q)| (p.0 - q.0).abs() < 1e-9 && (p.1 - q.1).abs() < 1e-9)
    };
    // G5: (0.2, 101) lies on the segment from (0.1, 97) to (0.3, 105) and is dropped; every point
    // after 0.3 lies above the chord to (1, 135).
    let g5 = vmplace_core::sim::G5_WATTS;
    let h = hull(&g5);
    assert!(
        near(&h, &[(0.0, 93.7), (0.1, 97.0), (0.3, 105.0), (1.0, 135.0)]),
        "{h:?}"
    );
    // A convex table is its own hull; a one-point table is that point.
    let convex: Vec<f64> = (0..11).map(|i| 50.0 + (i * i) as f64).collect();
    assert_eq!(hull(&convex).len(), 11);
    assert!(near(&hull(&[70.0]), &[(0.0, 70.0)]));
    // The envelope's lines pass through consecutive hull points.
    let lines = envelope(&g5);
    assert_eq!(lines.len(), 3);
    assert!((lines[0].intercept - 93.7).abs() < 1e-9 && (lines[0].slope - 33.0).abs() < 1e-9);
    assert!((lines[2].slope - 30.0 / 0.7).abs() < 1e-9);
    assert!((lines[1].intercept - (97.0 - 40.0 * 0.1)).abs() < 1e-9);
    assert!((lines[2].intercept - (105.0 - 30.0 / 0.7 * 0.3)).abs() < 1e-9);
    // A point below its chord by rounding noise only (relative to the watts) is no vertex.
    assert_eq!(hull(&[0.0, 0.005 - 5e-10, 0.01]).len(), 2);
    assert_eq!(hull(&[0.0, 500.0 - 2e-8, 1000.0]).len(), 2);
    // One clearly below it is.
    assert_eq!(hull(&[0.0, 0.004, 0.01]).len(), 3);
}
