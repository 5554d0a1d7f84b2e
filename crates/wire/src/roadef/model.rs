//! The typed ROADEF/EURO 2012 instance (machine reassignment): what [`super::parse`] reads.
//! Indices are newtypes so that a machine is never used as a process; the per-item numbers are
//! kept in flat arrays (one row per item) so that the search reads them without indirection.

use std::fmt;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// The index as a `usize`, to index arrays.
            pub fn ix(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

index_type!(
    /// A resource (0-based, as in the files).
    ResourceIx
);
index_type!(
    /// A machine.
    MachineIx
);
index_type!(
    /// A service.
    ServiceIx
);
index_type!(
    /// A process.
    ProcessIx
);
index_type!(
    /// A balance objective.
    BalanceIx
);
index_type!(
    /// A neighborhood (the dependency rule's domain).
    NeighborhoodIx
);
index_type!(
    /// A location (the spread rule's domain).
    LocationIx
);

/// A resource: transient ones still count on a moved process's initial machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Counts on the initial machine too after a move.
    pub transient: bool,
    /// Weight of the load cost (usage above the safety capacity).
    pub load_weight: i64,
}

/// A machine's place in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// For the dependency rule.
    pub neighborhood: NeighborhoodIx,
    /// For the spread rule.
    pub location: LocationIx,
}

/// A service: its processes run on distinct machines, in at least `spread_min` locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Fewest distinct locations.
    pub spread_min: u32,
    /// Services that must run in the neighborhood of each of this service's processes.
    pub depends_on: Vec<ServiceIx>,
}

/// A process: its service and move cost (its requirements are in [`Model::requirement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    /// Its service.
    pub service: ServiceIx,
    /// Cost of moving it (before the weight).
    pub move_cost: i64,
}

/// A balance objective: `weight * sum over machines of max(0, target * free(first) - free(second))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// First resource.
    pub first: ResourceIx,
    /// Second resource.
    pub second: ResourceIx,
    /// Ratio target.
    pub target: i64,
    /// Weight.
    pub weight: i64,
}

/// Weights of the three move costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveWeights {
    /// Process move cost weight.
    pub process: i64,
    /// Service move cost weight.
    pub service: i64,
    /// Machine move cost weight.
    pub machine: i64,
}

/// A whole instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// Resources.
    pub resources: Vec<Resource>,
    /// Machines.
    pub machines: Vec<Machine>,
    /// `capacity[m * R + r]`.
    pub capacity: Vec<i64>,
    /// `safety[m * R + r]`.
    pub safety: Vec<i64>,
    /// `move_cost[from * M + to]`.
    pub machine_move_cost: Vec<i64>,
    /// Services.
    pub services: Vec<Service>,
    /// Processes.
    pub processes: Vec<Process>,
    /// `requirement[p * R + r]`.
    pub requirement: Vec<i64>,
    /// Balance objectives.
    pub balances: Vec<Balance>,
    /// Move cost weights.
    pub weights: MoveWeights,
    /// Number of neighborhoods (largest index + 1).
    pub neighborhoods: usize,
    /// Number of locations (largest index + 1).
    pub locations: usize,
}

impl Model {
    /// Number of resources.
    pub fn r(&self) -> usize {
        self.resources.len()
    }

    /// Number of machines.
    pub fn m(&self) -> usize {
        self.machines.len()
    }

    /// A process's requirement row.
    pub fn requirement(&self, p: ProcessIx) -> &[i64] {
        let r = self.r();
        &self.requirement[p.ix() * r..(p.ix() + 1) * r]
    }

    /// A machine's capacity row.
    pub fn capacity(&self, m: MachineIx) -> &[i64] {
        let r = self.r();
        &self.capacity[m.ix() * r..(m.ix() + 1) * r]
    }

    /// A machine's safety capacity row.
    pub fn safety(&self, m: MachineIx) -> &[i64] {
        let r = self.r();
        &self.safety[m.ix() * r..(m.ix() + 1) * r]
    }

    /// Cost (before the weight) of moving a process from `from` to `to`.
    pub fn move_cost(&self, from: MachineIx, to: MachineIx) -> i64 {
        self.machine_move_cost[from.ix() * self.m() + to.ix()]
    }
}

/// A machine for every process (the initial assignment or a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment(pub Vec<MachineIx>);

impl Assignment {
    /// The challenge's text form: the machine indices, separated by spaces.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.0.len() * 4);
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&m.0.to_string());
        }
        out.push('\n');
        out
    }
}
