//! A vmplace problem as a Ganeti `multi-allocate` document, so that hail and vmplace can be run
//! on the same cluster (`vmplace iallocator --from-problem`). models/ganeti.md, "Export", says
//! what is kept and what Ganeti cannot express.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use vmplace_wire::Problem;

/// MiB per GiB.
const MIB: f64 = 1024.0;

/// Memory of a resource vector in MiB: `memory_mib`, or `memory_gib` converted.
fn memory_mib(r: &BTreeMap<String, f64>) -> f64 {
    r.get("memory_mib")
        .copied()
        .unwrap_or_else(|| r.get("memory_gib").copied().unwrap_or(0.0) * MIB)
}

/// The Ganeti document: one node per host, one group per distinct set of connected storage
/// systems (a rack), one new `ext` instance per request, exclusion tags for anti-affinity. A
/// host's load becomes an instance `load-HOST` so that Ganeti's free memory and CPU agree.
pub fn to_ganeti(p: &Problem) -> Value {
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    let mut nodes = Map::new();
    let mut instances = Map::new();
    for h in &p.hosts {
        let mut links = h.storage.clone();
        links.sort();
        let key = links.join("+");
        let n = groups.len();
        let uuid = groups
            .entry(key)
            .or_insert_with(|| format!("group-{n}"))
            .clone();
        let used = h.used.clone().unwrap_or_default();
        let total_mem = memory_mib(&h.capacity).floor();
        let used_mem = memory_mib(&used).ceil();
        let cpus = h.capacity.get("cpu").copied().unwrap_or(0.0).floor();
        nodes.insert(
            h.id.clone(),
            json!({
                "group": uuid, "offline": false, "drained": false, "vm_capable": true,
                "master_candidate": false, "master_capable": false,
                "ndparams": {"exclusive_storage": false, "spindle_count": 1000},
                "tags": [], "primary_ip": "192.0.2.1", "secondary_ip": "192.0.2.1",
                "total_memory": total_mem, "reserved_memory": 0,
                "free_memory": (total_mem - used_mem).max(0.0),
                "total_disk": 1_048_576, "free_disk": 1_048_576,
                "total_cpus": cpus, "reserved_cpus": 0,
                "total_spindles": 1000, "free_spindles": 1000,
                "i_pri_memory": used_mem, "i_pri_up_memory": used_mem,
            }),
        );
        let used_cpu = used.get("cpu").copied().unwrap_or(0.0).ceil();
        if used_mem > 0.0 || used_cpu > 0.0 {
            instances.insert(
                format!("load-{}", h.id),
                instance(used_mem, used_cpu, 0.0, &[], Some(&h.id)),
            );
        }
    }
    let new: Vec<Value> = p
        .requests
        .iter()
        .map(|r| {
            let tags: Vec<String> = r.anti_affinity.iter().map(|g| format!("aa:{g}")).collect();
            let mut v = instance(
                memory_mib(&r.demand).ceil(),
                r.demand.get("cpu").copied().unwrap_or(0.0).ceil(),
                (r.disk_gib * MIB).ceil(),
                &tags,
                None,
            );
            v["name"] = json!(r.id);
            v["required_nodes"] = json!(1);
            v
        })
        .collect();
    let nodegroups: Map<String, Value> = groups
        .values()
        .map(|uuid| {
            let policy = json!({
                "disk-templates": ["ext", "rbd", "sharedfile", "diskless"],
                "minmax": [], "vcpu-ratio": 1.0, "spindle-ratio": 1.0,
                "std": {"cpu-count": 1, "disk-count": 1, "disk-size": 1024,
                        "memory-size": 128, "nic-count": 1, "spindle-use": 1}
            });
            let g = json!({"name": uuid, "alloc_policy": "preferred", "networks": [],
                           "ipolicy": policy, "tags": []});
            (uuid.clone(), g)
        })
        .collect();
    json!({
        "version": 2,
        "cluster_name": "converted.vmplace",
        "cluster_tags": ["htools:iextags:aa"],
        "enabled_hypervisors": ["kvm"],
        "ipolicy": nodegroups.values().next().map(|g| g["ipolicy"].clone()),
        "nodegroups": nodegroups,
        "nodes": nodes,
        "instances": instances,
        "request": {"type": "multi-allocate", "instances": new},
    })
}

fn instance(memory: f64, vcpus: f64, disk: f64, tags: &[String], node: Option<&str>) -> Value {
    let mut v = json!({
        "memory": memory, "vcpus": vcpus, "disk_template": "ext",
        "disks": [{"size": disk, "mode": "rw"}], "disk_space_total": 0,
        "spindle_use": 1, "tags": tags, "nics": [], "os": "debootstrap",
        "hypervisor": "kvm", "admin_state": "up",
    });
    if let Some(n) = node {
        v["nodes"] = json!([n]);
    }
    v
}
