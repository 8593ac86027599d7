//! What an object carries besides its body, read from the GetObject that
//! read the body, and put back on the PutObject that replaces it, so a
//! rewrite changes the body only: its content headers, user metadata,
//! storage class and server-side encryption.

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
use std::collections::HashMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attrs {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub website_redirect: Option<String>,
    pub metadata: Option<HashMap<String, String>>,
    pub storage_class: Option<StorageClass>,
    pub sse: Option<ServerSideEncryption>,
    pub kms_key: Option<String>,
    pub sse_customer: bool,
    pub tags: i32,
}

impl Attrs {
    pub fn of(out: &GetObjectOutput) -> Attrs {
        let s = |v: Option<&str>| v.map(str::to_string);
        Attrs {
            content_type: s(out.content_type()),
            content_encoding: s(out.content_encoding()),
            content_disposition: s(out.content_disposition()),
            content_language: s(out.content_language()),
            cache_control: s(out.cache_control()),
            website_redirect: s(out.website_redirect_location()),
            metadata: out.metadata().filter(|m| !m.is_empty()).cloned(),
            storage_class: out.storage_class().cloned(),
            sse: out.server_side_encryption().cloned(),
            kms_key: s(out.ssekms_key_id()),
            sse_customer: out.sse_customer_algorithm().is_some(),
            tags: out.tag_count().unwrap_or(0),
        }
    }

    /// Why the object cannot be written back as it was, if it cannot:
    /// pipectl asks for no KMS right (writing under a KMS key needs
    /// `kms:GenerateDataKey` on it) and holds no customer key; tags are not
    /// returned by GetObject and would be dropped.
    pub fn refusal(&self) -> Option<String> {
        let kms = matches!(self.sse, Some(ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse));
        if kms {
            let key = self.kms_key.as_deref().unwrap_or("the bucket's key");
            return Some(format!(
                "SSE-KMS ({key}): writing it back needs kms:GenerateDataKey on that key, which pipectl does not ask for; left as it is"
            ));
        }
        if self.sse_customer {
            return Some("SSE-C: pipectl holds no customer key to write it back with; left as it is".into());
        }
        if self.tags > 0 {
            return Some(format!("it has {} object tags, which a rewrite would drop; left as it is", self.tags));
        }
        None
    }

    /// `put` carrying every attribute read.
    pub fn onto(&self, put: PutObjectFluentBuilder) -> PutObjectFluentBuilder {
        let sse = self.sse.clone().filter(|s| *s == ServerSideEncryption::Aes256);
        put.set_content_type(self.content_type.clone())
            .set_content_encoding(self.content_encoding.clone())
            .set_content_disposition(self.content_disposition.clone())
            .set_content_language(self.content_language.clone())
            .set_cache_control(self.cache_control.clone())
            .set_website_redirect_location(self.website_redirect.clone())
            .set_metadata(self.metadata.clone())
            .set_storage_class(self.storage_class.clone())
            .set_server_side_encryption(sse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> aws_sdk_s3::Client {
        let conf =
            aws_sdk_s3::Config::builder().behavior_version(aws_sdk_s3::config::BehaviorVersion::latest()).build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    #[test]
    fn a_rewrite_keeps_the_objects_attributes() {
        let read = GetObjectOutput::builder()
            .content_type("application/x-ndjson")
            .content_encoding("identity")
            .content_disposition("inline")
            .content_language("en")
            .cache_control("no-cache")
            .metadata("owner", "team-a")
            .storage_class(StorageClass::StandardIa)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .build();
        let attrs = Attrs::of(&read);
        assert_eq!(attrs.refusal(), None);
        let put = attrs.onto(client().put_object());
        let input = put.as_input();
        assert_eq!(input.get_content_type().as_deref(), Some("application/x-ndjson"));
        assert_eq!(input.get_content_encoding().as_deref(), Some("identity"));
        assert_eq!(input.get_content_disposition().as_deref(), Some("inline"));
        assert_eq!(input.get_content_language().as_deref(), Some("en"));
        assert_eq!(input.get_cache_control().as_deref(), Some("no-cache"));
        assert_eq!(input.get_metadata().as_ref().unwrap()["owner"], "team-a");
        assert_eq!(input.get_storage_class(), &Some(StorageClass::StandardIa));
        assert_eq!(input.get_server_side_encryption(), &Some(ServerSideEncryption::Aes256));
    }

    #[test]
    fn what_cannot_be_written_back_as_it_was_says_why() {
        let kms = GetObjectOutput::builder()
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("arn:aws:kms:us-east-1:123456789012:key/k")
            .build();
        let why = Attrs::of(&kms).refusal().unwrap();
        assert!(why.starts_with("SSE-KMS (arn:aws:kms:us-east-1:123456789012:key/k)"), "{why}");
        assert!(why.contains("kms:GenerateDataKey"), "{why}");
        let tagged = GetObjectOutput::builder().tag_count(2).build();
        assert!(Attrs::of(&tagged).refusal().unwrap().contains("2 object tags"));
        let plain = Attrs::of(&GetObjectOutput::builder().build());
        assert_eq!(plain.refusal(), None);
        let put = plain.onto(client().put_object());
        assert_eq!(put.as_input().get_server_side_encryption(), &None, "the bucket's default stands");
    }
}
