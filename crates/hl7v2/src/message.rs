// The parsed message tree — HL7 v2 chapter 2.5 "Message construction": a message is segments,
// a segment is fields, a field is repetitions, a repetition is components, a component is
// sub-components. Values are stored unescaped (chapter 2.7); positions are 1-based as in the
// standard.

use crate::delimiters::Delimiters;

/// One component: its sub-components (always at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Sub-component values, unescaped.
    pub subcomponents: Vec<String>,
}

/// One repetition of a field: its components (always at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repetition {
    /// Components.
    pub components: Vec<Component>,
}

/// One field: its repetitions (always at least one, possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Repetitions.
    pub repetitions: Vec<Repetition>,
}

/// One segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Segment id, e.g. `PID` or `ZPI`.
    pub name: String,
    /// Fields; `fields[0]` is field 1. For MSH, field 1 is the field separator and field 2 the
    /// encoding characters, both kept literally.
    pub fields: Vec<Field>,
}

/// A parsed message: its delimiters and segments in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The delimiters declared in MSH-1/MSH-2 (or the defaults).
    pub delimiters: Delimiters,
    /// All segments in the order received.
    pub segments: Vec<Segment>,
}

impl Component {
    /// A component holding one value.
    pub fn new(value: impl Into<String>) -> Self {
        Component { subcomponents: vec![value.into()] }
    }

    /// Sub-component `n` (1-based), or "" when absent.
    pub fn sub(&self, n: usize) -> &str {
        n.checked_sub(1).and_then(|i| self.subcomponents.get(i)).map_or("", String::as_str)
    }

    /// The first sub-component.
    pub fn value(&self) -> &str {
        self.sub(1)
    }
}

impl Repetition {
    /// A repetition holding one value.
    pub fn new(value: impl Into<String>) -> Self {
        Repetition { components: vec![Component::new(value)] }
    }

    /// A repetition from component values.
    pub fn from_components<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        let mut components: Vec<Component> = values.into_iter().map(Component::new).collect();
        if components.is_empty() {
            components.push(Component::new(""));
        }
        Repetition { components }
    }

    /// Component `n` (1-based), if present.
    pub fn component(&self, n: usize) -> Option<&Component> {
        n.checked_sub(1).and_then(|i| self.components.get(i))
    }

    /// First sub-component of component `n` (1-based), or "" when absent.
    pub fn get(&self, n: usize) -> &str {
        self.component(n).map_or("", Component::value)
    }

    /// Sub-component `s` of component `c` (both 1-based), or "" when absent.
    pub fn sub(&self, c: usize, s: usize) -> &str {
        self.component(c).map_or("", |comp| comp.sub(s))
    }

    /// True when every sub-component is empty.
    pub fn is_empty(&self) -> bool {
        self.components.iter().all(|c| c.subcomponents.iter().all(|s| s.is_empty()))
    }
}

impl Field {
    /// A field holding one value.
    pub fn new(value: impl Into<String>) -> Self {
        Field { repetitions: vec![Repetition::new(value)] }
    }

    /// The first repetition (every parsed field has one).
    pub fn first(&self) -> Option<&Repetition> {
        self.repetitions.first()
    }

    /// The first value of the first component of the first repetition, or "".
    pub fn value(&self) -> &str {
        self.first().map_or("", |r| r.get(1))
    }

    /// True when every repetition is empty.
    pub fn is_empty(&self) -> bool {
        self.repetitions.iter().all(Repetition::is_empty)
    }

    /// The non-empty repetitions.
    pub fn non_empty(&self) -> impl Iterator<Item = &Repetition> {
        self.repetitions.iter().filter(|r| !r.is_empty())
    }
}

impl Segment {
    /// Field `n` (1-based), if present.
    pub fn field(&self, n: usize) -> Option<&Field> {
        n.checked_sub(1).and_then(|i| self.fields.get(i))
    }

    /// First repetition of field `n`, if present.
    pub fn rep(&self, n: usize) -> Option<&Repetition> {
        self.field(n).and_then(Field::first)
    }

    /// The non-empty repetitions of field `n`.
    pub fn reps(&self, n: usize) -> impl Iterator<Item = &Repetition> {
        self.field(n).into_iter().flat_map(Field::non_empty)
    }

    /// Simple value of field `n` (first repetition, component and sub-component), or "".
    pub fn value(&self, n: usize) -> &str {
        self.field(n).map_or("", Field::value)
    }

    /// Component `c` of the first repetition of field `n`, or "".
    pub fn component(&self, n: usize, c: usize) -> &str {
        self.rep(n).map_or("", |r| r.get(c))
    }
}

impl Message {
    /// All segments with the given id, in order.
    pub fn segments_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.name == name)
    }

    /// The first segment with the given id.
    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name == name)
    }

    /// The MSH segment, if the message starts with one.
    pub fn msh(&self) -> Option<&Segment> {
        self.segments.first().filter(|s| s.name == "MSH")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_default_to_empty() {
        let seg = Segment {
            name: "PID".into(),
            fields: vec![
                Field::new("1"),
                Field { repetitions: vec![Repetition::from_components(["a", "b"])] },
            ],
        };
        assert_eq!(seg.value(1), "1");
        assert_eq!(seg.component(2, 2), "b");
        assert_eq!(seg.component(2, 3), "");
        assert_eq!(seg.value(9), "");
        assert_eq!(seg.component(0, 0), "");
    }
}
