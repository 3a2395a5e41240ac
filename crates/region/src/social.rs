//! The council's social care extract: two CSV tables, as a case-management system exports
//! them — `clients` (one row per client record, often without an NHS number) and
//! `involvements` (a service's involvement with a client) — with the column mappings
//! (`lantern_feeds::tabular`) that turn them into Patient and EpisodeOfCare. The mappings stamp
//! `meta.source`, the feed and organisation tags and the managing organisation as constants, so
//! each row is the council's, from its feed.
use crate::clock::{fhir, iso_date, DAY};
use crate::orgs::{feed_uri, Org};
use crate::people::SourceRecord;
use crate::story::within;
use lantern_identity::gen::Rng;

/// One CSV table the council sends.
#[derive(Debug, Clone)]
pub struct CsvTable {
    pub name: &'static str,
    pub header: Vec<&'static str>,
    /// The column mapping (TOML, `lantern_feeds::tabular::CsvMapping`).
    pub mapping: String,
}

const CLIENT_COLUMNS: &[&str] = &[
    "client_id",
    "nhs_number",
    "family",
    "given",
    "birth_date",
    "gender",
    "address_line",
    "town",
    "postcode",
    "phone",
];
const INVOLVEMENT_COLUMNS: &[&str] =
    &["involvement_id", "client_id", "service", "team", "start", "end", "status"];

const SERVICES: &[(&str, &str)] = &[
    ("Home care package", "Adult social care - older people"),
    ("Care needs assessment", "Adult social care - assessment"),
    ("Carer's support", "Adult social care - carers"),
    ("Children in need plan", "Children's services"),
    ("Reablement", "Adult social care - reablement"),
];

fn meta_constants(org: &Org) -> String {
    format!(
        "\"meta.source\" = \"{uri}#extract\"\n\"meta.tag[0].system\" = \"https://lantern.health/feed\"\n\"meta.tag[0].code\" = \"{feed}\"\n\"meta.tag[1].system\" = \"https://lantern.health/organisation\"\n\"meta.tag[1].code\" = \"{ods}\"\n\"meta.tag[1].display\" = \"{name}\"\n",
        uri = feed_uri(org.feed),
        feed = org.feed,
        ods = org.ods,
        name = org.name
    )
}

/// The council's tables, clients first (involvements refer to them).
pub(crate) fn tables(org: &Org) -> Vec<CsvTable> {
    let clients = format!(
        r#"resource_type = "Patient"
[identifier]
column = "client_id"
system = "{sys}"
[[column]]
name = "nhs_number"
path = "identifier[1]"
system = "https://fhir.nhs.uk/Id/nhs-number"
[[column]]
name = "family"
path = "name[0].family"
[[column]]
name = "given"
path = "name[0].given[0]"
[[column]]
name = "birth_date"
path = "birthDate"
[[column]]
name = "gender"
path = "gender"
[[column]]
name = "address_line"
path = "address[0].line[0]"
[[column]]
name = "town"
path = "address[0].city"
[[column]]
name = "postcode"
path = "address[0].postalCode"
[[column]]
name = "phone"
path = "telecom[0].value"
[constants]
"active" = true
"name[0].use" = "official"
"address[0].use" = "home"
"telecom[0].system" = "phone"
"managingOrganization.identifier.system" = "https://fhir.nhs.uk/Id/ods-organization-code"
"managingOrganization.identifier.value" = "{ods}"
"managingOrganization.display" = "{name}"
{meta}"#,
        sys = org.local_system,
        ods = org.ods,
        name = org.name,
        meta = meta_constants(org)
    );
    let involvements = format!(
        r#"resource_type = "EpisodeOfCare"
[identifier]
column = "involvement_id"
system = "{uri}/involvement"
[[column]]
name = "client_id"
path = "patient"
type = "reference"
template = "Patient?identifier={sys}|{{}}"
[[column]]
name = "service"
path = "type[0].text"
[[column]]
name = "team"
path = "team[0].display"
[[column]]
name = "start"
path = "period.start"
[[column]]
name = "end"
path = "period.end"
[[column]]
name = "status"
path = "status"
[constants]
"managingOrganization.identifier.system" = "https://fhir.nhs.uk/Id/ods-organization-code"
"managingOrganization.identifier.value" = "{ods}"
"managingOrganization.display" = "{name}"
{meta}"#,
        uri = feed_uri(org.feed),
        sys = org.local_system,
        ods = org.ods,
        name = org.name,
        meta = meta_constants(org)
    );
    vec![
        CsvTable { name: "clients", header: CLIENT_COLUMNS.to_vec(), mapping: clients },
        CsvTable { name: "involvements", header: INVOLVEMENT_COLUMNS.to_vec(), mapping: involvements },
    ]
}

/// The client row of one record.
pub(crate) fn client_row(rec: &SourceRecord) -> Vec<String> {
    let d = &rec.demographics;
    let a = d.address.clone();
    vec![
        rec.local_id.clone(),
        d.nhs_number.clone().unwrap_or_default(),
        d.family.clone(),
        d.given.clone(),
        iso_date(d.birth_date),
        if d.female { "female" } else { "male" }.into(),
        a.as_ref().map(|a| a.line.clone()).unwrap_or_default(),
        a.as_ref().map(|a| a.town.clone()).unwrap_or_default(),
        a.as_ref().map(|a| a.postcode.clone()).unwrap_or_default(),
        d.phone.clone().unwrap_or_default(),
    ]
}

/// The involvement rows of one record.
pub(crate) fn involvement_rows(rng: &mut Rng, rec: &SourceRecord, child: bool, now: i64) -> Vec<Vec<String>> {
    let (service, team) = if child { SERVICES[3] } else { SERVICES[[0, 1, 2, 4][rng.below(4)]] };
    let start = within(rng, now, 900);
    let active = rng.chance(0.65);
    let end = (!active).then(|| fhir((start + (30 + rng.below(200) as i64) * DAY).min(now - DAY)));
    vec![vec![
        format!("{}-I1", rec.local_id),
        rec.local_id.clone(),
        service.into(),
        team.into(),
        fhir(start),
        end.unwrap_or_default(),
        if active { "active" } else { "finished" }.into(),
    ]]
}
