//! What the planner compares: attributes as JSON values, the tags read from
//! AWS, and who owns a resource.

use std::collections::BTreeMap;

/// Attributes compared by the diff, as JSON values. Kinds keep their
/// attributes as typed structs and serialize them into this map.
pub type Attrs = BTreeMap<String, serde_json::Value>;
pub type Tags = BTreeMap<String, String>;

pub const TAG_PIPELINE: &str = "pipectl:pipeline";
pub const TAG_ENV: &str = "pipectl:env";
pub const TAG_REGION: &str = "pipectl:region";

/// What was read from AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub attrs: Attrs,
    /// `None` for kinds AWS cannot tag (owned through the record and a
    /// marker instead).
    pub tags: Option<Tags>,
    /// For kinds AWS cannot tag: the ownership marker pipectl wrote into
    /// the resource itself (a table's parameters, a line of a dashboard's
    /// body), read back as tags; also another tool's ownership keys found
    /// there (see [`super::foreign`]).
    pub marker: Option<Tags>,
    /// It belongs to another AWS account (S3 refused a call naming this
    /// account as the bucket's owner): never this deployment's, whatever
    /// it carries.
    pub another_account: bool,
}

impl Observed {
    /// Attributes from a typed struct that serializes to a JSON object.
    pub fn of(attrs: &impl serde::Serialize, tags: Option<Tags>) -> Observed {
        Observed { attrs: to_attrs(attrs), tags, marker: None, another_account: false }
    }

    /// Attributes already in the diff's shape.
    pub fn with_attrs(attrs: Attrs, tags: Option<Tags>) -> Observed {
        Observed { attrs, tags, marker: None, another_account: false }
    }

    /// An untaggable resource, with the ownership marker found in it.
    pub fn marked(attrs: &impl serde::Serialize, marker: Tags) -> Observed {
        Observed { attrs: to_attrs(attrs), tags: None, marker: Some(marker), another_account: false }
    }

