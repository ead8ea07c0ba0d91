//! A message removed from its store but still in the search index (a crash between the two)
//! is taken out of the index by the catch-up, so a search never meets a message that is gone.

use arkiv_archive::access::Caller;
use arkiv_archive::search::SearchQuery;
use arkiv_archive::{Archive, Assignment, Config, ImportOptions, InitOptions};
use arkiv_sources::{SourceKind, SourceOptions};
use arkiv_types::{FolderPath, StoreId};

#[test]
fn a_deleted_message_left_in_the_index_is_removed_by_the_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    for i in 0..5 {
        std::fs::write(
            mail.join(format!("{i}.eml")),
            format!("Subject: quartz {i}\n\nbody\n"),
        )
        .unwrap();
    }
    let (archive, _) = Archive::init(
        &dir.path().join("data"),
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
            folder: FolderPath::root(),
        },
        source_id: source.source_id(),
        workers: 1,
        index: true,
        present: Vec::new(),
        sent_folders: Vec::new(),
    };
    let r = archive.import(source, &opts, &mut |_| {}).unwrap();
    assert_eq!(r.indexed, 5);
    let q = SearchQuery {
        text: "quartz".into(),
        limit: 50,
        ..Default::default()
    };
    assert_eq!(archive.search(&Caller::operator(), &q).unwrap().total, 5);

    // Removed from the store, the index not told (as if the process died in between).
    let store = archive.store(StoreId(1)).unwrap();
    let mut s = store.write().unwrap();
    s.remove_message(3).unwrap();
    s.commit().unwrap();

    assert_eq!(archive.catch_up_index(&mut |_| {}).unwrap(), 1);
    let page = archive.search(&Caller::operator(), &q).unwrap();
    assert_eq!(page.total, 4);
    assert!(page.hits.iter().all(|h| h.id != "1:3"));
}
