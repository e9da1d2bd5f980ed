//! CSV exports as a stream of chunks: the header, then one chunk per page of rows.
use super::{Cell, ExportError, Rows};
use bytes::Bytes;
use futures::Stream;

/// The header record.
pub fn header_bytes(header: &[String]) -> Result<Bytes, ExportError> {
    let mut writer = ::csv::WriterBuilder::new().from_writer(Vec::new());
    writer
        .write_record(header)
        .map_err(|e| ExportError::Csv(e.to_string()))?;
    let buf = writer
        .into_inner()
        .map_err(|e| ExportError::Csv(e.to_string()))?;
    Ok(Bytes::from(buf))
}

/// One page of records.
pub fn page_bytes(page: &[Vec<Cell>]) -> Result<Bytes, ExportError> {
    let mut writer = ::csv::WriterBuilder::new().from_writer(Vec::with_capacity(64 * 1024));
    for row in page {
        for cell in row {
            writer
                .write_field(cell.to_csv().as_bytes())
                .map_err(|e| ExportError::Csv(e.to_string()))?;
        }
        // An empty record ends the one the fields were written into.
        writer
            .write_record(std::iter::empty::<&[u8]>())
            .map_err(|e| ExportError::Csv(e.to_string()))?;
    }
    let buf = writer
        .into_inner()
        .map_err(|e| ExportError::Csv(e.to_string()))?;
    Ok(Bytes::from(buf))
}

/// The export as CSV chunks, read from the database one page at a time as the consumer
/// asks for more: a slow client holds back the reads instead of buffering rows.
pub fn csv_stream(rows: Rows) -> impl Stream<Item = Result<Bytes, ExportError>> + Send {
    futures::stream::try_unfold((rows, false), |(mut rows, header_sent)| async move {
        if !header_sent {
            let header = header_bytes(rows.header())?;
            return Ok(Some((header, (rows, true))));
        }
        match rows.next_page().await? {
            Some(page) => {
                // Encoding a page is CPU work: off the async workers that carry calls.
                let bytes = tokio::task::spawn_blocking(move || page_bytes(&page))
                    .await
                    .map_err(|e| ExportError::Task(e.to_string()))??;
                Ok(Some((bytes, (rows, true))))
            }
            None => Ok(None),
        }
    })
}
