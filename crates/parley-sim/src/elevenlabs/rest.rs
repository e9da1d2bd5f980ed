//! Conversations REST (reference H.1, H.2).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use parley_audio::pcm;
use parley_audio::wav::{self, WavFormat, WavSpec};
use parley_elevenlabs::conversation::ConversationStatus;

use super::error::ApiError;
use super::record::{Segment, Speaker};
use super::{authorize, ElevenLabsSim};
use crate::voice;

/// Longest recording served; a longer call is cut (bounds the memory of one request).
const MAX_RECORDING: Duration = Duration::from_secs(30 * 60);
/// The reference documents MP3 (`audio/mpeg`); the body is a WAV (no MP3 encoder here),
/// which players and `parley-audio` sniff correctly.
const AUDIO_CONTENT_TYPE: &str = "audio/mpeg";

/// `GET /v1/convai/conversations/{conversation_id}`
pub(crate) async fn get_conversation(
    State(sim): State<ElevenLabsSim>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&sim.inner.config, &headers)?;
    let conversation = sim
        .inner
        .store
        .read(&conversation_id, |r| r.to_conversation())
        .ok_or(ApiError::ConversationNotFound)?;
    Ok(Json(conversation).into_response())
}

/// `GET /v1/convai/conversations/{conversation_id}/audio`: both sides as a stereo
/// 8 kHz recording, callee left, agent right.
pub(crate) async fn get_conversation_audio(
    State(sim): State<ElevenLabsSim>,
    headers: HeaderMap,
    Path(conversation_id): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&sim.inner.config, &headers)?;
    let (status, length, segments) = sim
        .inner
        .store
        .read(&conversation_id, |r| {
            (r.summary.status.clone(), r.elapsed(), r.segments.clone())
        })
        .ok_or(ApiError::ConversationNotFound)?;
    if status != ConversationStatus::Done {
        return Err(ApiError::NotReady);
    }
    let bytes = tokio::task::spawn_blocking(move || render(length, &segments))
        .await
        .map_err(|_| ApiError::Recording)?
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot render conversation audio");
            ApiError::Recording
        })?;
    Ok(([(header::CONTENT_TYPE, AUDIO_CONTENT_TYPE)], bytes).into_response())
}

/// Re-synthesises the conversation from its speech segments.
pub(crate) fn render(length: Duration, segments: &[Segment]) -> Result<Vec<u8>, wav::WavError> {
    let rate = voice::SAMPLE_RATE;
    let frames = samples_in(length.min(MAX_RECORDING), rate);
    let (mut user, mut agent) = (vec![0i16; frames], vec![0i16; frames]);
    for segment in segments {
        let track = match segment.speaker {
            Speaker::User => &mut user,
            Speaker::Agent => &mut agent,
        };
        let start = samples_in(segment.start, rate).min(frames);
        let ms = u64::try_from(segment.length.as_millis()).unwrap_or(u64::MAX);
        let tone = voice::tone(segment.hz, ms.min(60_000), rate);
        let end = (start + tone.len()).min(frames);
        track[start..end].copy_from_slice(&tone[..end - start]);
    }
    let mut data = Vec::with_capacity(frames * 4);
    pcm::samples_to_le_bytes(&wav::interleave(&user, &agent), &mut data);
    let spec = WavSpec {
        format: WavFormat::Pcm16,
        channels: 2,
        sample_rate: rate,
    };
    wav::encode(spec, &data)
}

fn samples_in(length: Duration, rate: u32) -> usize {
    usize::try_from(length.as_millis() * u128::from(rate) / 1000).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_has_each_side_on_its_channel() {
        let segments = [
            Segment {
                speaker: Speaker::Agent,
                start: Duration::ZERO,
                length: Duration::from_millis(200),
                hz: voice::AGENT_VOICE_HZ,
            },
            Segment {
                speaker: Speaker::User,
                start: Duration::from_millis(300),
                length: Duration::from_millis(200),
                hz: 400,
            },
        ];
        let bytes = render(Duration::from_millis(600), &segments).unwrap();
        let decoded = wav::decode(&bytes).unwrap();
        assert_eq!(decoded.spec.channels, 2);
        assert_eq!(decoded.frames(), 4800);
        let (user, agent) = (decoded.channel_samples(0), decoded.channel_samples(1));
        let agent_hz = voice::frequency(&agent[..1600], 8000).unwrap();
        assert!((agent_hz - voice::AGENT_VOICE_HZ as f32).abs() < 30.0);
        assert!(voice::frequency(&user[..1600], 8000).is_none());
        let user_hz = voice::frequency(&user[2400..4000], 8000).unwrap();
        assert!((user_hz - 400.0).abs() < 30.0);
    }
}
