//! `arkiv search` and `arkiv reindex`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use arkiv_archive::Archive;
use arkiv_archive::access::{Caller, Via};
use arkiv_archive::search::SearchQuery;
use arkiv_index::SortBy;
use arkiv_types::StoreId;

use arkiv_archive::advanced::{Criteria, SearchIn};

use crate::cli::{SavedCommand, SearchArgs, SearchInArg, SortKey};
use crate::output::{count_bar, print_json};

/// Indexes what a crash or a `--no-wait` import left unindexed, with a progress bar.
pub fn catch_up(archive: &Archive) -> Result<()> {
    let bar = count_bar(0, "indexing");
    let n = archive.catch_up_index(&mut |done| {
        bar.set_length(done);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    if n > 0 {
        eprintln!("indexed {n} messages that were not searchable yet");
    }
    Ok(())
}

/// Who a search from the command line runs as: the local operator (who holds the key file and
/// reads everything), or, with `--user` (or a search saved "as" a user), that user's view.
fn caller_of(archive: &Archive, q: &SearchQuery) -> Result<Caller> {
    Ok(match &q.user {
        Some(name) => archive.caller(name, Via::Cli, "local")?,
        None => Caller::operator(),
    })
}

pub fn search(archive: &Archive, args: SearchArgs) -> Result<ExitCode> {
    catch_up(archive)?;
    let stale = archive
        .indexes()?
        .into_iter()
        .filter(|i| i.status != "ok")
        .count();
    if stale > 0 {
        eprintln!(
            "note: {stale} search index(es) marked \"please rebuild\" (see `arkiv indexes`): \
             older mail may be missing from the results until `arkiv reindex --needed`"
        );
    }
    let q = SearchQuery {
        text: args.query.join(" "),
        user: args.user,
        folder: args.folder,
        no_subfolders: args.no_subfolders,
        sort: match args.sort {
            SortKey::Date => SortBy::Date,
            SortKey::Archived => SortBy::ArchivedAt,
            SortKey::Size => SortBy::Size,
            SortKey::Subject => SortBy::Subject,
            SortKey::From => SortBy::From,
            SortKey::To => SortBy::To,
        },
        ascending: args.ascending,
        offset: args.offset,
        limit: args.limit.clamp(1, 10_000),
        criteria: Criteria {
            search_in: args
                .search_in
                .iter()
                .map(|s| match s {
                    SearchInArg::Subject => SearchIn::Subject,
                    SearchInArg::Addresses => SearchIn::SenderRecipient,
                    SearchInArg::Body => SearchIn::Body,
                    SearchInArg::Filenames => SearchIn::AttachmentNames,
                    SearchInArg::Attachments => SearchIn::AttachmentContents,
                })
                .collect(),
            from: args.from,
            to: args.to,
            date_from: args.date_from,
            date_to: args.date_to,
            archived_from: args.archived_from,
            archived_to: args.archived_to,
            store: args.store,
            attachments: match (args.with_attachments, args.without_attachments) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            min_size: args.min_size,
            max_size: args.max_size,
            priority: args.priority,
        },
    };
    let page = archive.search(&caller_of(archive, &q)?, &q)?;
    if let Some(name) = &args.save {
        let owner = q.user.clone().unwrap_or_else(|| "admin".to_string());
        archive.save_search(&owner, name, q.clone())?;
        eprintln!("saved as '{name}' for {owner}");
    }
    show(&page, args.json)
}

fn show(page: &arkiv_archive::search::SearchPage, json: bool) -> Result<ExitCode> {
    for u in &page.unavailable_stores {
        eprintln!("warning: {u}");
    }
    let code = if page.unavailable_stores.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    };
    if json {
        print_json(page)?;
        return Ok(code);
    }
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    for m in &page.hits {
        let date = m
            .date
            .as_deref()
            .map(|d| &d[..10.min(d.len())])
            .unwrap_or("----------");
        let subject = match (&m.highlights, tty) {
            (Some(h), true) => bold(&m.subject, &h.subject),
            _ => m.subject.clone(),
        };
        writeln!(
            out,
            "{:<10} {date}  {:<28.28}  {:<28.28}  {subject}",
            m.id, m.from, m.to
        )?;
    }
    let shown = page.hits.len();
    if page.total == 0 {
        writeln!(out, "no messages match")?;
    } else {
        writeln!(
            out,
            "{}-{} of {} messages",
            page.offset + 1.min(shown),
            page.offset + shown,
            page.total
        )?;
    }
    Ok(code)
}

pub fn reindex(archive: &Archive, store: Option<u32>, needed: bool) -> Result<ExitCode> {
    let stores: Vec<Option<StoreId>> = if needed {
        let list: Vec<Option<StoreId>> = archive
            .indexes()?
            .into_iter()
            .filter(|i| i.status != "ok")
            .map(|i| Some(i.store_id))
            .collect();
        if list.is_empty() {
            println!("No index needs rebuilding.");
            return Ok(ExitCode::SUCCESS);
        }
        list
    } else {
        vec![store.map(StoreId)]
    };
    let mut n = 0;
    for only in stores {
        let bar = count_bar(0, "reindexing");
        n += archive.reindex(only, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })?;
        bar.finish_and_clear();
    }
    println!("Indexed {n} messages.");
    Ok(ExitCode::SUCCESS)
}

