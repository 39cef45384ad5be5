//! Pacing and adapting how fast requests go out to one target: start slots `pace` apart (all
//! requests, and writes apart from them), and a window of requests in flight that narrows when
//! the target throttles requests sent together.

use std::time::Duration;

/// Spaces request starts out, shared by all clones of a client.
#[derive(Debug, Default)]
pub(super) struct Pacer {
    pub(super) next_any: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    pub(super) next_write: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Pacer {
    /// Waits for this request's slot: slots are handed out in order, `interval` apart.
    pub(super) async fn wait(
        slot: &tokio::sync::Mutex<Option<tokio::time::Instant>>,
        interval: Option<Duration>,
    ) {
        let Some(interval) = interval else {
            return;
        };
        let at = {
            let mut next = slot.lock().await;
            let now = tokio::time::Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// How many requests may be in flight at once to the target, adapted to its throttling
/// (additive increase, multiplicative decrease, as TCP does): unlimited until the target answers
/// a throttle (409/429 with `Retry-After`), then half of what was in flight, one more for each
/// answer that was not throttled, unlimited again past [`Window::OPEN`]. Shared by all clones.
#[derive(Debug, Default)]
pub(super) struct Window {
    state: std::sync::Mutex<WindowState>,
    freed: tokio::sync::Notify,
}

#[derive(Debug, Default)]
pub(super) struct WindowState {
    /// `None`: no limit.
    limit: Option<usize>,
    in_flight: usize,
    /// Answers since the limit last grew: it grows by one after as many answers as it allows
    /// (about one more per round trip).
    since_growth: usize,
    /// The smallest limit the target's throttling set, if it ever did.
    pub(super) narrowest: Option<usize>,
    /// Throttled requests waiting out their `Retry-After`: the limit does not grow meanwhile, so
    /// they go again in the window their throttling set.
    cooling: usize,
}

/// A throttled request waiting out its `Retry-After`.
pub(super) struct Cooling<'a>(&'a Window);

impl Drop for Cooling<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.cooling = state.cooling.saturating_sub(1);
    }
}

/// A slot in the window, given back when dropped.
pub(super) struct Slot<'a>(&'a Window);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        drop(state);
        self.0.freed.notify_waiters();
    }
}

impl Window {
    /// Past this many in flight the window is open again (no limit).
    const OPEN: usize = 64;

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) async fn acquire(&self) -> Slot<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut state = self.lock();
                if state.limit.is_none_or(|limit| state.in_flight < limit) {
                    state.in_flight += 1;
                    return Slot(self);
                }
            }
            freed.await;
        }
    }

    /// The target throttled a request sent with `in_flight` in flight (this one included).
    pub(super) fn throttled(&self) {
        let mut state = self.lock();
        let limit = (state.in_flight / 2).max(1);
        state.limit = Some(state.limit.map_or(limit, |l| l.min(limit)));
        state.since_growth = 0;
        state.narrowest = Some(state.narrowest.map_or(limit, |n| n.min(limit)));
    }

    /// Marks a throttled request as waiting out its `Retry-After` until the guard is dropped.
    pub(super) fn cool(&self) -> Cooling<'_> {
        self.lock().cooling += 1;
        Cooling(self)
    }

    /// The target answered without throttling.
    pub(super) fn answered(&self) {
        let mut state = self.lock();
        let Some(limit) = state.limit else {
            return;
        };
        if state.cooling > 0 {
            return;
        }
        state.since_growth += 1;
        if state.since_growth >= limit {
            state.since_growth = 0;
            state.limit = (limit + 1 < Self::OPEN).then_some(limit + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_window_halves_on_a_throttle_and_grows_back_one_per_round() {
        let window = Window::default();
        // Open: as many in flight as asked for.
        let slots: Vec<Slot<'_>> =
            futures_util::future::join_all((0..8).map(|_| window.acquire())).await;
        window.throttled();
        assert_eq!(window.lock().limit, Some(4));
        drop(slots);
        // Narrowed: a fifth waits while four are in flight.
        let four: Vec<Slot<'_>> =
            futures_util::future::join_all((0..4).map(|_| window.acquire())).await;
        let fifth = tokio::time::timeout(Duration::from_millis(20), window.acquire()).await;
        assert!(
            fifth.is_err(),
            "a fifth request went out in a window of four"
        );
        drop(four);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), window.acquire())
                .await
                .is_ok()
        );
        // It grows by one after as many answers as it allows, and opens past OPEN.
        for _ in 0..4 {
            window.answered();
        }
        assert_eq!(window.lock().limit, Some(5));
        for _ in 0..(Window::OPEN * Window::OPEN) {
            window.answered();
        }
        assert_eq!(window.lock().limit, None);
        assert_eq!(window.lock().narrowest, Some(4));
    }
}
