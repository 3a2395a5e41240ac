//! Places for the synthetic population: postcode areas with their towns, streets, house numbers.
//!
//! Postcodes have the real shape (area letters, district number, sector digit, two unit letters
//! from the letters Royal Mail uses) but are not checked against the real Postcode Address File:
//! a generated postcode may not exist. Each postcode unit is one street, as in real life, with
//! several households on it.
use super::rng::Rng;

/// (postcode area, town, relative population)
const AREAS: &[(&str, &str, u32)] = &[
    ("B", "Birmingham", 30),
    ("BS", "Bristol", 15),
    ("M", "Manchester", 20),
    ("L", "Liverpool", 15),
    ("LS", "Leeds", 15),
    ("S", "Sheffield", 13),
    ("NE", "Newcastle upon Tyne", 13),
    ("NG", "Nottingham", 12),
    ("LE", "Leicester", 11),
    ("CV", "Coventry", 9),
    ("CF", "Cardiff", 10),
    ("BN", "Brighton", 10),
    ("SO", "Southampton", 9),
    ("PO", "Portsmouth", 9),
    ("PL", "Plymouth", 7),
    ("EX", "Exeter", 7),
    ("BA", "Bath", 5),
    ("GL", "Gloucester", 7),
    ("OX", "Oxford", 7),
    ("CB", "Cambridge", 7),
    ("RG", "Reading", 9),
    ("MK", "Milton Keynes", 7),
    ("YO", "York", 7),
    ("HU", "Hull", 7),
    ("DE", "Derby", 8),
    ("ST", "Stoke-on-Trent", 8),
    ("WV", "Wolverhampton", 7),
    ("NR", "Norwich", 8),
    ("IP", "Ipswich", 6),
    ("CH", "Chester", 7),
    ("PR", "Preston", 7),
    ("BD", "Bradford", 9),
    ("TS", "Middlesbrough", 8),
    ("SR", "Sunderland", 6),
    ("SW", "London", 25),
    ("SE", "London", 25),
    ("N", "London", 18),
    ("E", "London", 20),
    ("W", "London", 14),
    ("NW", "London", 14),
    ("EH", "Edinburgh", 10),
    ("G", "Glasgow", 15),
    ("TR", "Truro", 4),
    ("LL", "Llandudno", 4),
];

const STREET_STEMS: &[&str] = &[
    "High",
    "Church",
    "Station",
    "Park",
    "Victoria",
    "Mill",
    "School",
    "Queens",
    "Kings",
    "North",
    "South",
    "West",
    "East",
    "Green",
    "Manor",
    "Springfield",
    "Grange",
    "Orchard",
    "Chapel",
    "Albert",
    "York",
    "New",
    "Main",
    "Windsor",
    "Highfield",
    "Meadow",
    "Willow",
    "Beech",
    "Oak",
    "Ash",
    "Cedar",
    "Elm",
    "Hawthorn",
    "Rowan",
    "Holly",
    "Lime",
    "Maple",
    "Chestnut",
    "Poplar",
    "Birch",
    "Brook",
    "River",
    "Bridge",
    "Castle",
    "Abbey",
    "Priory",
    "Market",
    "Cross",
    "Cemetery",
    "Hillside",
    "Valley",
    "Westfield",
    "Fairfield",
    "Broad",
    "Long",
    "Mount",
    "St Johns",
    "St Marys",
    "Alexandra",
    "Stanley",
    "Nelson",
    "Wellington",
    "Cromwell",
    "Milton",
    "Shakespeare",
    "Darwin",
    "Newton",
    "Clifton",
    "Belmont",
    "Richmond",
    "Glebe",
    "Vicarage",
    "Rectory",
    "Forge",
    "Quarry",
];
const STREET_KINDS: &[(&str, &str)] = &[
    ("Road", "Rd"),
    ("Street", "St"),
    ("Lane", "Ln"),
    ("Avenue", "Ave"),
    ("Close", "Cl"),
    ("Drive", "Dr"),
    ("Way", "Way"),
    ("Crescent", "Cres"),
    ("Gardens", "Gdns"),
    ("Terrace", "Terr"),
    ("Place", "Pl"),
    ("Grove", "Grove"),
    ("Court", "Ct"),
];
const UNIT_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// A postcode unit: one street in one town.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    pub(super) postcode: String,
    pub(super) town: &'static str,
    pub(super) street_stem: &'static str,
    pub(super) street_kind: usize,
}

/// A dwelling: a unit and a house number.
#[derive(Debug, Clone)]
pub(super) struct Dwelling {
    pub(super) unit: usize,
    pub(super) number: u32,
    pub(super) landline: Option<String>,
}

/// Makes `count` postcode units.
pub(super) fn units(rng: &mut Rng, count: usize) -> Vec<Unit> {
    let total: u32 = AREAS.iter().map(|a| a.2).sum();
    (0..count)
        .map(|_| {
            let mut x = rng.below(total as usize) as u32;
            let area = AREAS.iter().find(|a| {
                if x < a.2 {
                    true
                } else {
                    x -= a.2;
                    false
                }
            });
            let (code, town, _) = area.copied().unwrap_or(AREAS[0]);
            let district = 1 + rng.below(if code.len() == 1 { 20 } else { 40 });
            let sector = rng.below(10);
            let u1 = UNIT_LETTERS[rng.below(UNIT_LETTERS.len())] as char;
            let u2 = UNIT_LETTERS[rng.below(UNIT_LETTERS.len())] as char;
            Unit {
                postcode: format!("{code}{district} {sector}{u1}{u2}"),
                town,
                street_stem: STREET_STEMS[rng.below(STREET_STEMS.len())],
                street_kind: rng.below(STREET_KINDS.len()),
            }
        })
        .collect()
}

impl Unit {
    /// The street name in full or abbreviated form.
    pub(super) fn street(&self, abbreviated: bool) -> String {
        let (full, short) = STREET_KINDS[self.street_kind];
        format!("{} {}", self.street_stem, if abbreviated { short } else { full })
    }
}

/// A UK landline or mobile number in national form.
pub(super) fn phone_number(rng: &mut Rng, mobile: bool) -> String {
    if mobile {
        format!("07{:03}{:06}", 100 + rng.below(900), rng.below(1_000_000))
    } else {
        format!("01{:03}{:06}", 100 + rng.below(900), rng.below(1_000_000))
    }
}
