//! Keyset pagination: newest first, by id. The cursor is the last id a page returned.
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Return items with an id below this one.
    pub before_id: Option<i64>,
    pub limit: u32,
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 500;

    pub fn first(limit: u32) -> PageRequest {
        PageRequest {
            before_id: None,
            limit,
        }
    }

    /// The clamped limit plus one: the extra row tells whether another page exists.
    pub(crate) fn fetch_limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, Self::MAX_LIMIT)) + 1
    }

    pub(crate) fn cursor_id(&self) -> i64 {
        self.before_id.unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `before_id` to get the next page; `None` on the last page.
    pub next_before_id: Option<i64>,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `fetch_limit()`, dropping the look-ahead row.
    pub(crate) fn from_rows(mut rows: Vec<T>, req: &PageRequest, id: impl Fn(&T) -> i64) -> Self {
        let limit = req.limit.clamp(1, PageRequest::MAX_LIMIT) as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_before_id = if more { rows.last().map(&id) } else { None };
        Page {
            items: rows,
            next_before_id,
        }
    }

    /// Converts each item, failing on the first that does not convert.
    pub(crate) fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            next_before_id: self.next_before_id,
        })
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_before_id: self.next_before_id,
        }
    }
}
