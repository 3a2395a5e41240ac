//! Batch clustering: linked pairs into persons.
//!
//! Union-find over the pairs decided "link". Every member of a cluster therefore matches at least
//! one other member above the link threshold — by construction, since records only join through
//! a linked pair. What union-find alone does not prevent is a *chain*: A links B, B links C, and A
//! and C (who may share nothing) end up one person. The dangerous chains are those that join two
//! different identified people, so the default mode, [`ClusterMode::NoConflictingNhsNumbers`],
//! takes pairs strongest first and refuses any union that would put two different valid NHS
//! numbers in one cluster (a cannot-link constraint); the refused pairs are reported so they can
//! go to review. [`ClusterMode::Connected`] is plain connected components.
//!
//! We chose this over stricter rules (every member matching every other, or a minimum share of
//! the cluster) because those need all pairs within a cluster scored — quadratic in cluster size
//! and against blocking — and they break genuine chains caused by a person moving house and
//! changing name between two systems, which is exactly what a master patient index must join.
use crate::config::ClusterMode;

struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind { parent: (0..n as u32).collect(), size: vec![1; n] }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Joins the sets of a and b; returns the new root.
    fn union(&mut self, a: u32, b: u32) -> u32 {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return ra;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
        ra
    }
}

/// Result of clustering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clusters {
    /// Cluster of each record: the smallest record index in its cluster.
    pub labels: Vec<u32>,
    /// Linked pairs not applied because they would join two different NHS numbers.
    pub refused: Vec<(u32, u32)>,
}

/// Clusters `n` records from linked pairs `(i, j, score)`. `nhs(i)` is record i's valid NHS
/// number (0 when none).
pub fn cluster(n: usize, pairs: &[(u32, u32, f32)], mode: ClusterMode, nhs: impl Fn(u32) -> u64) -> Clusters {
    let mut uf = UnionFind::new(n);
    let mut refused = Vec::new();
    match mode {
        ClusterMode::Connected => {
            for &(i, j, _) in pairs {
                uf.union(i, j);
            }
        }
        ClusterMode::NoConflictingNhsNumbers => {
            let mut order: Vec<usize> = (0..pairs.len()).collect();
            order.sort_by(|&x, &y| pairs[y].2.total_cmp(&pairs[x].2).then(x.cmp(&y)));
            // The NHS number carried by each root (0 = none yet).
            let mut root_nhs: Vec<u64> = (0..n as u32).map(&nhs).collect();
            for k in order {
                let (i, j, _) = pairs[k];
                let (ri, rj) = (uf.find(i), uf.find(j));
                if ri == rj {
                    continue;
                }
                let (ni, nj) = (root_nhs[ri as usize], root_nhs[rj as usize]);
                if ni != 0 && nj != 0 && ni != nj {
                    refused.push((i, j));
                    continue;
                }
                let r = uf.union(i, j);
                root_nhs[r as usize] = ni.max(nj);
            }
        }
    }
    let mut smallest = vec![u32::MAX; n];
    for i in 0..n as u32 {
        let r = uf.find(i) as usize;
        smallest[r] = smallest[r].min(i);
    }
    let labels = (0..n as u32).map(|i| smallest[uf.find(i) as usize]).collect();
    Clusters { labels, refused }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_components_and_labels() {
        let c = cluster(5, &[(0, 1, 10.0), (3, 4, 8.0), (1, 2, 7.0)], ClusterMode::Connected, |_| 0);
        assert_eq!(c.labels, vec![0, 0, 0, 3, 3]);
        assert!(c.refused.is_empty());
    }

    #[test]
    fn never_joins_two_nhs_numbers() {
        // 0 and 2 have different NHS numbers; 1 links weakly to 2 after strongly to 0.
        let nhs = |i: u32| [111, 0, 222, 0][i as usize];
        let pairs = [(1, 2, 7.0), (0, 1, 20.0), (2, 3, 9.0)];
        let c = cluster(4, &pairs, ClusterMode::NoConflictingNhsNumbers, nhs);
        assert_eq!(c.labels, vec![0, 0, 2, 2]);
        assert_eq!(c.refused, vec![(1, 2)]);
        let plain = cluster(4, &pairs, ClusterMode::Connected, nhs);
        assert_eq!(plain.labels, vec![0, 0, 0, 0]);
    }

    #[test]
    fn invariants_on_random_pairs() {
        // Every member of a multi-record cluster appears in some applied pair; labels are the
        // smallest index; no cluster holds two NHS numbers.
        let n = 200u32;
        let nhs = |i: u32| if i.is_multiple_of(7) { u64::from(i / 14) + 1 } else { 0 };
        let pairs: Vec<(u32, u32, f32)> = (0..400u32)
            .map(|k| {
                let i = (k * 37 + 11) % n;
                let j = (k * 91 + 5) % n;
                (i.min(j), i.max(j), (k % 13) as f32)
            })
            .filter(|p| p.0 != p.1)
            .collect();
        let c = cluster(n as usize, &pairs, ClusterMode::NoConflictingNhsNumbers, nhs);
        let mut seen = std::collections::HashMap::<u32, u64>::new();
        for i in 0..n {
            let l = c.labels[i as usize];
            assert!(l <= i);
            assert_eq!(c.labels[l as usize], l);
            if nhs(i) != 0 {
                let prev = seen.insert(l, nhs(i));
                assert!(prev.is_none() || prev == Some(nhs(i)));
            }
            if l != i || c.labels.iter().filter(|&&x| x == l).count() > 1 {
                assert!(pairs.iter().any(|&(a, b, _)| a == i || b == i));
            }
        }
    }
}
