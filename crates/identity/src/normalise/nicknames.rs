//! Common English forename diminutives, so `Bill` and `William` can be recognised as one name.
//!
//! Each group lists a formal name first, then its usual short forms. A pair of names is a known
//! nickname pair when they fall in the same group. The table is deliberately small and
//! conservative: a wrong entry would add false evidence to every comparison that hits it.

const GROUPS: &[&[&str]] = &[
    &["william", "bill", "billy", "will", "willie", "liam"],
    &["robert", "bob", "bobby", "rob", "robbie", "bert"],
    &["richard", "rick", "ricky", "dick", "rich", "richie"],
    &["elizabeth", "liz", "lizzie", "beth", "betty", "eliza", "libby", "elisabeth"],
    &["margaret", "maggie", "meg", "peggy", "marge", "madge", "maisie"],
    &["katherine", "kate", "katie", "kathy", "kath", "kitty", "catherine", "kathryn", "cathy"],
    &["james", "jim", "jimmy", "jamie"],
    &["john", "jack", "johnny", "jon"],
    &["jonathan", "jon", "jonny"],
    &["thomas", "tom", "tommy"],
    &["michael", "mike", "mick", "mickey", "micky"],
    &["christopher", "chris", "kit"],
    &["christine", "chris", "chrissie", "christina", "tina"],
    &["anthony", "tony", "ant"],
    &["edward", "ed", "eddie", "ted", "teddy", "ned"],
    &["alexander", "alex", "sandy", "alec", "xander"],
    &["alexandra", "alex", "sandra", "lexi"],
    &["daniel", "dan", "danny"],
    &["david", "dave", "davy"],
    &["joseph", "joe", "joey"],
    &["samuel", "sam", "sammy"],
    &["samantha", "sam", "sammy"],
    &["benjamin", "ben", "benny"],
    &["matthew", "matt", "matty"],
    &["andrew", "andy", "drew"],
    &["nicholas", "nick", "nicky"],
    &["nicola", "nicki", "nikki", "nicky"],
    &["peter", "pete"],
    &["stephen", "steve", "stevie", "steven"],
    &["timothy", "tim", "timmy"],
    &["charles", "charlie", "chas", "chuck"],
    &["charlotte", "charlie", "lottie"],
    &["henry", "harry", "hal", "hank"],
    &["frederick", "fred", "freddie", "freddy"],
    &["patrick", "pat", "paddy"],
    &["patricia", "pat", "patsy", "trish", "tricia"],
    &["susan", "sue", "susie", "suzanne"],
    &["deborah", "debbie", "debra", "deb"],
    &["jennifer", "jenny", "jen"],
    &["rebecca", "becky", "becca"],
    &["victoria", "vicky", "vicki", "tori"],
    &["jessica", "jess", "jessie"],
    &["abigail", "abby", "abbie", "gail"],
    &["eleanor", "ellie", "nell", "nora", "elle"],
    &["helen", "nell", "ellen"],
    &["mary", "molly", "polly", "mae"],
    &["ann", "anne", "annie", "anna", "nan"],
    &["gerald", "gerry", "jerry"],
    &["gregory", "greg"],
    &["kenneth", "ken", "kenny"],
    &["leonard", "len", "lenny", "leo"],
    &["ronald", "ron", "ronnie"],
    &["donald", "don", "donnie"],
    &["raymond", "ray"],
    &["terence", "terry", "terrence"],
    &["philip", "phil", "phillip"],
    &["douglas", "doug", "dougie"],
    &["albert", "bert", "bertie", "al"],
    &["alfred", "alf", "alfie", "fred"],
    &["archibald", "archie"],
    &["oliver", "ollie", "olly"],
    &["joshua", "josh"],
    &["zachary", "zach", "zack"],
    &["nathaniel", "nathan", "nat", "nate"],
    &["jacqueline", "jackie", "jacqui"],
    &["josephine", "jo", "josie"],
    &["joanne", "jo", "joanna"],
    &["caroline", "carol", "carrie", "carole"],
    &["dorothy", "dot", "dotty", "dolly"],
    &["gwendolyn", "gwen"],
    &["isabella", "bella", "izzy", "isabel", "isobel"],
    &["sophia", "sophie"],
    &["amelia", "milly", "millie", "amy"],
    &["florence", "flo", "florrie"],
    &["frances", "fran", "fanny", "frankie"],
    &["francis", "frank", "frankie"],
    &["lawrence", "larry", "laurie", "laurence"],
    &["louise", "lou", "louisa"],
    &["lewis", "lou", "louis"],
    &["harriet", "hattie"],
    &["theodore", "theo", "ted"],
    &["sebastian", "seb"],
];

/// True when the two (normalised, different) forenames are a formal name and a short form, or two
/// short forms, of the same name.
pub fn are_nicknames(a: &str, b: &str) -> bool {
    a != b && GROUPS.iter().any(|g| g.contains(&a) && g.contains(&b))
}

/// Bit `g` set for every nickname group `g` that contains `name` (0 when none).
pub(crate) fn group_mask(name: &str) -> u128 {
    static MASKS: std::sync::OnceLock<std::collections::HashMap<&'static str, u128>> =
        std::sync::OnceLock::new();
    let masks = MASKS.get_or_init(|| {
        let mut m = std::collections::HashMap::new();
        for (g, group) in GROUPS.iter().enumerate() {
            for &n in *group {
                *m.entry(n).or_insert(0u128) |= 1u128 << g;
            }
        }
        m
    });
    masks.get(name).copied().unwrap_or(0)
}

/// All groups, for the synthetic data generator.
pub(crate) fn groups() -> &'static [&'static [&'static str]] {
    GROUPS
}

#[cfg(test)]
mod tests {
    use super::are_nicknames;

    #[test]
    fn pairs() {
        assert!(are_nicknames("bill", "william"));
        assert!(are_nicknames("peggy", "margaret"));
        assert!(!are_nicknames("bill", "bill"));
        assert!(!are_nicknames("bill", "robert"));
    }
}
