// v2 data types to FHIR data types, after the v2-to-FHIR IG data type maps: CX[Identifier],
// CWE/CE/CNE[CodeableConcept], XPN[HumanName], XAD[Address] (with UK postcodes), XTN[ContactPoint],
// XCN[Practitioner], HD, NM[decimal].

use super::config::FeedConfig;
use super::systems::{self, coding_system};
use super::vocab;
use crate::message::Repetition;
use serde_json::{json, Value};

/// How a PID-3 identifier was classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    NhsNumber,
    Mrn,
    Other,
}

fn upper_in(value: &str, list: &[String]) -> bool {
    let v = value.trim();
    !v.is_empty() && list.iter().any(|x| x.eq_ignore_ascii_case(v))
}

/// Classify a CX by the feed's rules.
pub(crate) fn classify_cx(cx: &Repetition, cfg: &FeedConfig) -> IdKind {
    let rules = &cfg.identifiers;
    let (authority, type_code) = (cx.get(4), cx.get(5));
    if upper_in(type_code, &rules.nhs_number_type_codes) || upper_in(authority, &rules.nhs_number_authorities)
    {
        IdKind::NhsNumber
    } else if upper_in(type_code, &rules.mrn_type_codes)
        && (rules.mrn_authorities.is_empty() || upper_in(authority, &rules.mrn_authorities))
    {
        IdKind::Mrn
    } else {
        IdKind::Other
    }
}

/// System for an identifier issued by an assigning authority (HD): the configured map, an
/// ISO OID or URI universal id, or a feed-scoped system named after the authority.
pub(crate) fn authority_system(
    namespace: &str,
    universal: &str,
    universal_type: &str,
    cfg: &FeedConfig,
    kind: &str,
) -> String {
    if let Some(s) = cfg.identifiers.authority_systems.get(namespace.trim()) {
        return s.clone();
    }
    let u = universal.trim();
    if !u.is_empty() {
        if universal_type.eq_ignore_ascii_case("ISO")
            || (u.contains('.') && u.chars().all(|c| c.is_ascii_digit() || c == '.'))
        {
            return format!("urn:oid:{u}");
        }
        if u.starts_with("http://") || u.starts_with("https://") || u.starts_with("urn:") {
            return u.to_string();
        }
    }
    let ns: String = namespace
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    if ns.is_empty() {
        cfg.system(kind)
    } else {
        cfg.system(&format!("{kind}/{ns}"))
    }
}

/// CX -> Identifier (NHS number, MRN, or another id in a feed/authority system).
pub(crate) fn identifier(cx: &Repetition, cfg: &FeedConfig) -> Option<(IdKind, Value)> {
    let value = cx.get(1).trim();
    if value.is_empty() || value == "\"\"" {
        return None;
    }
    let kind = classify_cx(cx, cfg);
    let type_code = cx.get(5).trim();
    let (system, value) = match kind {
        IdKind::NhsNumber => (systems::NHS_NUMBER.to_string(), value.replace([' ', '-'], "")),
        IdKind::Mrn => (cfg.mrn_system(), value.to_string()),
        IdKind::Other => {
            (authority_system(cx.sub(4, 1), cx.sub(4, 2), cx.sub(4, 3), cfg, "id"), value.to_string())
        }
    };
    let type_cc = (!type_code.is_empty()).then(|| {
        json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": type_code }] })
    });
    let assigner = [cx.sub(4, 1), cx.sub(6, 1)]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .map(|s| json!({ "display": s }));
    let use_ = match kind {
        IdKind::NhsNumber | IdKind::Mrn => Some("official"),
        IdKind::Other => None,
    };
    Some((
        kind,
        json!({ "use": use_, "type": type_cc, "system": system, "value": value, "assigner": assigner }),
    ))
}