/// `arkiv indexes`: the manual's Search Indexes list.
pub fn indexes(archive: &Archive, json: bool) -> Result<ExitCode> {
    let list = archive.indexes()?;
    let exts = archive.extraction_settings().extensions();
    if json {
        print_json(&serde_json::json!({
            "attachmentsIndexed": exts,
            "indexes": list,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if exts.is_empty() {
        println!(
            "Attachments currently indexed: file names only (see [attachments] in arkiv.toml)"
        );
    } else {
        println!("Attachments currently indexed: {}", exts.join(" "));
    }
    println!("{:>5}  {:<24} {:>10}  status", "store", "name", "size");
    for i in &list {
        println!(
            "{:>5}  {:<24} {:>10}  {}",
            i.store_id.0,
            i.store_name,
            crate::output::bytes(i.size_bytes),
            i.status
        );
    }
    for i in list.iter().filter(|i| i.status != "ok") {
        if let Some(why) = &i.rebuild_reason {
            println!("store {}: {why}", i.store_id.0);
        }
    }
    if list.iter().any(|i| i.status != "ok") {
        println!(
            "`arkiv reindex --needed` rebuilds the indexes marked \"please rebuild\", so the \
             messages archived before are found as new ones are."
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn saved(archive: &Archive, cmd: SavedCommand) -> Result<ExitCode> {
    match cmd {
        SavedCommand::List { user, json } => {
            let list = archive.saved_searches(&user)?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                println!("{user} has no saved searches");
            } else {
                for s in list {
                    let scope = s
                        .criteria
                        .folder
                        .as_deref()
                        .map(|f| format!(" in {f}"))
                        .unwrap_or_default();
                    let adv = &s.criteria.criteria;
                    let adv = if adv.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", serde_json::to_string(adv)?)
                    };
                    println!("{:<24} {}{scope}{adv}", s.name, s.criteria.text);
                }
            }
        }
        SavedCommand::Run {
            name,
            user,
            limit,
            offset,
            json,
        } => {
            catch_up(archive)?;
            let mut q = archive.saved_search(&user, &name)?.criteria;
            q.offset = offset;
            if let Some(l) = limit {
                q.limit = l.clamp(1, 10_000);
            }
            return show(&archive.search(&caller_of(archive, &q)?, &q)?, json);
        }
        SavedCommand::Rename {
            name,
            new_name,
            user,
        } => {
            archive.rename_saved_search(&user, &name, &new_name)?;
            println!("renamed '{name}' to '{new_name}'");
        }
        SavedCommand::Delete { name, user } => {
            archive.delete_saved_search(&user, &name)?;
            println!("deleted '{name}'");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Marks matched ranges in bold for a terminal.
fn bold(text: &str, ranges: &[[usize; 2]]) -> String {
    let mut out = String::with_capacity(text.len() + ranges.len() * 8);
    let mut pos = 0;
    for r in ranges {
        if r[0] < pos
            || r[1] > text.len()
            || !text.is_char_boundary(r[0])
            || !text.is_char_boundary(r[1])
        {
            continue;
        }
        out.push_str(&text[pos..r[0]]);
        out.push_str("\x1b[1m");
        out.push_str(&text[r[0]..r[1]]);
        out.push_str("\x1b[0m");
        pos = r[1];
    }
    out.push_str(&text[pos..]);
    out
}
