//! The object store: a local folder (embedded) or any S3-compatible service (scaled out), behind
//! `object_store`. Blobs are named by their content hash, so storing the same bytes twice is free.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures::StreamExt;
use object_store::{
    ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart,
    aws::{AmazonS3, AmazonS3Builder},
    local::LocalFileSystem,
    path::Path as ObjectPath,
    prefix::PrefixStore,
    signer::{Method, Signer},
};
use tokio::io::AsyncReadExt;

use crate::error::{PlatformError, PlatformResult};

/// Where objects live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageLocation {
    /// A folder on this machine.
    Local {
        /// The folder (created when missing).
        root: std::path::PathBuf,
    },
    /// An S3-compatible bucket.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket (may be empty).
        prefix: String,
        /// Endpoint URL for non-AWS services (MinIO, Garage, Ceph, moto…); `None` for AWS.
        endpoint: Option<String>,
        /// Region (default `us-east-1`).
        region: String,
        /// Whether plain `http://` endpoints are allowed.
        allow_http: bool,
    },
}

impl StorageLocation {
    /// Parses `--storage`: a folder path, `file:///path`, or
    /// `s3://bucket[/prefix][?endpoint=URL&region=R&allow_http=true]`. S3 credentials come from the
    /// usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` environment variables.
    pub fn parse(spec: &str) -> PlatformResult<Self> {
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
            if bucket.is_empty() {
                return Err(PlatformError::Invalid(format!(
                    "no bucket in storage URL {spec:?}"
                )));
            }
            let mut location = StorageLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
                endpoint: None,
                region: "us-east-1".to_owned(),
                allow_http: false,
            };
            if let StorageLocation::S3 {
                endpoint,
                region,
                allow_http,
                ..
            } = &mut location
            {
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let value = percent_decode(value);
                    match key {
                        "endpoint" => *endpoint = Some(value),
                        "region" => *region = value,
                        "allow_http" => *allow_http = value == "true" || value == "1",
                        other => {
                            return Err(PlatformError::Invalid(format!(
                                "unknown storage option {other:?} (known: endpoint, region, allow_http)"
                            )));
                        }
                    }
                }
            }
            return Ok(location);
        }
        let path = spec.strip_prefix("file://").unwrap_or(spec);
        if path.is_empty() || spec.contains("://") && !spec.starts_with("file://") {
            return Err(PlatformError::Invalid(format!(
                "unsupported storage {spec:?}: use a folder path, file:///path or s3://bucket/prefix"
            )));
        }
        Ok(StorageLocation::Local { root: path.into() })
    }
}

/// Decodes `%XX` escapes (for endpoint URLs written inside a storage URL).
fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// The object store atelier writes blobs to.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    s3: Option<(Arc<AmazonS3>, String)>,
    /// The folder of a local store, whose writes are synced to disk before they count.
    local_root: Option<std::path::PathBuf>,
    description: String,
    /// What to tell clients (`/readyz`): the kind of store, never a filesystem path.
    public_description: String,
}

/// Parts larger than this go up as multipart uploads.
const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;

