//! What AWS answered each attempt of a call: a throttled one, even one
//! the SDK then retries on its own inside the call's token, slows the
//! call's bucket ([`super::throttled`]). The call is known from the task
//! that sends it ([`super::paced`] names it while it runs): the SDK runs
//! its hooks inside that task.

use aws_sdk_kinesis::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_kinesis::config::{ConfigBag, Intercept, RuntimeComponents};

tokio::task_local! {
    pub(super) static CALL: (&'static str, &'static str);
}

/// Registered on every client (`Aws::from_config`).
#[derive(Debug, Clone, Copy)]
pub struct Learn;

impl Intercept for Learn {
    fn name(&self) -> &'static str {
        "pipectl::aws::rate::Learn"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_kinesis::error::BoxError> {
        let Some(r) = context.response() else { return Ok(()) };
        let kind = r.headers().get("x-amzn-errortype");
        if throttled_answer(r.status().as_u16(), kind, r.body().bytes()) {
            if let Ok((service, op)) = CALL.try_with(|c| *c) {
                super::throttled(service, op);
            }
        }
        Ok(())
    }
}

/// Whether an HTTP answer is AWS refusing a call for its rate: 429, or
/// an error whose code (the `x-amzn-ErrorType` header of the JSON and
/// REST protocols, else the body's `__type` or `<Code>`) says so.
pub fn throttled_answer(status: u16, error_type: Option<&str>, body: Option<&[u8]>) -> bool {
    if status == 429 {
        return true;
    }
    if status < 400 {
        return false;
    }
    let named = |text: &str| {
        super::super::THROTTLED.iter().any(|code| {
            text.split([':', '#', '"', '<', '>', ' ']).any(|word| word == *code)
                || (text.contains("LimitExceededException") && text.contains("Rate exceeded"))
        })
    };
    if error_type.is_some_and(named) {
        return true;
    }
    // The body's first kilobytes hold the code.
    body.is_some_and(|b| named(&String::from_utf8_lossy(&b[..b.len().min(4096)])))
}

#[cfg(test)]
mod tests {
    use super::throttled_answer;

    #[test]
    fn every_service_s_throttling_answer_is_told_from_other_errors() {
        assert!(throttled_answer(429, Some("TooManyRequestsException"), None));
        assert!(throttled_answer(400, Some("ThrottlingException:http://internal.amazon.com/"), None));
        let kinesis = br#"{"__type":"LimitExceededException","message":"Rate exceeded for stream s under account 1."}"#;
        assert!(throttled_answer(400, None, Some(kinesis)));
        let iam = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert!(throttled_answer(400, None, Some(iam)));
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        assert!(throttled_answer(503, None, Some(ec2)));
        assert!(throttled_answer(503, None, Some(b"<Error><Code>SlowDown</Code></Error>")));
        // Not a rate.
        let quota = br#"{"__type":"LimitExceededException","message":"You have already consumed your firehose quota of 50 hoses."}"#;
        assert!(!throttled_answer(400, None, Some(quota)));
        assert!(!throttled_answer(400, Some("ResourceInUseException"), None));
        assert!(!throttled_answer(404, None, Some(b"<Error><Code>NoSuchBucket</Code></Error>")));
        assert!(!throttled_answer(200, None, Some(b"Throttling")));
    }
}
