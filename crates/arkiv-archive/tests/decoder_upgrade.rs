//! Mail archived by an older charset decoder (issue 14): its index is marked "please
//! rebuild", and the rebuild reads the stored bytes again, so the message is found and shown
//! as the current decoder reads it.

use arkiv_archive::access::Caller;
use arkiv_archive::search::SearchQuery;
use arkiv_archive::{Archive, Assignment, Config, ImportOptions, InitOptions};
use arkiv_sources::{SourceKind, SourceOptions};
use arkiv_types::{FolderPath, StoreId};

/// "パッケージに含まれる新しい機能について" in ISO-2022-JP, as CPython's email package writes it;
/// the body says "来週の会議では".
const MAIL: &[u8] = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: =?iso-2022-jp?b?GyRCJVElQyUxITwlOCRLNF4kXiRsJGs/NyQ3JCQ1IUc9JEskRCQkJEYbKEI=?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"iso-2022-jp\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\x1b$BMh=5$N2q5D$G$O\x1b(B\r\n";

fn search(archive: &Archive, text: &str) -> usize {
    archive
        .search(
            &Caller::operator(),
            &SearchQuery {
                text: text.into(),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap()
        .total
}

#[test]
fn an_older_decoders_index_is_rebuilt_and_its_records_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    std::fs::write(mail.join("1.eml"), MAIL).unwrap();
    let data = dir.path().join("data");
    let (archive, _) = Archive::init(
        &data,
        InitOptions {
            admin_password: "Quartz-Pass-2026".into(),
            config: Config::default(),
            key_file: None,
        },
    )
    .unwrap();
    let source = arkiv_sources::open(SourceKind::Eml, &mail, &SourceOptions::default()).unwrap();
    let opts = ImportOptions {
        assignment: Assignment::Single {
            user: "admin".into(),
            folder: FolderPath::parse("Inbox"),
        },
        source_id: source.source_id(),
        workers: 1,
        index: true,
        present: Vec::new(),
        sent_folders: Vec::new(),
    };
    assert_eq!(
        archive.import(source, &opts, &mut |_| {}).unwrap().archived,
        1
    );
    assert_eq!(search(&archive, "subject:機能"), 1);
    assert_eq!(archive.indexes().unwrap()[0].status, "ok");

    // As the first decoder left it: the subject as escape text, an index without the word.
    let store = archive.store(StoreId(1)).unwrap();
    let mut old = store.message(1).unwrap().summary;
    old.subject = Some(" $B%Q%C%1!<%8$K4^ (B".into());
    let mut w = store.write().unwrap();
    assert!(w.refresh_summary(1, &old, None).unwrap());
    w.commit().unwrap();
    let rec = store.message(1).unwrap();
    let index = archive.index_of(&store).unwrap();
    index.delete(1).unwrap();
    index
        .add(&[arkiv_index::IndexDoc {
            num: 1,
            folder: rec.folder.0,
            subject: old.subject.clone().unwrap(),
            ..Default::default()
        }])
        .unwrap();
    index.commit().unwrap();
    // An index from before the decoder version was recorded.
    std::fs::remove_file(store.dirs().meta.join("index").join("text")).unwrap();
    assert_eq!(
        search(&archive, "subject:機能"),
        0,
        "the old index misses it"
    );

    let info = &archive.indexes().unwrap()[0];
    assert_eq!(info.status, "please rebuild");
    let why = info.rebuild_reason.as_deref().unwrap();
    assert!(why.contains("decoder 1"), "{why}");

    archive.reindex(Some(StoreId(1)), &mut |_, _| {}).unwrap();
    assert_eq!(archive.indexes().unwrap()[0].status, "ok");
    assert_eq!(search(&archive, "subject:機能"), 1);
    assert_eq!(search(&archive, "会議"), 1);
    let rec = store.message(1).unwrap();
    assert_eq!(
        rec.summary.subject.as_deref(),
        Some("パッケージに含まれる新しい機能について"),
        "the record shows what the index finds"
    );
}
