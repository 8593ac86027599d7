//! Reading the values that `${ssm:...}` and `${secret:...}` name. The
//! values go straight into the request that needs them; nothing here
//! prints them, and an error names the reference, never the value.

use super::{Aws, AwsError};
use crate::send;
use crate::spec::SecretRef;

impl Aws {
    /// The value a secret reference names. A missing parameter or secret
    /// is an error naming the reference (not `None`: a function must not
    /// start with an empty password).
    pub async fn secret_value(&self, secret: &SecretRef) -> Result<String, AwsError> {
        let missing = |e: AwsError| {
            if e.is_not_found() {
                AwsError::fatal(e.op, format!("{secret} does not exist (or this identity cannot see it)"))
            } else {
                e
            }
        };
        match secret {
            SecretRef::Ssm(name) => {
                let req = self.ssm.get_parameter().name(name).with_decryption(true);
                let out = send!("GetParameter", req).map_err(missing)?;
                Ok(out.parameter().and_then(|p| p.value()).unwrap_or_default().to_string())
            }
            SecretRef::Secret { id, field } => {
                let out = send!("GetSecretValue", self.secrets.get_secret_value().secret_id(id)).map_err(missing)?;
                let Some(text) = out.secret_string() else {
                    return Err(AwsError::fatal("GetSecretValue", format!("{secret} holds binary data, not text")));
                };
                match field {
                    None => Ok(text.to_string()),
                    Some(k) => field_of(text, k).ok_or_else(|| {
                        AwsError::fatal("GetSecretValue", format!("{secret}: the secret has no text field `{k}`"))
                    }),
                }
            }
        }
    }
}

/// One field of a JSON object secret, as text (numbers and booleans as
/// written).
fn field_of(text: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_a_json_secret() {
        let text = r#"{"user":"app","password":"p@ss","port":5432,"nested":{"a":1}}"#;
        assert_eq!(field_of(text, "password").as_deref(), Some("p@ss"));
        assert_eq!(field_of(text, "port").as_deref(), Some("5432"));
        assert_eq!(field_of(text, "nested"), None);
        assert_eq!(field_of(text, "absent"), None);
        assert_eq!(field_of("not json", "user"), None);
    }
}
