//! Reading a log group's matching events across FilterLogEvents pages.
//! A page may be empty and still carry a `nextToken` (a busy log group:
//! each call scans a bounded slice of it), so the matches can be further
//! on; every page is read, up to `MAX_PAGES` per look.

use crate::aws::AwsError;
use std::future::Future;

/// The most FilterLogEvents pages one look reads.
pub const MAX_PAGES: usize = 50;

/// One page: its events (stream, message) and the token of the next.
pub type Page = (Vec<(String, String)>, Option<String>);

/// Every event of the pages `fetch` answers, following each page's token
/// (given the previous one), at most `max` pages; and whether pages were
/// left unread.
pub async fn read<F, Fut>(max: usize, mut fetch: F) -> Result<(Vec<(String, String)>, bool), AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page, AwsError>>,
{
    let (mut events, mut token) = (Vec::new(), None);
    for _ in 0..max {
        let (page, next) = fetch(token.take()).await?;
        events.extend(page);
        match next {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok((events, false)),
        }
    }
    Ok((events, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    /// `n` empty pages, each with a token, then one with the event.
    fn pages(n: usize) -> impl FnMut(Option<String>) -> std::future::Ready<Result<Page, AwsError>> {
        let mut seen = 0;
        move |token| {
            assert_eq!(token, (seen > 0).then(|| format!("t{seen}")), "each page asks with the token of the last");
            seen += 1;
            let page = if seen > n {
                (vec![("s".to_string(), "pipectl-canary-x".to_string())], None)
            } else {
                (Vec::new(), Some(format!("t{seen}")))
            };
            std::future::ready(Ok(page))
        }
    }

    #[test]
    fn log_search_reads_past_empty_pages_with_a_token() {
        let (events, more) = run(read(MAX_PAGES, pages(3))).unwrap();
        assert_eq!((events.len(), more), (1, false));
    }

    #[test]
    fn log_search_stops_at_its_bound_and_says_so() {
        let (events, more) = run(read(MAX_PAGES, pages(MAX_PAGES))).unwrap();
        assert_eq!((events.len(), more), (0, true));
    }
}
