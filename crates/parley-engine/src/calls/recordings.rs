//! Recording files: downloaded from Twilio into the data directory, served to signed-in
//! users, deleted after the retention period. Each node keeps its own files: a node asked
//! for a recording it does not have downloads it from Twilio first.
use super::CallError;
use crate::events::LiveEvent;
use crate::Engine;
use parley_store::RecordingUpdate;
use std::path::PathBuf;
use std::time::SystemTime;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("writing the recording failed: {0}")]
    Io(#[from] std::io::Error),
}

impl Engine {
    pub(crate) async fn download_recording(
        &self,
        call_id: i64,
        mut update: RecordingUpdate,
    ) -> Result<(), RecordingError> {
        let bytes = self
            .telephony
            .twilio
            .download_recording_wav(&update.recording_sid)
            .await
            .map_err(CallError::from)?;
        crate::private_files::create_private_dir_async(&self.recordings_dir()).await?;
        let path = self.recording_path(call_id, &update.recording_sid);
        // Write then rename, so a half-written file is never served. Only Parley's user
        // may read it: it is someone's voice.
        let partial = path.with_extension("wav.partial");
        crate::private_files::write_private_file(&partial, &bytes).await?;
        tokio::fs::rename(&partial, &path).await?;
        update.path = Some(path.to_string_lossy().into_owned());
        update.content_type = Some("audio/wav".into());
        update.size_bytes = Some(bytes.len() as i64);
        self.store
            .upsert_recording(call_id, &update)
            .await
            .map_err(CallError::from)?;
        tracing::info!(call_id, bytes = bytes.len(), "recording stored");
        self.publish(LiveEvent::RecordingReady { call_id });
        Ok(())
    }
}

impl Engine {
    /// Where this node keeps a recording's file.
    fn recording_path(&self, call_id: i64, recording_sid: &str) -> PathBuf {
        self.recordings_dir()
            .join(format!("{call_id}-{recording_sid}.wav"))
    }

    /// The file of a call's newest completed recording on this node, downloaded from
    /// Twilio first when this node does not have it (another node stored it).
    pub async fn local_recording(&self, call_id: i64) -> Result<PathBuf, RecordingError> {
        let (recording_sid, stored) = self
            .store
            .recording_file(call_id)
            .await
            .map_err(CallError::from)?;
        if let Some(stored) = stored.map(PathBuf::from) {
            if tokio::fs::try_exists(&stored).await.unwrap_or(false) {
                return Ok(stored);
            }
        }
        let path = self.recording_path(call_id, &recording_sid);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            let update = RecordingUpdate {
                recording_sid,
                status: "completed".into(),
                path: None,
                content_type: None,
                channels: None,
                duration_seconds: None,
                size_bytes: None,
            };
            self.download_recording(call_id, update).await?;
        }
        Ok(path)
    }

    /// Deletes this node's recording files that are older than `before` or whose
    /// recording the database no longer keeps (another node's retention pass deleted it,
    /// or this copy was fetched late). Returns how many files went.
    pub async fn delete_local_recordings_before(
        &self,
        before: SystemTime,
    ) -> Result<usize, RecordingError> {
        let mut entries = match tokio::fs::read_dir(self.recordings_dir()).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut deleted = 0;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            // `{call_id}-{recording_sid}.wav`; a `.wav.partial` is a download in flight.
            let sid = name
                .strip_suffix(".wav")
                .and_then(|stem| stem.split_once('-'))
                .map(|(_, sid)| sid.to_owned());
            let old = entry.metadata().await?.modified()? < before;
            let dropped = match &sid {
                Some(sid) => !self
                    .store
                    .recording_kept(sid)
                    .await
                    .map_err(CallError::from)?,
                None => false,
            };
            if old || dropped {
                tokio::fs::remove_file(entry.path()).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

/// How far back a recording whose download never happened is still fetched.
const FETCH_MISSING_WITHIN_MS: i64 = 24 * 3_600_000;

impl Engine {
    /// Downloads the completed recordings that have no file yet and were created before
    /// `before` (and in the last day); returns how many were stored. A download lost to
    /// a crash or a failed request is so fetched again rather than lost.
    pub async fn fetch_missing_recordings(&self, before: i64) -> Result<usize, RecordingError> {
        let since = parley_domain::time::now_millis() - FETCH_MISSING_WITHIN_MS;
        let missing = self
            .store
            .recordings_without_file(since, before, 50)
            .await
            .map_err(CallError::from)?;
        let mut stored = 0;
        for (call_id, update) in missing {
            match self.download_recording(call_id, update).await {
                Ok(()) => stored += 1,
                Err(e) => tracing::warn!(call_id, error = %e, "recording download failed again"),
            }
        }
        Ok(stored)
    }

    /// Deletes stored recordings created before `before` (UTC millis); returns how many.
    pub async fn delete_recordings_before(&self, before: i64) -> Result<usize, RecordingError> {
        let old = self
            .store
            .recordings_created_before(before, 500)
            .await
            .map_err(CallError::from)?;
        let mut deleted = 0;
        for (id, path) in old {
            if !path.is_empty() {
                if let Err(e) = tokio::fs::remove_file(&path).await {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(recording_id = id, error = %e, "deleting recording failed");
                        continue;
                    }
                }
            }
            self.store
                .mark_recording_deleted(id)
                .await
                .map_err(CallError::from)?;
            deleted += 1;
        }
        Ok(deleted)
    }
}
