//! Packing by column generation: the pattern master (models/host.md).

use super::*;

use vmplace_core::model::patterns::{MasterInput, Pattern, PatternMaster};

fn master(
    demand: &[f64],
    hosts: &[f64],
    cost: &[f64],
    patterns: &[(usize, &[(usize, u32)])],
) -> PatternMaster {
    let mut m = PatternMaster::new(MasterInput {
        demand: demand.to_vec(),
        unplaced_cost: demand.iter().map(|_| 100.0).collect(),
        hosts: hosts.to_vec(),
        host_cost: cost.to_vec(),
    });
    for (class, counts) in patterns {
        m.add(Pattern {
            class: *class,
            counts: counts.to_vec(),
        });
    }
    m
}

#[test]
fn pattern_cover_needs_every_vm_covered() {
    // Three VMs of one flavor, hosts that hold two: the LP uses one and a half hosts, the integer
    // master two. Without the cover rows nothing would be opened.
    let mut m = master(&[3.0], &[5.0], &[1.0], &[(0, &[(0, 2)])]);
    let lp = m.solve_lp(&opts()).unwrap().expect("LP solved");
    assert!(close(lp.objective, 1.5), "{}", lp.objective);
    assert!(lp.cover[0] > 0.4, "the cover row binds: {:?}", lp.cover);
    let int = m.solve_integer(&[0], &opts()).unwrap();
    assert_eq!(int.status, MipStatus::Optimal);
    assert_eq!(int.uses, vec![2]);
    assert!(close(int.objective, 2.0));
}

#[test]
fn pattern_hosts_limits_each_class_to_its_hosts() {
    // One running host (cost 0) holds three VMs, idle hosts (cost 1) hold one: four VMs need the
    // running host once and one idle host. Without the class rows the running host would be
    // used twice at no cost.
    let mut m = master(
        &[4.0],
        &[1.0, 10.0],
        &[0.0, 1.0],
        &[(0, &[(0, 3)]), (1, &[(0, 1)])],
    );
    let lp = m.solve_lp(&opts()).unwrap().expect("LP solved");
    assert!(close(lp.objective, 1.0), "{}", lp.objective);
    assert!(
        lp.hosts[0] < -0.5,
        "the running class's row binds: {:?}",
        lp.hosts
    );
    let int = m.solve_integer(&[0, 0], &opts()).unwrap();
    assert_eq!(int.uses, vec![1, 1]);
    assert!(close(int.objective, 1.0));
}

#[test]
fn pattern_master_leaves_unplaced_what_no_class_can_take() {
    // Four VMs, one host of three: one VM stays unplaced at its cost (100 here).
    let mut m = master(&[4.0], &[1.0], &[1.0], &[(0, &[(0, 3)])]);
    let int = m.solve_integer(&[1], &opts()).unwrap();
    assert_eq!(int.uses, vec![1]);
    assert!(close(int.objective, 101.0), "{}", int.objective);
    let lp = m.solve_lp(&opts()).unwrap().expect("LP solved");
    assert!(close(lp.objective, 101.0), "{}", lp.objective);
}