/// CWE/CE/CNE -> CodeableConcept. `None` when empty.
pub(crate) fn codeable(cwe: &Repetition) -> Option<Value> {
    let mut codings = Vec::new();
    for (c, d, s) in [(1, 2, 3), (4, 5, 6), (10, 11, 12)] {
        let code = cwe.get(c).trim();
        if code.is_empty() {
            continue;
        }
        let display = cwe.get(d).trim();
        codings.push(json!({
            "system": coding_system(cwe.get(s)),
            "code": code,
            "display": (!display.is_empty()).then_some(display)
        }));
    }
    let text = [cwe.get(9), cwe.get(2)].into_iter().map(str::trim).find(|t| !t.is_empty());
    if codings.is_empty() && text.is_none() {
        return None;
    }
    Some(json!({ "coding": codings, "text": text }))
}

/// XPN -> HumanName. `None` when there is no family or given name.
pub(crate) fn human_name(xpn: &Repetition) -> Option<Value> {
    let family = xpn.sub(1, 1).trim();
    let mut given: Vec<&str> = Vec::new();
    for g in [xpn.get(2), xpn.get(3)] {
        given.extend(g.split_whitespace());
    }
    if family.is_empty() && given.is_empty() {
        return None;
    }
    let prefix = xpn.get(5).trim();
    let suffix: Vec<&str> =
        [xpn.get(4), xpn.get(6)].into_iter().map(str::trim).filter(|s| !s.is_empty()).collect();
    Some(json!({
        "use": vocab::name_use(xpn.get(7)),
        "family": family,
        "given": given,
        "prefix": if prefix.is_empty() { vec![] } else { vec![prefix] },
        "suffix": suffix
    }))
}

/// Normalise something that looks like a UK postcode to `AA9A 9AA` form.
pub(crate) fn uk_postcode(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let n = compact.len();
    if !(5..=7).contains(&n) || !compact.is_ascii() {
        return None;
    }
    let (outward, inward) = compact.split_at(n - 3);
    let ib = inward.as_bytes();
    let inward_ok = ib[0].is_ascii_digit() && ib[1].is_ascii_alphabetic() && ib[2].is_ascii_alphabetic();
    let ob = outward.as_bytes();
    let outward_ok = ob[0].is_ascii_alphabetic()
        && ob.iter().any(u8::is_ascii_digit)
        && ob.iter().all(u8::is_ascii_alphanumeric)
        && (2..=4).contains(&ob.len());
    (inward_ok && outward_ok).then(|| format!("{outward} {inward}"))
}

/// XAD -> Address.
pub(crate) fn address(xad: &Repetition) -> Option<Value> {
    let lines: Vec<&str> = [xad.sub(1, 1), xad.get(2), xad.get(8)]
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let city = xad.get(3).trim();
    let region = xad.get(4).trim();
    let postcode_raw = xad.get(5).trim();
    let country = xad.get(6).trim();
    if lines.is_empty() && city.is_empty() && postcode_raw.is_empty() {
        return None;
    }
    let uk = country.is_empty()
        || matches!(country.to_ascii_uppercase().as_str(), "GB" | "GBR" | "UK" | "ENG" | "UNITED KINGDOM");
    let postcode = if uk {
        uk_postcode(postcode_raw).unwrap_or_else(|| postcode_raw.to_string())
    } else {
        postcode_raw.to_string()
    };
    let (use_, type_) = match xad.get(7).trim().to_ascii_uppercase().as_str() {
        "H" | "P" => (Some("home"), None),
        "B" | "O" => (Some("work"), None),
        "C" | "TM" => (Some("temp"), None),
        "BA" | "BDL" | "OLD" => (Some("old"), None),
        "M" => (None, Some("postal")),
        _ => (None, None),
    };
    // In the UK the fourth component carries a county, which FHIR calls district.
    let (state, district) =
        if uk && !country.is_empty() { (None, Some(region)) } else { (Some(region), None) };
    Some(json!({
        "use": use_, "type": type_, "line": lines, "city": city,
        "district": district, "state": state, "postalCode": postcode, "country": country
    }))
}

