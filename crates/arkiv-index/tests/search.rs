//! Every operator of the search language against a real tantivy index.

use arkiv_index::{IndexDoc, SearchRequest, SortBy, StoreIndex, parse};

fn docs() -> Vec<IndexDoc> {
    let d = |num: u64, folder: u64, subject: &str, from: &str, to: &str, body: &str| IndexDoc {
        num,
        folder,
        subject: subject.into(),
        from: from.into(),
        to: to.into(),
        body: body.into(),
        date: 1_600_000_000 + num as i64 * 86_400 * 40,
        archived_at: 1_700_000_000,
        size: num * 1000,
        ..Default::default()
    };
    let mut v = vec![
        d(
            1,
            10,
            "Automobile news",
            "John Smith <firstname.lastname@example.com>",
            "michael@mailstore.com",
            "The automatic gearbox",
        ),
        d(
            2,
            10,
            "Meier and Meyer",
            "billing@example.com",
            "myaddress@company.tld",
            "Please pay the bill",
        ),
        d(
            3,
            10,
            "Daily Update from ZDNet",
            "ZDNet <news@zdnet.com>",
            "lisa@example.org",
            "download-tip of the day: Microsoft Windows",
        ),
        d(
            4,
            20,
            "Maier report",
            "boss@other.org",
            "team@other.org",
            "Microsoft Works and Windows 95",
        ),
        d(
            5,
            20,
            "Grüße aus Köln",
            "Jürgen <j@köln.de>",
            "x@y.de",
            "東京都の会議",
        ),
        d(
            6,
            30,
            "admonition: pay now",
            "billing@example.com",
            "myaddress@company.tld",
            "final notice",
        ),
    ];
    v[2].priority = 2;
    v[1].attachment_names = vec!["invoice-2020.pdf".into()];
    v[1].has_attachments = true;
    v[1].attachment_text = "bill total 100 EUR".into();
    v[5].attachment_text = "bill reminder".into();
    v[5].has_attachments = true;
    v
}

fn index() -> (tempfile::TempDir, StoreIndex) {
    let dir = tempfile::tempdir().unwrap();
    let idx = StoreIndex::open(dir.path()).unwrap();
    idx.add(&docs()).unwrap();
    idx.commit().unwrap();
    (dir, idx)
}

fn hits(idx: &StoreIndex, q: &str) -> Vec<u64> {
    let node = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let r = idx
        .search(&SearchRequest {
            budget: &arkiv_index::Budget::new(&node).unwrap(),
            query: &node,
            folders: None,
            store: 1,
            sort: SortBy::Date,
            descending: false,
            limit: 100,
        })
        .unwrap();
    assert_eq!(r.total, r.hits.len());
    let mut v: Vec<u64> = r.hits.iter().map(|h| h.num).collect();
    v.sort();
    v
}

#[test]
fn every_operator_of_the_manual() {
    let (_d, idx) = index();
    assert_eq!(hits(&idx, "auto*"), [1]);
    assert_eq!(hits(&idx, "*example.com"), [1, 2, 6]);
    assert_eq!(hits(&idx, "firstname.lastname*"), [1]);
    assert_eq!(hits(&idx, "Me?er"), [2]);
    assert_eq!(hits(&idx, "\"Microsoft Windows\""), [3]);
    assert_eq!(hits(&idx, "subject:news"), [1]);
    assert_eq!(hits(&idx, "from:billing@example.com"), [2, 6]);
    assert_eq!(hits(&idx, "to:michael@mailstore.com"), [1]);
    assert_eq!(hits(&idx, "bcontent:bill"), [2]);
    assert_eq!(hits(&idx, "acontent:bill"), [2, 6]);
    assert_eq!(hits(&idx, "accontent:bill"), [2, 6]);
    assert_eq!(hits(&idx, "ZDNet -download-tip"), Vec::<u64>::new());
    assert_eq!(hits(&idx, "ZDNet -\"Daily Update\""), Vec::<u64>::new());
    assert_eq!(hits(&idx, "from:ZDNET bcontent:Microsoft"), [3]);
    assert_eq!(hits(&idx, "from:billing@example.com acontent:bill"), [2, 6]);
    assert_eq!(
        hits(
            &idx,
            "from:billing@example.com to:myaddress@company.tld acontent:bill -subject:admonition"
        ),
        [2]
    );
    assert_eq!(
        hits(&idx, "to:myaddress@company.tld -pay"),
        Vec::<u64>::new(),
        "2 says pay in the body, 6 in the subject"
    );
    assert_eq!(hits(&idx, "to:myaddress@company.tld -notice"), [2]);
}

#[test]
fn special_characters_parts_and_wholes() {
    let (_d, idx) = index();
    for q in [
        "firstname",
        "lastname",
        "firstname.lastname",
        "firstname.lastname@example.com",
        "example.com",
    ] {
        assert!(hits(&idx, q).contains(&1), "{q}");
    }
    assert_eq!(hits(&idx, "download"), [3]);
    assert_eq!(hits(&idx, "download-tip"), [3]);
}

