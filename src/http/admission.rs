//! Admission of Table API pages by the records they will hold, so that concurrent large pages
//! cannot take memory without bound.
//!
//! While a page is answered its rows, the display values of its references and its written body
//! are in memory together, and the body stays there until it has been sent: one page of 10,000
//! records with `sysparm_display_value=all` costs tens of megabytes, and sixteen at once took
//! 422 MB. So each page first reserves the records it will hold from a budget
//! (`--max-records-in-flight`) and keeps the reservation until its body has been sent (or
//! dropped). A page larger than the whole budget reserves all of it and so runs alone. A page
//! that cannot be admitted within the configured wait is answered 503 with `Retry-After`:
//! waiting costs no memory, but a client is better told to come back than left hanging.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::Semaphore;

use crate::http::ApiError;

/// What a client refused admission is told to wait before retrying.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// The budget of records that pages being answered may hold, shared by every request.
#[derive(Debug)]
pub struct PageAdmission {
    /// Records not reserved by a page; `None` when admission is off (a budget of 0).
    free: Option<Semaphore>,
    /// The whole budget: the most one page reserves.
    budget: u32,
    /// How long a page waits for its turn before it is refused.
    wait: Duration,
    /// Pages holding a reservation now, and the most there ever were at once (for tests and
    /// diagnosis: one atomic each per page).
    admitted: AtomicUsize,
    most_admitted: AtomicUsize,
}

/// A page's reservation: given back when dropped, i.e. when the body that holds it (see
/// [`Admission::hold`]) has been sent or dropped.
#[derive(Debug)]
pub struct Admission {
    pages: Arc<PageAdmission>,
    records: u32,
}

impl PageAdmission {
    /// A budget of `records` (0: no admission, every page answered at once), each page waiting
    /// at most `wait` for its turn.
    pub fn new(records: usize, wait: Duration) -> Self {
        // tokio takes a u32 per acquisition and at most `MAX_PERMITS` in all.
        let budget = records.min(Semaphore::MAX_PERMITS).min(u32::MAX as usize);
        PageAdmission {
            free: (budget > 0).then(|| Semaphore::new(budget)),
            budget: budget as u32,
            wait,
            admitted: AtomicUsize::new(0),
            most_admitted: AtomicUsize::new(0),
        }
    }

    /// Reserves room for a page of `records` (at most the whole budget), waiting for it in
    /// arrival order. `None` when there is nothing to reserve (an empty page, or admission off);
    /// a 503 when the wait ran out.
    pub async fn admit(self: &Arc<Self>, records: u64) -> Result<Option<Admission>, ApiError> {
        let Some(free) = &self.free else {
            return Ok(None);
        };
        let records = records.min(u64::from(self.budget)) as u32;
        if records == 0 {
            return Ok(None);
        }
        // The common case, a free budget, without arming a timer.
        match free.try_acquire_many(records) {
            Ok(permit) => permit.forget(),
            Err(_) => match tokio::time::timeout(self.wait, free.acquire_many(records)).await {
                Ok(Ok(permit)) => permit.forget(),
                Ok(Err(closed)) => return Err(ApiError::internal(closed)),
                Err(_) => return Err(refused()),
            },
        }
        let now = self.admitted.fetch_add(1, Ordering::Relaxed) + 1;
        self.most_admitted.fetch_max(now, Ordering::Relaxed);
        Ok(Some(Admission {
            pages: self.clone(),
            records,
        }))
    }

    /// Pages holding a reservation now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Relaxed)
    }

    /// The most pages that ever held a reservation at once.
    pub fn most_admitted(&self) -> usize {
        self.most_admitted.load(Ordering::Relaxed)
    }
}

impl Admission {
    /// The response body `body`, holding this reservation until the last of it has been sent
    /// or the response is dropped.
    pub fn hold(self, body: Vec<u8>) -> Bytes {
        Bytes::from_owner(Held {
            body,
            _admission: self,
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        // Counted out before the records go back, so the next page's count comes after it.
        self.pages.admitted.fetch_sub(1, Ordering::Relaxed);
        if let Some(free) = &self.pages.free {
            free.add_permits(self.records as usize);
        }
    }
}

/// A body that owns the reservation of the page it carries.
struct Held {
    body: Vec<u8>,
    _admission: Admission,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

fn refused() -> ApiError {
    ApiError::busy(
        "The server is answering as many large pages as its memory budget allows; \
         retry after the time in Retry-After, or ask for smaller pages with sysparm_limit",
        RETRY_AFTER,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(budget: usize) -> Arc<PageAdmission> {
        Arc::new(PageAdmission::new(budget, Duration::from_millis(50)))
    }

    #[tokio::test]
    async fn a_page_reserves_its_records_until_its_body_is_dropped() {
        let pages = pages(100);
        let admission = pages.admit(60).await.unwrap().unwrap();
        assert_eq!(pages.admitted(), 1);
        let body = admission.hold(b"{}".to_vec());
        let piece = body.slice(1..);
        drop(body);
        // A piece of the body still being sent keeps the reservation.
        assert!(pages.admit(60).await.is_err());
        drop(piece);
        assert_eq!(pages.admitted(), 0);
        assert!(pages.admit(60).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_page_over_the_budget_takes_all_of_it_and_waits_for_all_of_it() {
        let pages = pages(10);
        let small = pages.admit(1).await.unwrap().unwrap();
        let refused = pages.admit(1_000_000).await.unwrap_err();
        assert_eq!(refused.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        drop(small);
        let large = pages.admit(1_000_000).await.unwrap().unwrap();
        assert_eq!(large.records, 10);
    }

    #[tokio::test]
    async fn empty_pages_and_a_zero_budget_reserve_nothing() {
        assert!(pages(10).admit(0).await.unwrap().is_none());
        let off = pages(0);
        assert!(off.admit(1_000_000).await.unwrap().is_none());
        assert_eq!(off.most_admitted(), 0);
    }

    #[tokio::test]
    async fn a_waiting_page_is_admitted_when_room_is_given_back() {
        let pages = Arc::new(PageAdmission::new(10, Duration::from_secs(10)));
        let first = pages.admit(10).await.unwrap().unwrap();
        let waiting = tokio::spawn({
            let pages = pages.clone();
            async move { pages.admit(5).await.map(|a| a.is_some()) }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        assert!(waiting.await.unwrap().unwrap());
        assert_eq!(pages.most_admitted(), 1);
    }
}
