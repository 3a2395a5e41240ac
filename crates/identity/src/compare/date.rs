//! Date-of-birth levels on the packed `YYYYMMDD` form (0 = missing).
use super::other::first;
use super::{LevelRule, NULL_LEVEL};

fn digits(p: u32) -> [u8; 8] {
    let mut d = [0u8; 8];
    let mut v = p;
    for slot in d.iter_mut().rev() {
        *slot = (v % 10) as u8;
        v /= 10;
    }
    d
}

pub(super) fn level(rules: &[LevelRule], a: u32, b: u32) -> u8 {
    if a == 0 || b == 0 {
        return NULL_LEVEL;
    }
    let (ya, ma, da) = (a / 10_000, a / 100 % 100, a % 100);
    let (yb, mb, db) = (b / 10_000, b / 100 % 100, b % 100);
    first(rules, |r| match r {
        LevelRule::Exact => a == b,
        LevelRule::DayMonthTransposed => ya == yb && ma == db && da == mb && a != b,
        LevelRule::OneDigitTypo => {
            let (x, y) = (digits(a), digits(b));
            x.iter().zip(&y).filter(|(p, q)| p != q).count() == 1
        }
        LevelRule::DigitsTransposed => {
            let (x, y) = (digits(a), digits(b));
            let differ = x.iter().zip(&y).filter(|(p, q)| p != q).count();
            let i = x.iter().zip(&y).position(|(p, q)| p != q).unwrap_or(7);
            differ == 2 && i < 7 && x[i] == y[i + 1] && x[i + 1] == y[i]
        }
        LevelRule::SameYearMonth => ya == yb && ma == mb,
        LevelRule::SameYear => ya == yb,
        _ => false,
    })
}
