//! Recording files: downloaded from Twilio into the data directory, served to signed-in
//! users, deleted after the retention period.
use super::CallError;
use crate::events::LiveEvent;
use crate::Engine;
use parley_store::RecordingUpdate;

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
        let dir = self.recordings_dir();
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{call_id}-{}.wav", update.recording_sid));
        // Write then rename, so a half-written file is never served.
        let partial = path.with_extension("wav.partial");
        tokio::fs::write(&partial, &bytes).await?;
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
