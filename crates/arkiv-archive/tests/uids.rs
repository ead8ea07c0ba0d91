//! IMAP UIDs of a folder (D3): given in archive order at first sight, higher for mail
//! archived later, kept across a reopen, and never given again once a message left.

use arkiv_archive::{Archive, Assignment, Config, ImportOptions, InitOptions};
use arkiv_sources::{SourceKind, SourceOptions};
use arkiv_types::{FolderPath, MessageId, StoreId};

fn import(archive: &Archive, dir: &std::path::Path, subjects: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, s) in subjects.iter().enumerate() {
        std::fs::write(
            dir.join(format!("{i}.eml")),
            format!("Subject: {s}\n\n{s}\n"),
        )
        .unwrap();
    }
    let source = arkiv_sources::open(SourceKind::Eml, dir, &SourceOptions::default()).unwrap();
    let opts = ImportOptions {
        assignment: Assignment::Single {
            user: "admin".into(),
            folder: FolderPath::parse("Inbox"),
        },
        source_id: source.source_id(),
        workers: 1,
        index: false,
        present: Vec::new(),
        sent_folders: Vec::new(),
    };
    archive.import(source, &opts, &mut |_| {}).unwrap();
}

#[test]
fn uids_are_stable_ascending_and_never_reused() {
    let dir = tempfile::tempdir().unwrap();
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
    import(&archive, &dir.path().join("a"), &["one", "two", "three"]);
    let inbox = archive.folder_by_spec("admin/Inbox").unwrap();
    let v = archive.uid_view(inbox).unwrap();
    assert_eq!(v.messages.len(), 3);
    assert_eq!(
        v.messages.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(v.uid_next, 4);
    // In archive order: the store's own numbers ascend with the UIDs.
    assert!(v.messages.windows(2).all(|w| w[0].1 < w[1].1));
    assert_eq!(
        archive.uid_view(inbox).unwrap(),
        v,
        "looking again changes nothing"
    );

    // Later mail gets higher UIDs.
    import(&archive, &dir.path().join("b"), &["four", "five"]);
    let w = archive.uid_view(inbox).unwrap();
    assert_eq!(w.uid_validity, v.uid_validity);
    assert_eq!(&w.messages[..3], &v.messages[..]);
    assert_eq!(
        w.messages[3..].iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        [4, 5]
    );

    // A message that leaves loses its UID for good.
    let gone: MessageId = w.messages[1].1;
    assert_eq!(gone.store, StoreId(1));
    {
        let store = archive.store(gone.store).unwrap();
        let mut s = store.write().unwrap();
        s.remove_message(gone.num).unwrap();
        s.commit().unwrap();
    }
    let x = archive.uid_view(inbox).unwrap();
    assert_eq!(
        x.messages.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        [1, 3, 4, 5]
    );
    assert_eq!(x.uid_next, 6);

    // Across a reopen, the same UIDs and validity.
    drop(archive);
    let archive = Archive::open(&data, None).unwrap();
    assert_eq!(archive.uid_view(inbox).unwrap(), x);
}
