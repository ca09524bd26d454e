//! Load-once cells keyed by name: the map's lock is held only to find or add a cell, never across
//! a load, so loading one model never blocks users of another; a failed load leaves the cell
//! empty and the next caller tries again.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
};

use tokio::sync::OnceCell;

/// One lazily filled cell per name.
#[derive(Debug)]
pub struct NamedCells<T> {
    cells: Mutex<HashMap<String, Arc<OnceCell<Arc<T>>>>>,
}

impl<T> Default for NamedCells<T> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> NamedCells<T> {
    /// The value named `name`, loading it with `load` if no caller has yet; concurrent callers for
    /// the same name wait for one load.
    pub async fn get_or_load<E, F, Fut>(&self, name: &str, load: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            cells.entry(name.to_owned()).or_default().clone()
        };
        cell.get_or_try_init(|| async { load().await.map(Arc::new) })
            .await
            .cloned()
    }

    /// Names with a loaded value.
    pub fn loaded(&self) -> Vec<String> {
        let cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = cells
            .iter()
            .filter(|(_, cell)| cell.initialized())
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn each_name_loads_once_and_a_slow_load_does_not_block_another_name() {
        let cells: Arc<NamedCells<String>> = Arc::default();
        let loads = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let (cells, loads) = (cells.clone(), loads.clone());
            tokio::spawn(async move {
                cells
                    .get_or_load("slow", || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        let _ = release_rx.await;
                        Ok::<_, ()>("slow".to_owned())
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Another name loads while "slow" is still loading.
        let fast = tokio::time::timeout(
            Duration::from_secs(2),
            cells.get_or_load("fast", || async { Ok::<_, ()>("fast".to_owned()) }),
        )
        .await
        .expect("not blocked by the slow load");
        assert_eq!(fast.as_deref().map(String::as_str), Ok("fast"));
        let _ = release_tx.send(());
        assert_eq!(
            slow.await.expect("join").map(|v| v.to_string()),
            Ok("slow".to_owned())
        );
        let again = cells
            .get_or_load("slow", || async { Err::<String, ()>(()) })
            .await;
        assert_eq!(
            again.map(|v| v.to_string()),
            Ok("slow".to_owned()),
            "not loaded twice"
        );
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(cells.loaded(), vec!["fast".to_owned(), "slow".to_owned()]);
    }

    #[tokio::test]
    async fn a_failed_load_is_retried() {
        let cells: NamedCells<u32> = NamedCells::default();
        assert_eq!(
            cells
                .get_or_load("m", || async { Err::<u32, &str>("no") })
                .await,
            Err("no")
        );
        assert_eq!(
            *cells
                .get_or_load("m", || async { Ok::<u32, &str>(7) })
                .await
                .expect("ok"),
            7
        );
    }
}
