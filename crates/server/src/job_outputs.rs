//! Signed links to the files a job produced, the same for every route that shows a job's
//! results (animations, 3D photos, …). An output deleted since (a `DELETE` on the job) is
//! skipped, never an error.

use std::collections::BTreeMap;

use atelier_platform::{PlatformError, jobs::Job, uploads};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{error::ApiResult, state::AppState};

/// A file a job produced, with a link to download it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutputLink {
    /// The output's upload id.
    pub upload_id: String,
    /// `gif`, `mp4`, `glb`, `png`…
    pub kind: String,
    /// Its media type.
    pub content_type: String,
    /// Expiring signed download link.
    pub url: String,
}

/// Links to every stored output of `job` (owned by `owner_id`), by role.
pub async fn signed_links(
    state: &AppState,
    owner_id: i64,
    job: &Job,
) -> ApiResult<BTreeMap<String, OutputLink>> {
    let mut links = BTreeMap::new();
    for (role, upload_id) in job.output_uploads() {
        let upload = match uploads::get_owned(&state.platform, owner_id, &upload_id).await {
            Ok(upload) => upload,
            Err(PlatformError::NotFound(_)) => continue,
            Err(err) => return Err(err.into()),
        };
        let url = state.platform.download_link(&upload).await?;
        links.insert(
            role,
            OutputLink {
                upload_id: upload.id,
                kind: upload.kind,
                content_type: upload.content_type,
                url,
            },
        );
    }
    Ok(links)
}