    /// Nothing read yet.
    pub fn empty() -> Observed {
        Observed { attrs: Attrs::new(), tags: None, marker: None, another_account: false }
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
    /// Where the deployment lives: the same pipeline and env in two regions
    /// are two deployments.
    pub region: String,
}

impl Owner {
    /// The keys of the ownership tags.
    pub const TAGS: [&'static str; 3] = [TAG_PIPELINE, TAG_ENV, TAG_REGION];

    /// The ownership tags alone.
    pub fn tags(&self) -> Tags {
        Tags::from([
            (TAG_PIPELINE.into(), self.pipeline.clone()),
            (TAG_ENV.into(), self.env.clone()),
            (TAG_REGION.into(), self.region.clone()),
        ])
    }

    /// The tags that name the deployment without its region: what markers
    /// and claims older than the region tag carry.
    pub fn tags_without_region(&self) -> Tags {
        let mut t = self.tags();
        t.remove(TAG_REGION);
        t
    }

    /// Pipeline and env match, and the region where one is tagged
    /// (resources from before the region tag carry none).
    pub fn owns_tags(&self, tags: &Tags) -> bool {
        tags.get(TAG_PIPELINE) == Some(&self.pipeline)
            && tags.get(TAG_ENV) == Some(&self.env)
            && tags.get(TAG_REGION).is_none_or(|r| *r == self.region)
    }

    /// Ownership of something read from AWS: by its tags where the kind
    /// has them; else only when the deployment record lists it under the
    /// same physical name (`recorded`) *and* it carries pipectl's marker
    /// for this deployment. A record edited to list someone else's
    /// dashboard or table never makes it ours.
    pub fn owns(&self, observed: &Observed, recorded: bool) -> bool {
        if observed.another_account {
            return false;
        }
        match &observed.tags {
            Some(t) => self.owns_tags(t),
            None => recorded && observed.marker.as_ref().is_some_and(|m| self.owns_tags(m)),
        }
    }

    /// The marker written into resources AWS cannot tag.
    pub fn marker(&self) -> String {
        format!(
            "managed by pipectl ({TAG_PIPELINE}={} {TAG_ENV}={} {TAG_REGION}={})",
            self.pipeline, self.env, self.region
        )
    }

    /// The ownership tags a [`Owner::marker`] in `text` names (empty when
    /// there is none).
    pub fn parse_marker(text: &str) -> Tags {
        let Some(start) = text.find("managed by pipectl (") else { return Owner::parse_legacy_marker(text) };
        let rest = &text[start + "managed by pipectl (".len()..];
        let inner = &rest[..rest.find(')').unwrap_or(rest.len())];
        inner
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| Owner::TAGS.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Dashboards made before the marker carry only their heading,
    /// ``# Pipeline `p`, env `e` ``: pipeline and env, no region.
    fn parse_legacy_marker(text: &str) -> Tags {
        let between = |s: &str, from: &str| -> Option<String> {
            let rest = &s[s.find(from)? + from.len()..];
            Some(rest[..rest.find('`')?].to_string())
        };
        let (Some(pipeline), Some(env)) = (between(text, "# Pipeline `"), between(text, "`, env `")) else {
            return Tags::new();
        };
        Tags::from([(TAG_PIPELINE.into(), pipeline), (TAG_ENV.into(), env)])
    }

    /// Why a resource that exists is not this deployment's, for people.
    pub fn conflict_reason(&self, observed: &Observed) -> String {
        let owned_by = |t: &Tags| {
            format!(
                "it exists and belongs to pipeline `{}` env `{}`{}, not `{}`/`{}` in {}; pipectl will not touch it",
                t.get(TAG_PIPELINE).map_or("?", String::as_str),
                t.get(TAG_ENV).map_or("?", String::as_str),
                t.get(TAG_REGION).map(|r| format!(" in {r}")).unwrap_or_default(),
                self.pipeline,
                self.env,
                self.region
            )
        };
        if observed.another_account {
            return "it belongs to another AWS account (S3 refused it as this account's bucket); bucket names are \
                    global: give it another name in the spec; pipectl will not touch it"
                .into();
        }
        match (&observed.tags, &observed.marker) {
            (Some(t), _) if t.contains_key(TAG_PIPELINE) => owned_by(t),
            (Some(_), _) => "it exists without pipectl's ownership tags; pipectl will not touch it (rename it in the spec, or delete or import it by hand)".into(),
            (None, Some(m)) if m.contains_key(TAG_PIPELINE) && !self.owns_tags(m) => owned_by(m),
            (None, Some(m)) if m.contains_key(TAG_PIPELINE) => "it carries this deployment's marker but the record does not list it under this name; pipectl will not touch it".into(),
            (None, _) => "it exists without pipectl's marker, or the record does not list it; pipectl will not touch it (rename it in the spec, or delete it by hand)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_needs_both_tags_or_the_record() {
        let owner = Owner { pipeline: "p".into(), env: "e".into(), region: "eu-west-1".into() };
        let tagged = Observed { tags: Some(owner.tags()), ..Observed::empty() };
        assert!(owner.owns(&tagged, false));
        let mut other = owner.tags();
        other.insert(TAG_ENV.into(), "prod".into());
        let foreign = Observed { tags: Some(other), ..Observed::empty() };
        assert!(!owner.owns(&foreign, true), "tags decide where the kind has them");
        assert!(owner.conflict_reason(&foreign).contains("env `prod`"));
        let mut elsewhere = owner.tags();
        elsewhere.insert(TAG_REGION.into(), "us-east-1".into());
        assert!(!owner.owns_tags(&elsewhere), "the same env in another region is another deployment");
        assert!(owner.owns_tags(&owner.tags_without_region()));
        let elsewhere = Observed { another_account: true, ..tagged };
        assert!(!owner.owns(&elsewhere, true), "another account's bucket is never ours, tagged like ours or not");
        assert!(owner.conflict_reason(&elsewhere).contains("another AWS account"));
    }

    #[test]
    fn untaggable_kinds_need_the_record_and_the_marker() {
        let owner = Owner { pipeline: "p".into(), env: "e".into(), region: "eu-west-1".into() };
        let marked = Observed { marker: Some(Owner::parse_marker(&owner.marker())), ..Observed::empty() };
        assert_eq!(marked.marker.as_ref(), Some(&owner.tags()));
        assert!(owner.owns(&marked, true));
        assert!(!owner.owns(&marked, false), "a marker alone is not enough");
        let unmarked = Observed { marker: Some(Tags::new()), ..Observed::empty() };
        assert!(!owner.owns(&unmarked, true), "a record listing alone is not enough");
        assert!(owner.conflict_reason(&unmarked).contains("without pipectl's marker"));
        let other = Owner { env: "prod".into(), ..owner.clone() };
        let theirs =
            Observed { marker: Some(Owner::parse_marker(&format!("# x\n{}", other.marker()))), ..Observed::empty() };
        assert!(!owner.owns(&theirs, true));
        assert!(owner.conflict_reason(&theirs).contains("env `prod`"));
        // A dashboard from before the marker: its heading names the deployment.
        let legacy = Owner::parse_marker("{\"markdown\":\"# Pipeline `p`, env `e`\\nlinks\"}");
        assert!(owner.owns_tags(&legacy), "{legacy:?}");
    }
}
