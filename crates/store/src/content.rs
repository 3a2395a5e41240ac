//! What a version says, as a hash: lets an update that changes nothing be recognised without
//! reading, decompressing and parsing the stored version (feeds send the same Location,
//! Practitioner and Organization with every message; comparing them as JSON trees was a fifth
//! of the writer's time while applying HL7 v2 messages).
//!
//! The hash covers the resource as stored, except what every write sets afresh or what does
//! not count as a change: `id` is the one given, and `meta.versionId`, `meta.lastUpdated` and
//! `meta.source` are left out (an empty `meta` is the same as none). Object members are taken
//! in key order, so two texts that differ only in member order are the same content, as
//! `serde_json::Value` equality says. Every value is written with its kind and length first,
//! so no two different trees give the same byte stream. SHA-256, so that no client can make a
//! different version look unchanged.
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Meta elements a write sets, or that do not count as a change.
const META_SET_BY_WRITE: [&str; 3] = ["versionId", "lastUpdated", "source"];

/// The content hash of `body` stored as resource `id`.
pub(crate) fn hash(body: &Value, id: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    match body.as_object() {
        Some(obj) => {
            let mut top: Vec<(&str, Member)> = obj
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "id" | "meta"))
                .map(|(k, v)| (k.as_str(), Member::Value(v)))
                .collect();
            top.push(("id", Member::Id(id)));
            match obj.get("meta") {
                Some(Value::Object(m)) => {
                    let kept: Vec<(&String, &Value)> =
                        m.iter().filter(|(k, _)| !META_SET_BY_WRITE.contains(&k.as_str())).collect();
                    if !kept.is_empty() {
                        top.push(("meta", Member::Meta(kept)));
                    }
                }
                Some(other) => top.push(("meta", Member::Value(other))),
                None => {}
            }
            top.sort_unstable_by(|a, b| a.0.cmp(b.0));
            h.update(b"{");
            h.update((top.len() as u64).to_le_bytes());
            for (k, m) in top {
                text(&mut h, k);
                match m {
                    Member::Value(v) => value(&mut h, v),
                    Member::Id(id) => {
                        h.update(b"s");
                        text(&mut h, id);
                    }
                    Member::Meta(mut entries) => {
                        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                        object(&mut h, entries);
                    }
                }
            }
        }
        None => value(&mut h, body),
    }
    h.finalize().to_vec()
}

enum Member<'a> {
    Value(&'a Value),
    Id(&'a str),
    Meta(Vec<(&'a String, &'a Value)>),
}

fn text(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

fn object(h: &mut Sha256, entries: Vec<(&String, &Value)>) {
    h.update(b"{");
    h.update((entries.len() as u64).to_le_bytes());
    for (k, v) in entries {
        text(h, k);
        value(h, v);
    }
}

fn value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(true) => h.update(b"t"),
        Value::Bool(false) => h.update(b"f"),
        Value::Number(n) => {
            h.update(b"#");
            text(h, &n.to_string());
        }
        Value::String(s) => {
            h.update(b"s");
            text(h, s);
        }
        Value::Array(a) => {
            h.update(b"[");
            h.update((a.len() as u64).to_le_bytes());
            a.iter().for_each(|v| value(h, v));
        }
        Value::Object(o) => {
            let mut entries: Vec<(&String, &Value)> = o.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            object(h, entries);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hash;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    #[test]
    fn what_a_write_sets_and_member_order_do_not_count() {
        let stored = json!({"resourceType": "Location", "id": "L1",
            "meta": {"versionId": "3", "lastUpdated": "2026-01-01T00:00:00Z", "source": "hl7v2:a#1",
                     "tag": [{"system": "s", "code": "c"}]},
            "name": "Ward 7", "address": {"city": "Leeds", "line": ["1 Road"]}});
        let sent = json!({"resourceType": "Location", "name": "Ward 7",
            "address": {"line": ["1 Road"], "city": "Leeds"},
            "meta": {"tag": [{"code": "c", "system": "s"}], "source": "hl7v2:a#2"}});
        assert_eq!(hash(&stored, "L1"), hash(&sent, "L1"));
        let bare = json!({"resourceType": "Patient", "active": true});
        let stamped = json!({"resourceType": "Patient", "id": "p", "active": true,
            "meta": {"versionId": "1", "lastUpdated": "2026-01-01T00:00:00Z"}});
        assert_eq!(hash(&bare, "p"), hash(&stamped, "p"), "an empty meta is none");
    }

    #[test]
    fn any_other_difference_counts() {
        let base = json!({"resourceType": "Patient", "id": "p", "meta": {"tag": [{"code": "a"}]},
            "name": [{"family": "Smith"}], "active": true});
        let changed = [
            json!({"resourceType": "Patient", "id": "p", "meta": {"tag": [{"code": "b"}]},
                "name": [{"family": "Smith"}], "active": true}),
            json!({"resourceType": "Patient", "id": "p", "name": [{"family": "Smith"}], "active": true}),
            json!({"resourceType": "Patient", "id": "p", "meta": {"tag": [{"code": "a"}]},
                "name": [{"family": "Smyth"}], "active": true}),
            json!({"resourceType": "Patient", "id": "p", "meta": {"tag": [{"code": "a"}]},
                "name": [{"family": "Smith"}], "active": "true"}),
            json!({"resourceType": "Patient", "id": "p", "meta": {"tag": [{"code": "a"}]},
                "name": [{"family": "Smith"}, {}], "active": true}),
            json!({"resourceType": "Practitioner", "id": "p", "meta": {"tag": [{"code": "a"}]},
                "name": [{"family": "Smith"}], "active": true}),
        ];
        for c in &changed {
            assert_ne!(hash(&base, "p"), hash(c, "p"), "{c}");
        }
        assert_ne!(hash(&base, "p"), hash(&base, "q"), "the id counts");
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-c]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Equal hashes exactly when the trees are equal (ignoring what a write sets), which
        /// is what the writer relied on when it compared parsed JSON.
        #[test]
        fn equal_hash_iff_equal_content(a in json_value(), b in json_value()) {
            let (wa, wb) = (json!({"resourceType": "Basic", "x": a}), json!({"resourceType": "Basic", "x": b}));
            prop_assert_eq!(hash(&wa, "i") == hash(&wb, "i"), wa == wb);
        }
    }
}