#[test]
fn beyond_the_manual_and_languages() {
    let (_d, idx) = index();
    assert_eq!(hits(&idx, "Meier OR Maier"), [2, 4]);
    assert_eq!(hits(&idx, "(Meier OR Maier) -Works"), [2]);
    assert_eq!(hits(&idx, "has:attachment"), [2, 6]);
    assert_eq!(hits(&idx, "filename:invoice*"), [2]);
    assert_eq!(hits(&idx, "filename:invoice-2020.pdf"), [2]);
    assert_eq!(hits(&idx, "size>=5000"), [5, 6]);
    assert_eq!(hits(&idx, "size<2k"), [1, 2], "2k = 2048 bytes");
    assert_eq!(hits(&idx, "-has:attachment -size>3000"), [1, 3]);
    assert_eq!(hits(&idx, "grusse"), [5]);
    assert_eq!(hits(&idx, "GRÜSSE"), [5]);
    assert_eq!(hits(&idx, "köln"), [5]);
    assert_eq!(hits(&idx, "東京"), [5]);
    assert_eq!(hits(&idx, "会議"), [5]);
    assert_eq!(
        hits(&idx, "京会"),
        Vec::<u64>::new(),
        "CJK runs are phrases: order matters"
    );
    assert_eq!(hits(&idx, "priority:high"), [3]);
    assert_eq!(hits(&idx, "store:1 zdnet"), [3]);
    assert!(hits(&idx, "store:2").is_empty());
    assert_eq!(hits(&idx, "-store:2 meier"), [2]);
    assert_eq!(
        hits(&idx, "archived>=2023-11-14 archived<2023-11-15").len(),
        6
    );
    assert!(hits(&idx, "archived<2023").is_empty());
    // Dates: doc n is dated 1_600_000_000 + n*40 days.
    assert_eq!(hits(&idx, "date<2020-11-01"), [1]);
    assert_eq!(hits(&idx, "date>=2021"), [3, 4, 5, 6]);
    assert_eq!(hits(&idx, "date>2021-01-11 date<=2021-04"), [4, 5]);
    assert_eq!(hits(&idx, "date=2020-10-23"), [1]);
}

#[test]
fn folder_filters_sorting_and_counts() {
    let (_d, idx) = index();
    let q = parse("bill* OR pay OR notice").unwrap();
    let folders = [10u64, 30];
    let r = idx
        .search(&SearchRequest {
            budget: &arkiv_index::Budget::new(&q).unwrap(),
            query: &q,
            folders: Some(&folders),
            store: 1,
            sort: SortBy::Date,
            descending: true,
            limit: 1,
        })
        .unwrap();
    assert_eq!(r.total, 2);
    assert_eq!(
        r.hits.iter().map(|h| h.num).collect::<Vec<_>>(),
        [6],
        "newest first"
    );
    let none: [u64; 0] = [];
    let r = idx
        .search(&SearchRequest {
            budget: &arkiv_index::Budget::new(&q).unwrap(),
            query: &q,
            folders: Some(&none),
            store: 1,
            sort: SortBy::Date,
            descending: true,
            limit: 10,
        })
        .unwrap();
    assert_eq!(r.total, 0, "no readable folder, no hits");
    let all = parse("-zzzz").unwrap();
    let r = idx
        .search(&SearchRequest {
            budget: &arkiv_index::Budget::new(&all).unwrap(),
            query: &all,
            folders: None,
            store: 1,
            sort: SortBy::Size,
            descending: true,
            limit: 3,
        })
        .unwrap();
    assert_eq!(r.total, 6);
    assert_eq!(r.hits.iter().map(|h| h.num).collect::<Vec<_>>(), [6, 5, 4]);
}

#[test]
fn sorting_by_subject_from_and_to() {
    let (_d, idx) = index();
    let all = parse("-zzzz").unwrap();
    let order = |sort: SortBy, descending: bool| -> Vec<u64> {
        idx.search(&SearchRequest {
            budget: &arkiv_index::Budget::new(&all).unwrap(),
            query: &all,
            folders: None,
            store: 1,
            sort,
            descending,
            limit: 10,
        })
        .unwrap()
        .hits
        .iter()
        .map(|h| h.num)
        .collect()
    };
    // admonition, automobile, daily, grüße, maier, meier
    assert_eq!(order(SortBy::Subject, false), [6, 1, 3, 5, 4, 2]);
    assert_eq!(order(SortBy::Subject, true), [2, 4, 5, 3, 1, 6]);
    // billing (2, 6), boss, john, jürgen, zdnet
    assert_eq!(order(SortBy::From, false)[2..], [4, 1, 5, 3]);
    // lisa, michael, myaddress (2, 6), team, x
    let to = order(SortBy::To, false);
    assert_eq!((&to[..2], &to[4..]), (&[3, 1][..], &[4, 5][..]));
}

#[test]
fn replacing_and_deleting_documents() {
    let (_d, idx) = index();
    let mut moved = docs()[0].clone();
    moved.folder = 99;
    idx.add(&[moved]).unwrap();
    idx.delete(3).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.doc_count(), 5);
    assert_eq!(idx.indexed_nums().unwrap(), [1, 2, 4, 5, 6]);
    let q = parse("automobile").unwrap();
    let r = idx
        .search(&SearchRequest {
            budget: &arkiv_index::Budget::new(&q).unwrap(),
            query: &q,
            folders: Some(&[99]),
            store: 1,
            sort: SortBy::Date,
            descending: true,
            limit: 10,
        })
        .unwrap();
    assert_eq!(r.total, 1);
    assert!(hits(&idx, "zdnet").is_empty());
}

#[test]
fn an_index_of_another_schema_is_reported_for_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = tantivy::schema::Schema::builder();
    b.add_text_field("something_else", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(dir.path(), b.build()).unwrap();
    match StoreIndex::open(dir.path()) {
        Err(arkiv_index::IndexError::SchemaChanged { .. }) => {}
        other => panic!("expected SchemaChanged, got {:?}", other.err()),
    }
}