/// XTN -> ContactPoint.
pub(crate) fn contact_point(xtn: &Repetition) -> Option<Value> {
    let email = xtn.get(4).trim();
    let (system, mobile) = vocab::telecom_system(xtn.get(3));
    let composed: String = [xtn.get(5), xtn.get(6), xtn.get(7)].concat();
    let value = [xtn.get(12), xtn.get(1)]
        .into_iter()
        .map(str::trim)
        .find(|v| !v.is_empty())
        .map(str::to_string)
        .or_else(|| (!email.is_empty()).then(|| email.to_string()))
        .or_else(|| (!composed.trim().is_empty()).then(|| composed.trim().to_string()))?;
    let system = system.or(if value.contains('@') { Some("email") } else { Some("phone") });
    let use_ = if mobile { Some("mobile") } else { vocab::telecom_use(xtn.get(2)) };
    let value = if system == Some("email") && !email.is_empty() { email.to_string() } else { value };
    Some(json!({ "system": system, "value": value, "use": use_ }))
}

/// A v2 NM as a FHIR decimal (JSON number keeping the sender's digits), if it is a number.
pub(crate) fn decimal(raw: &str) -> Option<Value> {
    let mut s = raw.trim().trim_start_matches('+').to_string();
    if s.starts_with('.') {
        s.insert(0, '0');
    } else if s.starts_with("-.") {
        s.insert(1, '0');
    }
    let (neg, body) = s.strip_prefix('-').map_or((false, s.as_str()), |b| (true, b));
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || body.ends_with('.')
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let text =
        format!("{}{}{}{}", if neg { "-" } else { "" }, int, if frac.is_empty() { "" } else { "." }, frac);
    serde_json::from_str::<serde_json::Number>(&text).ok().map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(s: &str) -> Repetition {
        let (m, _) = crate::parse(format!("MSH|^~\\&|A\rZZZ|{s}").as_bytes());
        m.segments[1].rep(1).cloned().unwrap()
    }

    #[test]
    fn postcodes() {
        assert_eq!(uk_postcode("bs105nb").as_deref(), Some("BS10 5NB"));
        assert_eq!(uk_postcode("SW1A 1AA").as_deref(), Some("SW1A 1AA"));
        assert_eq!(uk_postcode("M1 1AE").as_deref(), Some("M1 1AE"));
        assert_eq!(uk_postcode("27401-1020"), None);
    }

    #[test]
    fn identifiers() {
        let cfg = FeedConfig::new("f", "RVJ", "NBT");
        let (k, id) = identifier(&rep("943 476 5919^^^NHS^NH"), &cfg).unwrap();
        assert_eq!(k, IdKind::NhsNumber);
        assert_eq!(id["system"], systems::NHS_NUMBER);
        assert_eq!(id["value"], "9434765919");
        let (k, id) = identifier(&rep("123^^^RVJ^MR"), &cfg).unwrap();
        assert_eq!(k, IdKind::Mrn);
        assert_eq!(id["system"], "https://lantern.health/feed/f/mrn");
        let (k, id) = identifier(&rep("9^^^X&1.2.3&ISO^SS"), &cfg).unwrap();
        assert_eq!(k, IdKind::Other);
        assert_eq!(id["system"], "urn:oid:1.2.3");
    }

    #[test]
    fn names_addresses_telecoms() {
        let n = human_name(&rep("SMITH&&&&X^John^Paul^Jr^Dr^^L")).unwrap();
        assert_eq!(n["family"], "SMITH");
        assert_eq!(n["given"], json!(["John", "Paul"]));
        assert_eq!(n["use"], "official");
        let a =
            crate::map::context::prune(address(&rep("1 High St^Flat 2^Bristol^Avon^bs105nb^GB^H")).unwrap());
        assert_eq!(a["postalCode"], "BS10 5NB");
        assert_eq!(a["district"], "Avon");
        let t = contact_point(&rep("^PRN^CP^^^^^^^^^07700900123")).unwrap();
        assert_eq!(t["use"], "mobile");
        assert_eq!(t["value"], "07700900123");
        let e = contact_point(&rep("^NET^Internet^a@b.org")).unwrap();
        assert_eq!(e["system"], "email");
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal("7.50").unwrap().to_string(), "7.50");
        assert_eq!(decimal("+.5").unwrap().to_string(), "0.5");
        assert_eq!(decimal("007").unwrap().to_string(), "7");
        assert!(decimal("<5").is_none());
        assert!(decimal("1.").is_none());
    }
}
