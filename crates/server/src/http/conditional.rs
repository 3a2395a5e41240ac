//! Conditional read (R4 §3.1.0.1, RFC 9110 §13): `If-None-Match` and `If-Modified-Since` on a
//! read answer 304 Not Modified when the client's copy is current, so a client polling a
//! record fetches it only when it changed.
use axum::http::HeaderMap;
use lantern_store::Stored;

/// Whether the client's copy of `st` is current, by the request's preconditions. RFC 9110
/// §13.2.2: `If-None-Match` decides when it is present (a list of entity tags, or `*` for
/// any current version); only without it is `If-Modified-Since` read, and a date that does
/// not parse is ignored, as the RFC requires. Lantern's Last-Modified is the version's time
/// to the second, so a resource written in the second the client names is not modified.
pub(crate) fn not_modified(headers: &HeaderMap, st: &Stored) -> bool {
    if let Some(tags) = headers.get("if-none-match") {
        let Ok(tags) = tags.to_str() else { return false };
        return tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || lantern_service::parse_etag(t).is_some_and(|v| v == st.version));
    }
    let Some(since) = headers
        .get("if-modified-since")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
    else {
        return false;
    };
    let Ok(since) = since.duration_since(std::time::UNIX_EPOCH) else { return false };
    st.updated.div_euclid(1_000_000) <= since.as_secs() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(version: i64, updated_secs: i64) -> Stored {
        Stored {
            rtype: "Patient".into(),
            id: "1".into(),
            version,
            updated: updated_secs * 1_000_000 + 250_000,
            deleted: false,
            body: None,
            patient: None,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    // 1,700,000,000 s is Tue, 14 Nov 2023 22:13:20 GMT.
    const AT: i64 = 1_700_000_000;

    #[test]
    fn entity_tags_decide_when_present() {
        let st = stored(3, AT);
        assert!(not_modified(&headers(&[("if-none-match", "W/\"3\"")]), &st));
        assert!(not_modified(&headers(&[("if-none-match", "W/\"1\", W/\"3\"")]), &st));
        assert!(not_modified(&headers(&[("if-none-match", "*")]), &st));
        assert!(!not_modified(&headers(&[("if-none-match", "W/\"2\"")]), &st));
        // A matching date does not override a tag that does not match.
        let h =
            headers(&[("if-none-match", "W/\"2\""), ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")]);
        assert!(!not_modified(&h, &st));
    }

    #[test]
    fn dates_compare_to_the_second_in_every_http_date_form() {
        let st = stored(1, AT);
        for same in
            ["Tue, 14 Nov 2023 22:13:20 GMT", "Tuesday, 14-Nov-23 22:13:20 GMT", "Tue Nov 14 22:13:20 2023"]
        {
            assert!(not_modified(&headers(&[("if-modified-since", same)]), &st), "{same}");
        }
        assert!(not_modified(&headers(&[("if-modified-since", "Wed, 15 Nov 2023 00:00:00 GMT")]), &st));
        assert!(!not_modified(&headers(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")]), &st));
        assert!(!not_modified(&headers(&[("if-modified-since", "yesterday")]), &st));
        assert!(!not_modified(&HeaderMap::new(), &st));
    }
}
