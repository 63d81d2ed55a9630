//! Downloads: `GET /attachment/{sys_id}/file` streams an attachment's chunks in order, a few
//! at a time, 16 chunks (1 MiB) a read, with `Content-Length` from its metadata, so a client sees
//! a cut-short body (not a wrong file) if the attachment is deleted while it downloads.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

use super::{describe, find_visible};
use crate::auth::Caller;
use crate::domain::attachments;
use crate::http::{ApiError, BaseUrl, ErrorEnvelope};
use crate::model::value::Value;
use crate::state::AppState;
use crate::storage::Storage;

/// Download an attachment's file.
#[utoipa::path(
    get,
    path = "/attachment/{sys_id}/file",
    tag = "Attachment API",
    params(("sys_id" = String, Path, description = "The attachment's sys_id")),
    responses(
        (status = 200, description = "The file, with its type as `Content-Type`", content_type = "*/*", body = Vec<u8>,
         headers(("X-Attachment-Metadata" = String, description = "The attachment's metadata, as JSON"))),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 404, description = "No such attachment, or the caller may not read its record's table", body = ErrorEnvelope),
    )
)]
pub(super) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(sys_id): Path<String>,
) -> Result<Response, ApiError> {
    let attachment = find_visible(&*state.store, &caller, &sys_id).await?;
    let size = match attachment.get("size_bytes") {
        Value::Int(size) => u64::try_from(*size).unwrap_or_default(),
        _ => 0,
    };
    let content_type = attachment
        .str("content_type")
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let metadata = describe(&*state.store, &base, std::slice::from_ref(&attachment)).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Some(metadata) = metadata.first()
        && let Ok(value) = HeaderValue::from_str(&ascii_json(metadata))
    {
        headers.insert("x-attachment-metadata", value);
    }
    let (send, receive) = mpsc::channel(CHUNKS_PER_READ as usize);
    tokio::spawn(send_chunks(state.store.clone(), sys_id, size, send));
    let body = axum::body::Body::new(ChunkBody {
        chunks: receive,
        remaining: size,
    });
    Ok((StatusCode::OK, headers, body).into_response())
}

/// JSON with every character outside printable ASCII escaped (`\uXXXX`), as a header holds it.
fn ascii_json(value: &serde_json::Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Chunks read at once: 16 of 64 KiB, a round trip to the database per MiB.
const CHUNKS_PER_READ: u64 = 16;

/// Reads the chunks of `attachment` in order and sends them, until `size` bytes are sent or the
/// client stops reading. A chunk missing or failing to read ends the body with an error.
async fn send_chunks(
    store: std::sync::Arc<dyn Storage>,
    attachment: String,
    size: u64,
    send: mpsc::Sender<std::io::Result<Bytes>>,
) {
    let mut sent = 0u64;
    let mut position = 0i64;
    while sent < size {
        let chunks = match attachments::chunks(&*store, &attachment, position, CHUNKS_PER_READ)
            .await
        {
            Ok(chunks) if !chunks.is_empty() => chunks,
            Ok(_) => {
                let missing = format!("attachment {attachment} has no chunk {position}");
                tracing::warn!(%attachment, position, "attachment content ends early");
                let _ = send.send(Err(std::io::Error::other(missing))).await;
                return;
            }
            Err(e) => {
                tracing::error!(%attachment, position, error = %e, "reading attachment content failed");
                let _ = send.send(Err(std::io::Error::other(e.to_string()))).await;
                return;
            }
        };
        for chunk in chunks {
            sent += chunk.len() as u64;
            position += 1;
            if send.send(Ok(Bytes::from(chunk))).await.is_err() {
                return; // The client went away.
            }
        }
    }
}

/// A response body fed chunk by chunk from [`send_chunks`].
struct ChunkBody {
    chunks: mpsc::Receiver<std::io::Result<Bytes>>,
    remaining: u64,
}

impl http_body::Body for ChunkBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.chunks.poll_recv(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_in_a_header_is_printable_ascii_json() {
        let value = serde_json::json!({"file_name": "résumé 😀.pdf"});
        let text = ascii_json(&value);
        assert!(text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
    }
}