impl Storage {
    /// Opens the store at `location`.
    pub fn open(location: &StorageLocation) -> PlatformResult<Self> {
        match location {
            StorageLocation::Local { root } => {
                std::fs::create_dir_all(root).map_err(|err| {
                    PlatformError::Invalid(format!(
                        "cannot create storage folder {}: {err}",
                        root.display()
                    ))
                })?;
                let store = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
                Ok(Storage {
                    store: Arc::new(store),
                    s3: None,
                    local_root: Some(root.clone()),
                    description: format!("local folder {}", root.display()),
                    public_description: "local folder".to_owned(),
                })
            }
            StorageLocation::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                allow_http,
            } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_allow_http(*allow_http);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                let s3 = Arc::new(builder.build()?);
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    s3.clone()
                } else {
                    Arc::new(PrefixStore::new(s3.clone(), prefix.as_str()))
                };
                Ok(Storage {
                    store,
                    s3: Some((s3, prefix.clone())),
                    local_root: None,
                    public_description: "s3".to_owned(),
                    description: format!(
                        "s3 bucket {bucket}{}{}",
                        if prefix.is_empty() { "" } else { "/" },
                        prefix
                    ),
                })
            }
        }
    }

    /// A human description for logs (names the folder or bucket).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// What kind of store this is, for answers to clients (`/readyz`): no paths.
    pub fn public_description(&self) -> &str {
        &self.public_description
    }

    /// Makes a write to a local folder durable: syncs the file, then every folder from its own
    /// up to the store's root (a new shard folder's entry must survive too). Acknowledged
    /// means durable: a row never points to a blob a power cut could take back. S3 stores
    /// acknowledge a PUT only once it is durable.
    async fn sync_local(&self, key: &ObjectPath) -> PlatformResult<()> {
        let Some(root) = self.local_root.clone() else {
            return Ok(());
        };
        let path = root.join(key.as_ref());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&path)?.sync_all()?;
            let mut dir = path.parent();
            while let Some(folder) = dir {
                std::fs::File::open(folder)?.sync_all()?;
                if folder == root {
                    break;
                }
                dir = folder.parent();
            }
            Ok(())
        })
        .await??;
        Ok(())
    }

    /// Whether presigned S3 URLs can be made.
    pub fn can_presign(&self) -> bool {
        self.s3.is_some()
    }

    /// The key of a content-addressed blob.
    pub fn blob_key(sha256: &str) -> ObjectPath {
        let shard = sha256.get(..2).unwrap_or("00");
        ObjectPath::from(format!("blobs/{shard}/{sha256}"))
    }

    /// Stores `bytes` at `key`.
    pub async fn put_bytes(&self, key: &ObjectPath, bytes: Bytes) -> PlatformResult<()> {
        self.store.put(key, PutPayload::from_bytes(bytes)).await?;
        self.sync_local(key).await
    }

    /// Stores a local file at `key`, as a multipart upload when it is large.
    pub async fn put_file(&self, key: &ObjectPath, file: &std::path::Path) -> PlatformResult<()> {
        let size = tokio::fs::metadata(file).await?.len();
        if size <= MULTIPART_THRESHOLD {
            let bytes = tokio::fs::read(file).await?;
            return self.put_bytes(key, Bytes::from(bytes)).await;
        }
        let upload = self.store.put_multipart(key).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut source = tokio::fs::File::open(file).await?;
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            let n = match source.read(&mut buf).await {
                Ok(n) => n,
                Err(err) => {
                    let _ = writer.abort().await;
                    return Err(err.into());
                }
            };
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        self.sync_local(key).await
    }

    /// Reads a whole object. A missing object is [`PlatformError::NotFound`].
    pub async fn get_bytes(&self, key: &ObjectPath) -> PlatformResult<Bytes> {
        match self.store.get(key).await {
            Ok(result) => Ok(result.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(PlatformError::NotFound("object")),
            Err(err) => Err(err.into()),
        }
    }

    /// Streams an object: its size and its chunks.
    pub async fn get_stream(
        &self,
        key: &ObjectPath,
    ) -> PlatformResult<(
        u64,
        futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>,
    )> {
        match self.store.get(key).await {
            Ok(result) => {
                let size = result.meta.size;
                let stream = result
                    .into_stream()
                    .map(|chunk| chunk.map_err(std::io::Error::other))
                    .boxed();
                Ok((size, stream))
            }
            Err(object_store::Error::NotFound { .. }) => Err(PlatformError::NotFound("object")),
            Err(err) => Err(err.into()),
        }
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &ObjectPath) -> PlatformResult<bool> {
        match self.store.head(key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes an object; deleting a missing object is not an error.
    pub async fn delete(&self, key: &ObjectPath) -> PlatformResult<()> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Every key under `prefix` (e.g. `blobs/`), for maintenance and tests.
    pub async fn list_keys(&self, prefix: &str) -> PlatformResult<Vec<String>> {
        let prefix = ObjectPath::from(prefix);
        let mut keys = Vec::new();
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            keys.push(meta?.location.to_string());
        }
        Ok(keys)
    }

    /// Every object under `prefix` with its last-modified time (Unix milliseconds), for the
    /// blob collector.
    pub async fn list_objects(&self, prefix: &str) -> PlatformResult<Vec<(String, i64)>> {
        let prefix = ObjectPath::from(prefix);
        let mut objects = Vec::new();
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            objects.push((
                meta.location.to_string(),
                meta.last_modified.timestamp_millis(),
            ));
        }
        Ok(objects)
    }

    /// Checks that the store answers (a HEAD of a key that need not exist).
    pub async fn ping(&self) -> PlatformResult<()> {
        self.exists(&ObjectPath::from("readyz-probe"))
            .await
            .map(|_| ())
    }

    /// A presigned S3 GET URL for `key`, valid for `expires_in`; `None` for local folders.
    pub async fn presigned_get(
        &self,
        key: &ObjectPath,
        expires_in: Duration,
    ) -> PlatformResult<Option<String>> {
        let Some((s3, prefix)) = &self.s3 else {
            return Ok(None);
        };
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            ObjectPath::from(format!("{prefix}/{key}"))
        };
        let url = s3.signed_url(Method::GET, &full, expires_in).await?;
        Ok(Some(url.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_is_a_local_folder() {
        assert_eq!(
            StorageLocation::parse("./data/objects").expect("parse"),
            StorageLocation::Local {
                root: "./data/objects".into()
            }
        );
        assert_eq!(
            StorageLocation::parse("file:///srv/atelier").expect("parse"),
            StorageLocation::Local {
                root: "/srv/atelier".into()
            }
        );
    }

    #[test]
    fn an_s3_url_carries_bucket_prefix_and_options() {
        let parsed = StorageLocation::parse(
            "s3://media/atelier/prod?endpoint=http%3A%2F%2F127.0.0.1%3A9000&allow_http=true&region=eu-west-1",
        )
        .expect("parse");
        assert_eq!(
            parsed,
            StorageLocation::S3 {
                bucket: "media".into(),
                prefix: "atelier/prod".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: "eu-west-1".into(),
                allow_http: true,
            }
        );
    }

    #[test]
    fn unknown_schemes_and_options_are_refused() {
        assert!(StorageLocation::parse("gs://bucket").is_err());
        assert!(StorageLocation::parse("s3://bucket?colour=blue").is_err());
        assert!(StorageLocation::parse("s3://").is_err());
    }

    #[test]
    fn blob_keys_are_sharded_by_hash_prefix() {
        assert_eq!(Storage::blob_key("abcdef").as_ref(), "blobs/ab/abcdef");
    }
}
