//! What a message costs before its ACK: parsing, and mapping to a FHIR transaction bundle.
//! `cargo bench -p lantern-hl7v2 --bench map`
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lantern_hl7v2::map::{map_message, FeedConfig};

const ADMIT: &[u8] = b"MSH|^~\\&|BENCHPAS|BENCH|LANTERN|REGION|20240501100000||ADT^A01^ADT_A01|B17|P|2.5.1\r\
EVN|A01|20240501100000\r\
PID|1||9990000026^^^NHS^NH~P17^^^BENCH^MR||Okafor^Grace^^^^^L||19620314|F|||12 Mill Lane^^Bristol^^BS3 4AB\r\
PV1|1|I|WARD7^BED17^1||||C17^Doctor^Dee|||MED|||||||||V17|||||||||||||||||||||||||20240501100000\r";

fn bench(c: &mut Criterion) {
    let config = FeedConfig::new("bench", "BENCH", "Bench PAS");
    c.bench_function("parse ADT A01", |b| b.iter(|| lantern_hl7v2::parse(black_box(ADMIT))));
    let (msg, _) = lantern_hl7v2::parse(ADMIT);
    c.bench_function("map ADT A01", |b| b.iter(|| map_message(black_box(&msg), &config).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
