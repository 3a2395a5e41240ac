//! CSV extracts with a declared column mapping: each row becomes one FHIR resource.
//!
//! The mapping is a small TOML file:
//!
//! ```toml
//! resource_type = "Patient"
//! [identifier]                 # the business identifier: re-importing a row updates, never duplicates
//! column = "mrn"
//! system = "https://trust.example.nhs.uk/Id/mrn"
//! [[column]]
//! name = "nhs_number"          # CSV header
//! path = "identifier[1]"       # where the value goes: dotted FHIR path, [n] picks an array slot
//! system = "https://fhir.nhs.uk/Id/nhs-number"   # with a system the value becomes {system, value}
//! [[column]]
//! name = "family"
//! path = "name[0].family"
//! [[column]]
//! name = "dob"
//! path = "birthDate"
//! [[column]]
//! name = "weight_kg"
//! path = "valueQuantity.value"
//! type = "decimal"             # string (default), integer, decimal, boolean
//! [[column]]
//! name = "patient_nhs"
//! path = "subject"
//! type = "reference"           # a conditional reference, resolved in the transaction
//! template = "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{}"
//! [constants]                  # fixed values: path = value
//! "status" = "final"
//! ```
//!
//! Empty cells are left out. Each resource is written as a conditional update on its
//! identifier (`PUT Type?identifier=system|value`), so importing the same extract twice changes
//! nothing. The resource is validated by the same service call as any other write.
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    pub resource_type: String,
    pub identifier: Option<IdentifierColumn>,
    #[serde(default, rename = "column")]
    pub columns: Vec<Column>,
    #[serde(default)]
    pub constants: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierColumn {
    pub column: String,
    pub system: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
}

impl CsvMapping {
    pub fn from_toml(text: &str) -> Result<CsvMapping, String> {
        let m: CsvMapping = toml::from_str(text).map_err(|e| e.to_string())?;
        for c in &m.columns {
            if !matches!(
                c.kind.as_deref(),
                None | Some("string" | "integer" | "decimal" | "boolean" | "reference")
            ) {
                return Err(format!("column {}: unknown type {:?}", c.name, c.kind));
            }
            if c.kind.as_deref() == Some("reference") && c.template.is_none() {
                return Err(format!("column {}: a reference needs a template", c.name));
            }
            parse_path(&c.path)?;
        }
        Ok(m)
    }

    /// The resource for one row (`headers` names the row's cells).
    pub fn row(&self, headers: &[String], cells: &[String]) -> Result<Value, String> {
        let cell = |name: &str| -> Option<&str> {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| cells.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let mut r = json!({"resourceType": self.resource_type});
        for (path, v) in &self.constants {
            let v = serde_json::to_value(v).map_err(|e| e.to_string())?;
            set(&mut r, path, v)?;
        }
        if let Some(id) = &self.identifier {
            let v = cell(&id.column)
                .ok_or_else(|| format!("column '{}' (the identifier) is empty", id.column))?;
            set(&mut r, "identifier[0]", json!({"system": id.system, "value": v}))?;
        }
        for c in &self.columns {
            let Some(text) = cell(&c.name) else { continue };
            let v = match c.kind.as_deref() {
                Some("integer") => json!(text
                    .parse::<i64>()
                    .map_err(|_| format!("{}: '{text}' is not an integer", c.name))?),
                Some("decimal") => {
                    let n: serde_json::Number =
                        text.parse().map_err(|_| format!("{}: '{text}' is not a decimal", c.name))?;
                    Value::Number(n)
                }
                Some("boolean") => {
                    json!(matches!(text.to_ascii_lowercase().as_str(), "true" | "yes" | "y" | "1"))
                }
                Some("reference") => {
                    json!({"reference": c.template.as_deref().unwrap_or("{}").replace("{}", text)})
                }
                _ => json!(text),
            };
            let v = match &c.system {
                Some(s) => json!({"system": s, "value": v}),
                None => v,
            };
            set(&mut r, &c.path, v)?;
        }
        Ok(r)
    }
}

/// `name[0].given[1]` -> [("name", Some(0)), ("given", Some(1))].
fn parse_path(path: &str) -> Result<Vec<(String, Option<usize>)>, String> {
    path.split('.')
        .map(|seg| match seg.split_once('[') {
            Some((n, rest)) => {
                let i = rest
                    .strip_suffix(']')
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| format!("bad path '{path}'"))?;
                Ok((n.to_string(), Some(i)))
            }
            None if !seg.is_empty() => Ok((seg.to_string(), None)),
            None => Err(format!("bad path '{path}'")),
        })
        .collect()
}

fn set(root: &mut Value, path: &str, v: Value) -> Result<(), String> {
    let segs = parse_path(path)?;
    let mut cur = root;
    for (k, (name, idx)) in segs.iter().enumerate() {
        let last = k + 1 == segs.len();
        let obj = cur.as_object_mut().ok_or_else(|| format!("path '{path}' crosses a value"))?;
        match idx {
            None if last => {
                obj.insert(name.clone(), v);
                return Ok(());
            }
            None => cur = obj.entry(name.clone()).or_insert_with(|| Value::Object(Map::new())),
            Some(i) => {
                let arr = obj.entry(name.clone()).or_insert_with(|| json!([]));
                let arr = arr.as_array_mut().ok_or_else(|| format!("path '{path}': {name} is not a list"))?;
                while arr.len() <= *i {
                    arr.push(Value::Object(Map::new()));
                }
                if last {
                    arr[*i] = v;
                    return Ok(());
                }
                cur = &mut arr[*i];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_row() {
        let m = CsvMapping::from_toml(
            r#"
resource_type = "Patient"
[identifier]
column = "mrn"
system = "urn:mrn"
[[column]]
name = "nhs"
path = "identifier[1]"
system = "https://fhir.nhs.uk/Id/nhs-number"
[[column]]
name = "family"
path = "name[0].family"
[[column]]
name = "given"
path = "name[0].given[0]"
[constants]
active = true
"#,
        )
        .unwrap();
        let h: Vec<String> = ["mrn", "nhs", "family", "given"].iter().map(|s| s.to_string()).collect();
        let c: Vec<String> = ["M1", "9434765919", "Smith", ""].iter().map(|s| s.to_string()).collect();
        let r = m.row(&h, &c).unwrap();
        assert_eq!(
            r,
            json!({"resourceType": "Patient", "active": true,
                "identifier": [{"system": "urn:mrn", "value": "M1"}, {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
                "name": [{"family": "Smith"}]})
        );
    }
}
