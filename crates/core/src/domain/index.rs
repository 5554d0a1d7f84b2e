//! Typed indices and the vectors they index ([`IxVec`]): a host's index cannot index the
//! requests, and `hosts[h]` reads as what it is, with no `.0` in between. One set of index types
//! serves every model of a pool (placement's [`super::Domain`], the migration round's
//! [`super::migration::Pool`], the failure check's fleet): each is a position in its document's
//! list.

use std::marker::PhantomData;

/// A typed position in one list of a document.
pub trait Idx: Copy + Eq + Ord + std::hash::Hash + std::fmt::Debug {
    /// The index of position `i`.
    fn new(i: usize) -> Self;
    /// The position.
    fn index(self) -> usize;
}

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub usize);

        impl Idx for $name {
            fn new(i: usize) -> Self {
                $name(i)
            }
            fn index(self) -> usize {
                self.0
            }
        }
    };
}

index_type!(
    /// A storage system: its position in the document's `storage`.
    StorageIx
);
index_type!(
    /// A host: its position in the document's `hosts`.
    HostIx
);
index_type!(
    /// A request of the batch: its position in the problem's `requests`.
    RequestIx
);
index_type!(
    /// A running VM: its position in the state's `vms` (or the fleet's running VMs).
    VmIx
);

/// A vector indexed by `I` only: `v[h]` for a `HostIx` `h`, never `v[3]`.
#[derive(Clone, PartialEq)]
pub struct IxVec<I, T> {
    raw: Vec<T>,
    ix: PhantomData<fn(I) -> I>,
}

impl<I: Idx, T> IxVec<I, T> {
    /// An empty vector.
    pub fn new() -> Self {
        IxVec::from(Vec::new())
    }
    /// `n` copies of `value`.
    pub fn filled(value: T, n: usize) -> Self
    where
        T: Clone,
    {
        IxVec::from(vec![value; n])
    }
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.raw.len()
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// The element at `i`, if there is one.
    pub fn get(&self, i: I) -> Option<&T> {
        self.raw.get(i.index())
    }
    /// The element at `i`, mutable, if there is one.
    pub fn get_mut(&mut self, i: I) -> Option<&mut T> {
        self.raw.get_mut(i.index())
    }
    /// Whether some element equals `x`.
    pub fn contains(&self, x: &T) -> bool
    where
        T: PartialEq,
    {
        self.raw.contains(x)
    }
    /// Appends `value` and returns its index.
    pub fn push(&mut self, value: T) -> I {
        self.raw.push(value);
        I::new(self.raw.len() - 1)
    }
    /// The elements in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.raw.iter()
    }
    /// The elements in order, mutable.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.raw.iter_mut()
    }
    /// Every index, in order.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = I> + ExactSizeIterator + use<I, T> {
        (0..self.raw.len()).map(I::new)
    }
    /// Each element with its index.
    pub fn enumerate(&self) -> impl DoubleEndedIterator<Item = (I, &T)> + ExactSizeIterator {
        self.raw.iter().enumerate().map(|(i, t)| (I::new(i), t))
    }
    /// The elements as a plain slice, for code that does not care which index is which
    /// (sums, sorts, serialisation).
    pub fn as_slice(&self) -> &[T] {
        &self.raw
    }
    /// The elements as a plain mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.raw
    }
    /// A vector of the same indices, each element mapped.
    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> IxVec<I, U> {
        self.raw.iter().map(f).collect()
    }
    /// Each element with its index, by value.
    pub fn into_enumerate(self) -> impl DoubleEndedIterator<Item = (I, T)> + ExactSizeIterator {
        self.raw
            .into_iter()
            .enumerate()
            .map(|(i, t)| (I::new(i), t))
    }
    /// The plain vector.
    pub fn into_raw(self) -> Vec<T> {
        self.raw
    }
}

/// Compares with a plain vector (tests spell expected answers as `vec![...]`).
impl<I, T: PartialEq> PartialEq<Vec<T>> for IxVec<I, T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        &self.raw == other
    }
}

impl<I: Idx, T> Default for IxVec<I, T> {
    fn default() -> Self {
        IxVec::new()
    }
}

impl<I, T: std::fmt::Debug> std::fmt::Debug for IxVec<I, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.raw.fmt(f)
    }
}

impl<I, T> From<Vec<T>> for IxVec<I, T> {
    fn from(raw: Vec<T>) -> Self {
        IxVec {
            raw,
            ix: PhantomData,
        }
    }
}

impl<I, T> FromIterator<T> for IxVec<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        IxVec::from(iter.into_iter().collect::<Vec<T>>())
    }
}

/// By an index or a reference to one (`hosts[h]` in `for h in &links`).
impl<I: Idx, J: std::borrow::Borrow<I>, T> std::ops::Index<J> for IxVec<I, T> {
    type Output = T;
    fn index(&self, i: J) -> &T {
        &self.raw[i.borrow().index()]
    }
}

impl<I: Idx, J: std::borrow::Borrow<I>, T> std::ops::IndexMut<J> for IxVec<I, T> {
    fn index_mut(&mut self, i: J) -> &mut T {
        &mut self.raw[i.borrow().index()]
    }
}

impl<'a, I, T> IntoIterator for &'a IxVec<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter()
    }
}

impl<'a, I, T> IntoIterator for &'a mut IxVec<I, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter_mut()
    }
}

impl<I, T> IntoIterator for IxVec<I, T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.raw.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_vector_is_indexed_by_its_own_index_only() {
        let mut hosts: IxVec<HostIx, &str> = vec!["h0", "h1"].into();
        let h = hosts.push("h2");
        assert_eq!(h, HostIx(2));
        assert_eq!(hosts[h], "h2");
        hosts[HostIx(0)] = "first";
        assert_eq!(
            hosts
                .enumerate()
                .map(|(i, n)| (i.0, *n))
                .collect::<Vec<_>>(),
            [(0, "first"), (1, "h1"), (2, "h2")]
        );
        assert_eq!(hosts.ids().next_back(), Some(HostIx(2)));
        assert_eq!(hosts.get(HostIx(3)), None);
        assert_eq!(hosts.map(|n| n.len())[HostIx(1)], 2);
    }
}
