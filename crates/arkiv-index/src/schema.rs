//! The index schema and the document Arkiv indexes for each message.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::tokenizer::ANALYZER;

/// What the index knows of one message (derived from the store; rebuildable).
#[derive(Clone, Debug, Default)]
pub struct IndexDoc {
    /// The message number in its store.
    pub num: u64,
    /// The folder (master database id): permission filters and folder scopes use it.
    pub folder: u64,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    /// Text of the body (the text part, or the text of the HTML part).
    pub body: String,
    pub attachment_names: Vec<String>,
    /// Text extracted from attachments (when enabled).
    pub attachment_text: String,
    /// Date header, seconds since the epoch (0 when missing).
    pub date: i64,
    pub archived_at: i64,
    pub size: u64,
    pub has_attachments: bool,
    /// An attachment whose contents should have been indexed could not be read
    /// (`has:unreadable-attachment` finds these messages).
    pub attachment_unread: bool,
    /// 0 low, 1 normal, 2 high.
    pub priority: u64,
}

#[derive(Clone)]
pub(crate) struct Fields {
    pub num: Field,
    pub folder: Field,
    pub subject: Field,
    pub from: Field,
    pub to: Field,
    pub cc: Field,
    pub bcc: Field,
    pub body: Field,
    pub filename: Field,
    pub acontent: Field,
    pub date: Field,
    pub archived: Field,
    pub size: Field,
    pub has_attachment: Field,
    pub unread_attachment: Field,
    pub priority: Field,
    pub subject_sort: Field,
    pub from_sort: Field,
    pub to_sort: Field,
}

pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        num: b.add_u64_field("num", INDEXED | STORED | FAST),
        folder: b.add_u64_field("folder", INDEXED | FAST),
        subject: b.add_text_field("subject", text.clone()),
        from: b.add_text_field("from", text.clone()),
        to: b.add_text_field("to", text.clone()),
        cc: b.add_text_field("cc", text.clone()),
        bcc: b.add_text_field("bcc", text.clone()),
        body: b.add_text_field("bcontent", text.clone()),
        filename: b.add_text_field("filename", text.clone()),
        acontent: b.add_text_field("acontent", text),
        date: b.add_i64_field("date", INDEXED | FAST),
        archived: b.add_i64_field("archived", INDEXED | FAST),
        size: b.add_u64_field("size", INDEXED | FAST),
        has_attachment: b.add_u64_field("has_attachment", INDEXED),
        unread_attachment: b.add_u64_field("unread_attachment", INDEXED),
        priority: b.add_u64_field("priority", INDEXED),
        subject_sort: b.add_text_field("subject_sort", STRING | FAST),
        from_sort: b.add_text_field("from_sort", STRING | FAST),
        to_sort: b.add_text_field("to_sort", STRING | FAST),
    };
    (b.build(), fields)
}
