//! The state every handler shares.

use std::{ops::Deref, sync::Arc};

use atelier_platform::Platform;

use crate::{config::ServerConfig, realtime::fanout::Realtime};

/// Shared handler state; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(pub Arc<App>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct App {
    /// The platform: database, store, jobs.
    pub platform: Platform,
    /// The server's own settings.
    pub config: ServerConfig,
    /// The Pusher-protocol real-time server of this node.
    pub realtime: std::sync::Arc<Realtime>,
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
