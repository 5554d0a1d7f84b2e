//! Restart after failures (model::restart).

use super::*;

// Restart after failures (model::restart): each family's rows decide the count.

fn restart_vm(demand: f64, eligible: &[usize], group: Option<usize>) -> RestartVm {
    RestartVm {
        demand: vec![demand],
        eligible: eligible.iter().map(|&h| HostIx(h)).collect(),
        group,
    }
}

fn restart_count(free: &[f64], vms: &[RestartVm]) -> vmplace_core::model::restart::Restarts {
    restart_ruled(free, vms, &[])
}

fn restart_ruled(
    free: &[f64],
    vms: &[RestartVm],
    rules: &[RestartRule],
) -> vmplace_core::model::restart::Restarts {
    let free: IxVec<HostIx, Vec<f64>> = free.iter().map(|f| vec![*f]).collect();
    restart::restart(&free, vms, rules, &vec![None; vms.len()], &opts()).expect("solves")
}

/// Four hosts of free 10, in racks 0, 0, 1, 1; three VMs of 1 that may restart anywhere.
fn racked_restart(policy: RestartPolicy) -> (Vec<RestartVm>, Vec<RestartRule>) {
    let vms = (0..3)
        .map(|_| restart_vm(1.0, &[0, 1, 2, 3], None))
        .collect();
    let rule = RestartRule {
        domain_of: std::sync::Arc::new(vec![Some(0), Some(0), Some(1), Some(1)].into()),
        members: vec![0, 1, 2],
        policy,
    };
    (vms, vec![rule])
}

fn racks_of(r: &vmplace_core::model::restart::Restarts) -> Vec<usize> {
    let mut racks: Vec<usize> = r.host_of.iter().flatten().map(|&h| h.0 / 2).collect();
    racks.sort();
    racks
}

#[test]
fn restart_group_arrivals_cap_the_members_restarting_in_a_rack() {
    // Rack 0 has room for one more member, rack 1 for one: two of three restart, one per rack.
    // max 1, no survivor: one place per rack.
    let arrivals = |max: u32, present: Vec<u32>| RestartPolicy::Arrivals {
        max,
        present: Counts::from(present),
    };
    let (vms, rules) = racked_restart(arrivals(1, vec![0, 0]));
    let r = restart_ruled(&[10.0; 4], &vms, &rules);
    assert_eq!(racks_of(&r), vec![0, 1]);
    assert_eq!((r.bound, r.proven), (2, true));
    // Rack 0 full: one restarts, in rack 1... with two places there, two.
    let (vms, rules) = racked_restart(arrivals(2, vec![2, 0]));
    let r = restart_ruled(&[10.0; 4], &vms, &rules);
    assert_eq!(racks_of(&r), vec![1, 1]);
}

#[test]
fn restart_group_together_keeps_the_members_in_one_rack() {
    // Each host has room for one VM only: rack 0 takes two, so one of three stays down.
    let (vms, rules) = racked_restart(RestartPolicy::Together);
    let r = restart_ruled(&[1.0; 4], &vms, &rules);
    let racks = racks_of(&r);
    assert_eq!(racks.len(), 2, "{r:?}");
    assert_eq!(racks[0], racks[1]);
    assert!(r.proven);
    // Without the rule all three restart.
    assert_eq!(
        restart_count(&[1.0; 4], &vms)
            .host_of
            .iter()
            .flatten()
            .count(),
        3
    );
}

#[test]
fn restart_group_spread_keeps_the_racks_within_the_skew() {
    // Rack 0 runs two surviving members, rack 1 none; skew 2. When rack 1's hosts take one VM
    // each, all three restart (3 against 2). When rack 1 takes none, rack 0 may not grow past
    // 0 + 2: none restarts, proven.
    let spread = |present: Vec<u32>| RestartPolicy::Spread {
        present: Counts::from(present),
        room: std::sync::Arc::new(vec![true, true]),
        rooms: 2,
        skew: 2,
    };
    let (vms, rules) = racked_restart(spread(vec![2, 0]));
    let r = restart_ruled(&[10.0, 10.0, 1.0, 1.0], &vms, &rules);
    assert_eq!(racks_of(&r), vec![0, 1, 1]);
    let r = restart_ruled(&[10.0, 10.0, 0.0, 0.0], &vms, &rules);
    assert_eq!(r.host_of.iter().flatten().count(), 0, "{r:?}");
    assert!(r.proven);
    // Balanced survivors: up to the skew in either rack.
    let (vms, rules) = racked_restart(spread(vec![1, 1]));
    let r = restart_ruled(&[10.0, 10.0, 0.0, 0.0], &vms, &rules);
    assert_eq!(racks_of(&r), vec![0, 0]);
}

#[test]
fn restart_once_counts_a_vm_once_even_where_it_fits_everywhere() {
    // v0 asks for nothing and may go to any of three hosts; v1 fits nowhere. One VM restarts,
    // and that is proven: counted once per host, the bound would say two.
    let r = restart_count(
        &[4.0, 4.0, 4.0],
        &[
            restart_vm(0.0, &[0, 1, 2], None),
            restart_vm(5.0, &[0], None),
        ],
    );
    assert_eq!(
        r.host_of,
        vec![Some(r.host_of[0].expect("v0 restarts")), None]
    );
    assert_eq!((r.bound, r.proven), (1, true));
}

#[test]
fn restart_capacity_keeps_each_host_within_its_free_capacity() {
    // Two VMs of 3 on a host with 4 free: one restarts.
    let r = restart_count(
        &[4.0],
        &[restart_vm(3.0, &[0], None), restart_vm(3.0, &[0], None)],
    );
    assert_eq!(r.host_of.iter().flatten().count(), 1);
    assert_eq!((r.bound, r.proven), (1, true));
    // On two hosts, both do, one on each.
    let r = restart_count(
        &[4.0, 4.0],
        &[
            restart_vm(3.0, &[0, 1], None),
            restart_vm(3.0, &[0, 1], None),
        ],
    );
    assert_eq!(r.host_of.iter().flatten().count(), 2);
    assert_ne!(r.host_of[0], r.host_of[1]);
}

#[test]
fn restart_anti_affinity_puts_one_member_per_host() {
    // Both members fit on the one host together, but they are in one group.
    let r = restart_count(
        &[10.0],
        &[
            restart_vm(1.0, &[0], Some(0)),
            restart_vm(1.0, &[0], Some(0)),
        ],
    );
    assert_eq!(r.host_of.iter().flatten().count(), 1);
    assert_eq!((r.bound, r.proven), (1, true));
    // Members of different groups share it.
    let r = restart_count(
        &[10.0],
        &[
            restart_vm(1.0, &[0], Some(0)),
            restart_vm(1.0, &[0], Some(1)),
        ],
    );
    assert_eq!(r.host_of.iter().flatten().count(), 2);
}
