//! What the planner compares: attributes as JSON values, the tags read from
//! AWS, and who owns a resource.

use std::collections::BTreeMap;

/// Attributes compared by the diff, as JSON values. Kinds keep their
/// attributes as typed structs and serialize them into this map.
pub type Attrs = BTreeMap<String, serde_json::Value>;
pub type Tags = BTreeMap<String, String>;

pub const TAG_PIPELINE: &str = "pipectl:pipeline";
pub const TAG_ENV: &str = "pipectl:env";

/// What was read from AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub attrs: Attrs,
    /// `None` for kinds AWS cannot tag (owned through the record instead).
    pub tags: Option<Tags>,
}

impl Observed {
    /// Attributes from a typed struct that serializes to a JSON object.
    pub fn of(attrs: &impl serde::Serialize, tags: Option<Tags>) -> Observed {
        Observed { attrs: to_attrs(attrs), tags }
    }
}

/// A typed attribute struct as the diff's JSON map.
pub fn to_attrs(attrs: &impl serde::Serialize) -> Attrs {
    match serde_json::to_value(attrs).expect("attributes serialize") {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        other => panic!("attributes must serialize to an object, not {other}"),
    }
}

/// The deployment a run acts for: resources it may change carry its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pipeline: String,
    pub env: String,
}

impl Owner {
    /// The ownership tags alone.
    pub fn tags(&self) -> Tags {
        Tags::from([(TAG_PIPELINE.into(), self.pipeline.clone()), (TAG_ENV.into(), self.env.clone())])
    }

    pub fn owns_tags(&self, tags: &Tags) -> bool {
        tags.get(TAG_PIPELINE) == Some(&self.pipeline) && tags.get(TAG_ENV) == Some(&self.env)
    }

    /// Ownership of something read from AWS: by its tags where the kind
    /// has them, else by being listed in the deployment record.
    pub fn owns(&self, observed: &Observed, listed: bool) -> bool {
        match &observed.tags {
            Some(t) => self.owns_tags(t),
            None => listed,
        }
    }

    /// Why a resource that exists is not this deployment's, for people.
    pub fn conflict_reason(&self, observed: &Observed) -> String {
        match &observed.tags {
            Some(t) if t.contains_key(TAG_PIPELINE) => format!(
                "it exists and belongs to pipeline `{}` env `{}`, not `{}`/`{}`; pipectl will not touch it",
                t.get(TAG_PIPELINE).map_or("?", String::as_str),
                t.get(TAG_ENV).map_or("?", String::as_str),
                self.pipeline,
                self.env
            ),
            Some(_) => "it exists without pipectl's ownership tags; pipectl will not touch it (rename it in the spec, or delete or import it by hand)".into(),
            None => "it exists but is not listed in this deployment's record; pipectl will not touch it".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_needs_both_tags_or_the_record() {
        let owner = Owner { pipeline: "p".into(), env: "e".into() };
        let tagged = Observed { attrs: Attrs::new(), tags: Some(owner.tags()) };
        assert!(owner.owns(&tagged, false));
        let mut other = owner.tags();
        other.insert(TAG_ENV.into(), "prod".into());
        let foreign = Observed { attrs: Attrs::new(), tags: Some(other) };
        assert!(!owner.owns(&foreign, true), "tags decide where the kind has them");
        assert!(owner.conflict_reason(&foreign).contains("env `prod`"));
        let untaggable = Observed { attrs: Attrs::new(), tags: None };
        assert!(owner.owns(&untaggable, true));
        assert!(!owner.owns(&untaggable, false));
    }
}
