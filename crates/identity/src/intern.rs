//! String interning: each distinct normalised value is stored once and named by a `u32`.
//!
//! Comparing two records then compares integers for equality, and per-value facts (phonetic
//! codes, term frequencies) are computed once per distinct value rather than once per pair.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// An interned value; [`NONE`] means missing.
pub(crate) type Sym = u32;
/// The missing value.
pub(crate) const NONE: Sym = u32::MAX;

/// FxHash-style multiplicative hasher: keys are short strings we produced ourselves, so
/// resistance to hash flooding is not needed and speed is.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

/// A `HashMap` using [`FxHasher`].
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Hashes any hashable value to 64 bits with [`FxHasher`] plus a final mix.
pub(crate) fn hash64<T: std::hash::Hash + ?Sized>(v: &T) -> u64 {
    let mut h = FxHasher::default();
    v.hash(&mut h);
    mix64(h.finish())
}

/// SplitMix64 finaliser: spreads the bits of a weak hash.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One value space.
#[derive(Default, Clone)]
pub(crate) struct Interner {
    map: FxMap<Box<str>, Sym>,
    strings: Vec<Box<str>>,
}

impl Interner {
    /// The symbol for `s`, and whether it is new.
    pub(crate) fn intern(&mut self, s: &str) -> (Sym, bool) {
        if let Some(&id) = self.map.get(s) {
            return (id, false);
        }
        let id = self.strings.len() as Sym;
        self.strings.push(s.into());
        self.map.insert(s.into(), id);
        (id, true)
    }

    /// The text of a symbol (`""` for [`NONE`]).
    pub(crate) fn get(&self, id: Sym) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }

    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }
}
