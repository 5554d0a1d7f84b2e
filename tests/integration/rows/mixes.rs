//! A mix of flavors (model::mix).

use super::*;

// A mix of flavors (model::mix): each family's rows decide the sets.

fn mix_sets(host_free: &[Vec<f64>], storage_free: &[f64], flavors: &[(f64, f64, usize)]) -> usize {
    let links: Vec<Vec<usize>> = host_free
        .iter()
        .map(|_| (0..storage_free.len()).collect())
        .collect();
    let flavors: Vec<MixFlavor> = flavors
        .iter()
        .map(|&(cpu, disk, share)| MixFlavor {
            demand: vec![cpu],
            disk_gib: disk,
            share,
        })
        .collect();
    let input = MixInput {
        host_free,
        storage_free,
        links: &links,
        flavors: &flavors,
        max_sets: 1000,
    };
    let m = mix::mix(&input, &opts()).expect("solves");
    assert_eq!(m.bound, m.sets, "proven");
    m.sets
}

#[test]
fn mix_host_capacity_shares_a_host_among_the_flavors() {
    // 4 CPUs: one of 2 and one of 1 per set, so one set (alone, each flavor would fit 2 and 4).
    assert_eq!(
        mix_sets(&[vec![4.0]], &[1e6], &[(2.0, 1.0, 1), (1.0, 1.0, 1)]),
        1
    );
}

#[test]
fn mix_storage_capacity_shares_the_storage_among_the_flavors() {
    // 100 GiB, images of 30: one set of two (alone, each flavor would fit 3).
    assert_eq!(
        mix_sets(&[vec![1e3]], &[100.0], &[(1.0, 30.0, 1), (1.0, 30.0, 1)]),
        1
    );
}

#[test]
fn mix_ratio_asks_each_flavor_for_its_share_of_every_set() {
    // 6 CPUs, two of 1 and one of 2 per set (4 CPUs): one set; without the ratio, any number.
    assert_eq!(
        mix_sets(&[vec![6.0]], &[1e6], &[(1.0, 1.0, 2), (2.0, 1.0, 1)]),
        1
    );
    // 8 CPUs: two sets.
    assert_eq!(
        mix_sets(&[vec![8.0]], &[1e6], &[(1.0, 1.0, 2), (2.0, 1.0, 1)]),
        2
    );
}
