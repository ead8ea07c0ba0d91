//! The message catalogue of Web Access: every text the pages show — element text, `aria-label`,
//! `placeholder` and `title` attributes, page titles, button labels, table headers, help, and
//! the notices and errors the page handlers write themselves — is a field of [`Text`], so a
//! template that names a key the catalogue lacks does not compile.
//!
//! * English ([`EN`]) is the only language so far. [`negotiate`] reads `Accept-Language`
//!   (q-values respected); the pseudo-locale `en-XA` is English with every text in `⟦…⟧`, so
//!   a test can see that nothing visible bypasses the catalogue. Anything else gets English.
//! * Keys are snake_case and describe the text. A text that takes values names them `{name}`;
//!   [`fill`] (in Rust) or the template filter `|fill("name", value)` puts them in, escaped
//!   like any value. Never `format!` a catalogue text.
//! * A text that differs by number has a key per form (`results_summary_one`,
//!   `results_summary`). A key ending in `_html` holds trusted markup (`<code>`, `<strong>`),
//!   takes no values, and is shown with `|safe`.
//! * Data stays as it is: user names, subjects, folder paths, numbers, dates, and the
//!   identifiers of the Administration API that the pages show as they are (function names,
//!   store states and job results in tables). Error messages that come back from the
//!   Administration API (`admin::invoke`) or from the archive (`WebError`) are shown as they
//!   are too: the API speaks English.

use std::sync::OnceLock;

use axum::http::{HeaderMap, header};

/// The tag of the pseudo-locale (the conventional one for pseudo-localization).
pub const PSEUDO: &str = "en-XA";

/// Declares the catalogue: `key: "English text",` per entry. Generates [`Text`] (one field
/// per key), the English catalogue [`EN`], and [`Text::map`] / [`Text::entries`].
macro_rules! catalog {
    ($($key:ident: $text:literal,)*) => {
        /// The texts of one language, one field per key.
        pub struct Text {
            /// The language's tag, for `<html lang>`.
            pub lang: &'static str,
            $(pub $key: &'static str,)*
        }

        /// English, the language the texts are written in.
        pub static EN: Text = Text {
            lang: "en",
            $($key: $text,)*
        };

        impl Text {
            /// Every text passed through `f` (same language tag). The new texts are leaked:
            /// meant for a catalogue built once per process.
            pub fn map(&self, f: impl Fn(&str) -> String) -> Text {
                let leak = |s: &str| -> &'static str { Box::leak(f(s).into_boxed_str()) };
                Text {
                    lang: self.lang,
                    $($key: leak(self.$key),)*
                }
            }

            /// (key, text) of every entry, in catalogue order.
            pub fn entries(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($key), self.$key),)*]
            }
        }
    };
}

catalog! {
    // Every page.
    app_name: "Arkiv",
    skip_to_content: "Skip to content",
    // The top bar.
    search_label: "Search the archive",
    search_placeholder: "Search: from:anna subject:report",
    search_button: "Search",
    account: "Account",
    administration: "Administration",
    password: "Password",
    sign_out: "Sign out",

    // Signing in.
    sign_in: "Sign in",
    sign_in_heading: "Sign in to Arkiv",
    user_name: "User name",
    signed_out: "You are signed out.",
    sign_in_form_expired: "The sign-in form had expired or came from another site. Sign in again here.",
    sign_in_enter_both: "Enter your user name and password.",
    sign_in_wrong: "Wrong user name or password.",
    sign_in_not_here: "'{user}' may not sign in here: {reason}.",

    // Error pages.
    error_not_found: "Not found",
    error_not_allowed: "Not allowed",
    error_cannot: "Cannot do that",
    error_went_wrong: "Something went wrong",
    error_refused: "Refused",
    error_form_outdated: "This form is outdated or did not come from Arkiv. Reload the page and try again.",
    error_admin_only: "The administration pages are for administrators.",
    error_no_attachment: "The message has no such attachment.",
    back_to_archive: "Back to the archive",

    // Searching: the results page.
    archive_title: "Archive",
    folders: "Folders",
    saved_searches: "Saved searches",
    saved_searches_none: "None yet: search, then save it.",
    delete_saved_search: "Delete saved search {name}",
    advanced_search: "Advanced search",
    newest_messages: "Newest messages",
    search_results: "Search results",
    search_in_folder: "Search in {folder}",
    results_summary_one: "{first}–{last} of {total} message",
    results_summary: "{first}–{last} of {total} messages",
    no_messages: "No messages.",
    no_messages_match: "No messages match this search.",
    no_subject: "(no subject)",
    has_attachments: "has attachments",
    damaged_message: "damaged: its stored bytes cannot be read",
    store_unavailable: "Archive store {store} cannot be opened, so its messages are missing here: {reason}",
    save_search_as: "Save this search as",
    save: "Save",
    pages: "Pages",
    newer: "← Newer",
    older: "Older →",
    from: "From",
    to: "To",
    cc: "Cc",
    subject: "Subject",
    date: "Date",
    size: "Size",
    folder: "Folder",

    // The advanced search form.
    advanced_help_html: "All criteria must match. Fields take the quick-search syntax: <code>auto*</code>, <code>\"exact phrase\"</code>, <code>-word</code>, <code>OR</code>.",
    search_legend: "Search",
    search_for: "Search for",
    search_in: "Search in",
    search_in_sender_recipient: "Sender/Recipient",
    search_in_body: "Message body",
    search_in_attachment_names: "Attachment file names",
    search_in_attachment_contents: "Attachment contents",
    general: "General",
    all_readable_folders: "All folders I may read",
    include_subfolders: "Include subfolders",
    to_cc_bcc: "To/Cc/Bcc",
    date_from: "Date from",
    date_to: "Date to",
    date_placeholder: "2024-01-31, 2024-01 or 2024",
    archived_from: "Archived from",
    archived_to: "Archived to",
    advanced: "Advanced",
    store_number: "Archive store (number; empty: all)",
    messages: "Messages",
    all_messages: "All messages",
    with_attachments: "With attachments",
    without_attachments: "Without attachments",
    size_at_least: "Size at least",
    size_at_most: "at most",
    size_min_placeholder: "400K",
    size_max_placeholder: "5M",
    priority_any: "Priority (none checked: any)",
    priority_low: "Low",
    priority_normal: "Normal",
    priority_high: "High",
    new_query: "New query",

    // A message and its source.
    message_actions: "Message",
    message_problem: "This message could not be fully read: {problem}. The original is unchanged; see its source.",
    download_eml: "Download (.eml)",
    source: "Source",
    delete: "Delete",
    attachments: "Attachments",
    images_blocked: "Remote images blocked ({count}) to protect your privacy.",
    show_images: "Show images for this message",
    message_text: "Message text",
    plain_text: "Plain text",
    source_of_message: "Source of message {id}",
    back_to_message: "Back to the message",
    source_truncated: "Showing the first {size}; download the .eml for all of it.",

    // Changing one's password.
    change_password: "Change password",
    password_changed: "Your password was changed. Other sessions were signed out.",
    current_password: "Current password",
    new_password: "New password",
    password_wrong: "The current password is wrong.",

    // Administration: the navigation, and words the pages share.
    admin_nav_dashboard: "Dashboard",
    admin_nav_users: "Users",
    admin_nav_archives: "Archives",
    admin_nav_stores: "Stores",
    admin_nav_profiles: "Archiving profiles",
    admin_nav_jobs: "Jobs",
    admin_nav_compliance: "Compliance",
    admin_nav_service: "Service",
    admin_nav_audit: "Audit log",
    id: "Id",
    name: "Name",
    state: "State",
    status: "Status",
    error: "Error",
    store: "Store",
    archive: "Archive",
    job: "Job",
    profile: "Profile",
    result: "Result",
    archived: "Archived",
    failed: "Failed",
    started_utc: "Started (UTC)",
    user: "User",
    client: "Client",
    door: "Door",
    action: "Action",
    log: "Log",
    rename: "Rename",
    run_now: "Run now",
    yes: "yes",
    no: "no",
    unknown_action: "unknown action '{action}'",
    no_task_started: "the function did not start a task",

    // The dashboard.
    version_on_machine: "Arkiv {version} on {machine}",
    no_warnings: "No warnings.",
    warnings: "Warnings",
    archive_stores: "Archive stores",
    search_indexes: "Search indexes",
    attachments_read: "Attachments read",
    recent_job_runs: "Recent job runs",
    no_job_runs_week: "No job ran in the last 7 days.",
    recent_profile_runs: "Recent archiving profile runs",
    no_profile_runs_week: "No archiving profile ran in the last 7 days.",
    warning_store: "Store {name}: {error}",
    warning_index: "The search index of store {name} needs a rebuild: {reason}",
    warning_job_failed: "Job '{name}' failed at {time}",
    warning_profile_failed: "Archiving profile '{name}' failed at {time}: {error}",

    // Users.
    full_name: "Full name",
    authentication: "Authentication",
    new_user: "New user",
    password_optional: "Password (empty: cannot sign in yet)",
    privileges: "Privileges",
    create_user: "Create user",
    privilege_login: "login",
    privilege_change_password: "changePassword",
    privilege_archive: "archive",
    privilege_modify_archive_profiles: "modifyArchiveProfiles",
    privilege_export: "export",
    privilege_modify_export_profiles: "modifyExportProfiles",
    privilege_delete: "delete",
    user_title: "User {name}",
    user_authentication: "authentication: {method}",
    save_privileges: "Save privileges",
    email_addresses: "E-mail addresses (one per line)",
    save_addresses: "Save addresses",
    set_password: "Set password",
    folder_access: "Folder access",
    no_folder_access: "No folder of another archive is granted.",
    rights: "Rights",
    remove: "Remove",
    remove_access: "Remove access to {folder}",
    grant_folder: "Grant access to a folder (archive/path, e.g. alice/Inbox; subfolders included)",
    right_read: "read",
    right_write: "write",
    right_delete: "delete",
    grant_access: "Grant access",
    delete_user_confirm: "Delete this user: type the user name to confirm (the archive is kept)",
    delete_user: "Delete user",
    privileges_saved: "Privileges saved.",
    addresses_saved: "E-mail addresses saved.",
    folder_access_saved: "Folder access saved.",
    password_set: "Password set.",
    confirm_user_deletion: "type the user name '{name}' to confirm the deletion",
    user_deleted: "User '{name}' was deleted; their archive is kept.",

    // Archives and folders.
    archives_and_folders: "Archives and folders",
    statistics: "Statistics",
    folders_by_name_only: "Archives you may not read (compliance) show by name only.",
    move_folder_heading: "Rename or move a folder",
    move_from: "Folder (archive/path, e.g. anna/Inbox/Old)",
    move_to: "New place and name (e.g. anna/Archive/2025)",
    move_folder: "Move folder",
    remove_empty_folders: "Remove empty folders",
    below_folder: "Below this folder (empty: everywhere)",
    folder_moved: "'{from}' is now '{to}'.",
    empty_folders_removed: "Empty folders removed: {count}.",

    // Archiving profiles.
    no_profiles: "No archiving profiles yet.",
    profile_type: "Type",
    server: "Server",
    mailbox_user: "Mailbox user",
    archive_of: "Archive of",
    automatic: "Automatic",
    last_result: "Last result",
    actions: "Actions",
    running: "running",
    run_profile_now: "Run profile {name} now",
    delete_profile: "Delete profile {name}",
    runs_last_month: "Runs of the last 30 days",
    no_profile_runs_month: "No profile ran in the last 30 days.",
    run_by: "Run by",
    already_archived: "Already archived",
    new_profile: "New profile",
    profile_properties: "Properties (JSON, as CreateProfile takes them: type imap, pop3, imapMultidrop, pop3Multidrop, imapMasterPassword or imapCsv; the OpenAPI description has every field)",
    create_profile: "Create profile",
    profile_example_name: "Mailbox of alice",
    profile_deleted: "Profile #{id} was deleted; the mail it archived stays.",
    profile_created: "Profile '{name}' was created (#{id}).",

    // Jobs.
    no_jobs: "No jobs yet.",
    owner: "Owner",
    schedule: "Schedule",
    time_zone: "Time zone",
    enabled: "Enabled",
    last_run: "Last run",
    next_run: "Next run",
    edit_job: "Edit job #{id} {name}",
    save_schedule: "Save schedule",
    enable: "Enable",
    disable: "Disable",
    cancel_run: "Cancel run",
    delete_job: "Delete job #{id}",
    job_results_month: "Results of the last 30 days",
    no_job_runs_month: "No job ran in the last 30 days.",
    ended_utc: "Ended (UTC)",
    new_job: "New job",
    job_action: "Action: an Administration API call, e.g. VerifyStores or CompactStore --id=1",
    create_job: "Create job",
    schedule_runs: "Runs",
    schedule_date: "Date and time (once)",
    schedule_interval: "Interval (every few minutes)",
    minutes: "{count} minutes",
    schedule_time: "Time of day (daily, weekly, monthly)",
    schedule_day_of_week: "Day of the week (weekly; monthly: the first…last such day)",
    schedule_day_of_month: "Day of the month (monthly: 1–31 or Last; with a weekday 1–5 or Last)",
    kind_manual: "only when run by hand",
    kind_once: "once",
    kind_interval: "every few minutes",
    kind_daily: "daily",
    kind_weekly: "weekly",
    kind_monthly: "monthly",
    monday: "Monday",
    tuesday: "Tuesday",
    wednesday: "Wednesday",
    thursday: "Thursday",
    friday: "Friday",
    saturday: "Saturday",
    sunday: "Sunday",
    runs_once_at: "once, at {date}",
    runs_every_minutes: "every {count} minutes",
    runs_daily: "daily at {time}",
    runs_weekly: "every {weekday} at {time}",
    runs_monthly_day: "monthly on day {day} at {time}",
    runs_monthly_weekday: "monthly on {day} {weekday} at {time}",
    schedule_needs_date: "a schedule that runs once needs a date and time",
    schedule_needs_interval: "a schedule that runs every few minutes needs an interval",
    schedule_needs_time: "a daily, weekly or monthly schedule needs a time",
    schedule_needs_day_of_week: "a weekly schedule needs a day of the week",
    schedule_needs_day_of_month: "a monthly schedule needs a day of the month",
    schedule_unknown_kind: "unknown kind of schedule '{kind}'",
    job_created: "Job '{name}' was created (#{id}).",
    job_schedule_saved: "The schedule of job #{id} was saved; next run: {next}.",
    next_run_none: "none",
    job_renamed: "Job #{id} was renamed to '{name}'.",
    job_enabled: "Job #{id} is enabled.",
    job_disabled: "Job #{id} is disabled.",
    job_started: "Job #{id} was started; its result appears below when it ends.",
    job_cancelling: "Job #{id} is being cancelled.",
    job_deleted: "Job #{id} was deleted.",

    // Compliance.
    archive_access: "Archive access",
    access_blocked_html: "Archive access for administrators is <strong>blocked</strong>.",
    access_unblocked_html: "Archive access for administrators is <strong>unblocked</strong>.",
    access_help: "While it is blocked, administrators manage the server but read only their own archive, whatever folder access they hold. While it is unblocked, they can view, search and export every archive. Changing it needs your password again; the change and its reason are written to the audit log.",
    access_legend: "Archive access for administrators",
    blocked: "blocked",
    unblocked: "unblocked",
    reason_label: "Reason (written to the audit log)",
    your_password: "Your password",
    change_access: "Change archive access",
    compliance_password_needed: "Enter your password to change a compliance setting.",
    compliance_password_wrong: "The password is wrong; the setting was not changed.",
    access_now_unblocked: "Archive access is unblocked: administrators can read every archive.",
    access_now_blocked: "Archive access is blocked: administrators read only their own archive.",

    // The service.
    version: "Version",
    machine: "Machine",
    server_name: "Server name",
    running_for: "Running for",
    data_directory: "Data directory",
    uptime: "{days}d {hours}h {minutes}m",
    listeners: "Listeners",
    address: "Address",
    protocol: "Protocol",
    smtp_receiver: "SMTP journal receiver",
    smtp_receiver_off: "Off. Mail servers can send a copy of every message here once it listens: arkiv serve --listen-smtp ADDR, or [smtp] listen in arkiv.toml.",
    smtp_accepted: "Messages archived (answered 250)",
    smtp_accepted_bytes: "Bytes archived",
    smtp_connections: "Connections",
    smtp_queued: "Bytes waiting to be archived",
    smtp_deferred: "Deferred (4xx: the sender retries)",
    smtp_refused: "Refused",
    smtp_reason: "Reason",
    smtp_count: "Count",
    smtp_trusted: "Trusted networks (no AUTH needed)",
    smtp_plain: "Networks allowed without TLS",
    smtp_auth_users: "Senders with AUTH",
    smtp_max_message: "Largest message (bytes)",
    listener_on: "on",
    listener_off: "off",
    listeners_help_html: "Listeners are set with <code>arkiv serve</code>'s flags or <code>[server]</code> in arkiv.toml, and take effect at the next start.",
    tls_certificate: "TLS certificate",
    certificate_fingerprint: "SHA-256 fingerprint",
    certificate_subject: "Subject",
    certificate_issuer: "Issuer",
    certificate_valid_from: "Valid from",
    certificate_valid_until: "Valid until",
    certificate_self_signed: "Self-signed",
    certificate_expired: "The TLS certificate expired on {date}.",
    certificate_expires: "The TLS certificate expires in {days} days ({date}): renew it and send the server SIGHUP.",
    certificate_reload: "A renewed certificate is read again on SIGHUP, without a restart.",
    active_sessions: "Active sessions",
    since: "Since",
    last_request: "Last request",

    // Archive stores and their tasks.
    directory: "Directory",
    problem: "Problem",
    verify_all_stores: "Verify all stores",
    retry_opening_stores: "Retry opening stores",
    manage_store: "Manage store #{id} {name}",
    set_state: "Set state",
    with_search_index: "with its search index",
    verify_store: "Verify store #{id}",
    compact: "Compact",
    repair_database: "Repair database",
    merge_from: "Copy every message of store",
    merge_into: "Merge into #{id}",
    recovery_key: "Recovery key of the installation it comes from",
    unlock: "Unlock",
    detach_confirm: "Detach: type the store's name to confirm (its files stay)",
    detach: "Detach",
    select_all_indexes: "Select all for rebuilding",
    rebuild_indexes: "Rebuild selected and needed indexes",
    new_store: "New store",
    store_directory: "Directory (empty: inside the data directory)",
    create_store: "Create store",
    attach_store_heading: "Attach a store",
    its_directory: "Its directory",
    attach_store: "Attach store",
    state_current: "current (new mail goes here)",
    state_normal: "normal",
    state_write_protected: "write-protected",
    state_disabled: "disabled",
    index_rebuild_needed: "rebuild needed: {reason}",
    store_created: "Store '{name}' was created.",
    store_attached: "Store '{name}' was attached.",
    store_state_set: "Store #{id} is now {state}.",
    store_renamed: "Store #{id} was renamed to '{name}'.",
    confirm_store_detach: "type the store's name '{name}' to confirm detaching it",
    store_detached: "Store #{id} was detached; its files stay where they are (attach it again to bring it back).",
    stores_retried: "Opening the stores was tried again.",
    indexes_selected: "Every search index is selected for rebuilding; 'Rebuild' starts it.",
    task: "Task",
    task_title: "Task {token}",
    progress: "Progress",
    task_reloads: "This page reloads every second while the task runs.",
    task_cancelling: "Cancelling: the task stops at its next safe point.",
    cancel: "Cancel",
    back_to_stores: "Back to the archive stores",
    task_running: "Running…",
    task_succeeded: "Succeeded.",
    task_failed_because: "Failed: {error}",
    task_failed: "Failed.",
    no_such_task_any_more: "No such task: it is unknown, or it finished more than 15 minutes ago.",
    no_such_task: "No such task.",

    // The audit log.
    from_day: "From day",
    to_day: "To day",
    day_from_placeholder: "2026-12-01",
    day_to_placeholder: "2026-12-31",
    action_contains: "Action contains",
    filter: "Filter",
    audit_summary_one: "{count} record, newest first.",
    audit_summary: "{count} records, newest first.",
    audit_summary_capped: "{count} records, the newest {shown} shown, newest first.",
    audit_records: "Audit records",
    time_utc: "Time (UTC)",
    arguments: "Arguments",
    outcome: "Outcome",
    dates_format: "Dates are written 2026-12-01.",
    chain_intact: "The hash chain of all {count} records is intact.",
    chain_broken: "The hash chain is broken: {error}",
}

/// The language of a request: the first of `Accept-Language`'s ranges (by q-value, then
/// order) that names English (`en`, `en-*`, `*`) or the pseudo-locale `en-XA`; English when
/// none does.
pub fn negotiate(headers: &HeaderMap) -> &'static Text {
    let mut ranges: Vec<(&str, f32)> = headers
        .get_all(header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = match parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            {
                Some((_, q)) => q.trim().parse::<f32>().ok()?,
                None => 1.0,
            };
            (!tag.is_empty() && q > 0.0).then_some((tag, q))
        })
        .collect();
    // Stable: ranges of the same weight keep the order they were sent in.
    ranges.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (tag, _) in ranges {
        if tag.eq_ignore_ascii_case(PSEUDO) {
            return pseudo();
        }
        let english = tag == "*"
            || tag.eq_ignore_ascii_case("en")
            || tag.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("en-"));
        if english {
            return &EN;
        }
    }
    &EN
}

/// English with every text in `⟦…⟧` (placeholders kept), built once.
fn pseudo() -> &'static Text {
    static PSEUDO_TEXT: OnceLock<Text> = OnceLock::new();
    PSEUDO_TEXT.get_or_init(|| Text {
        lang: PSEUDO,
        ..EN.map(|s| format!("⟦{s}⟧"))
    })
}

/// A text with its `{name}` placeholders filled, in one pass (a value that itself holds
/// `{…}` stays as it is); a placeholder without a value is left in place.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let found = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (close, *v))
        });
        match found {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The templates' filter: `{{ t.verify_store|fill("id", st.id) }}` (chained for several
/// values; the output is escaped like any value).
pub mod filters {
    #[askama::filter_fn]
    pub fn fill<S: std::fmt::Display, V: std::fmt::Display>(
        text: S,
        _: &dyn askama::Values,
        name: &str,
        value: V,
    ) -> askama::Result<String> {
        Ok(super::fill(
            &text.to_string(),
            &[(name, &value.to_string())],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lang(accept: &[&str]) -> &'static str {
        let mut h = HeaderMap::new();
        for a in accept {
            h.append(header::ACCEPT_LANGUAGE, HeaderValue::from_str(a).unwrap());
        }
        negotiate(&h).lang
    }

    #[test]
    fn negotiation_respects_q_values() {
        assert_eq!(lang(&[]), "en");
        assert_eq!(lang(&["en-XA"]), "en-XA");
        assert_eq!(lang(&["en-xa"]), "en-XA", "tags are case-insensitive");
        assert_eq!(
            lang(&["de-DE, en-XA;q=0.5"]),
            "en-XA",
            "no German: the next one"
        );
        assert_eq!(lang(&["en-XA;q=0.4, en;q=0.9"]), "en");
        assert_eq!(lang(&["en;q=0.4, en-XA;Q=0.9"]), "en-XA");
        assert_eq!(lang(&["en-GB, en-XA"]), "en", "same weight: the order sent");
        assert_eq!(lang(&["*, en-XA"]), "en");
        assert_eq!(lang(&["en-XA;q=0"]), "en", "q=0 is 'not acceptable'");
        assert_eq!(lang(&["en-XA;q=abc"]), "en", "a malformed range is ignored");
        assert_eq!(lang(&["fr", "en-XA"]), "en-XA", "several headers");
        assert_eq!(lang(&["fr, de"]), "en", "anything else: English");
    }

    #[test]
    fn the_pseudo_locale_brackets_every_text() {
        let p = pseudo();
        assert!(std::ptr::eq(p, pseudo()), "built once");
        assert_eq!(p.lang, PSEUDO);
        assert_eq!(p.sign_in, "⟦Sign in⟧");
        for ((k, en), (k2, xa)) in EN.entries().into_iter().zip(p.entries()) {
            assert_eq!(k, k2);
            assert_eq!(xa, format!("⟦{en}⟧"), "{k}");
        }
    }

    #[test]
    fn placeholders_are_filled_once() {
        assert_eq!(
            fill(EN.store_renamed, &[("id", "3"), ("name", "Main")]),
            "Store #3 was renamed to 'Main'."
        );
        assert_eq!(
            fill("{a} and {b}", &[("a", "{b}"), ("b", "x")]),
            "{b} and x",
            "a value is not filled again"
        );
        assert_eq!(fill("{missing} {", &[]), "{missing} {");
        assert_eq!(fill("ünï{x}ß", &[("x", "→")]), "ünï→ß");
    }

    /// Keys are snake_case, placeholders `{snake_case}`, `_html` texts take no values, and
    /// every entry is used by a template or a page handler.
    #[test]
    fn the_catalogue_is_tidy_and_every_entry_is_used() {
        let snake = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = String::new();
        let mut dirs = vec![root.join("templates"), root.join("src/webui")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.file_name().is_some_and(|n| n != "i18n.rs") {
                    sources.push_str(&std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        for (key, text) in EN.entries() {
            assert!(snake(key), "{key}");
            assert!(!text.trim().is_empty(), "{key}");
            let mut rest = text;
            while let Some(open) = rest.find('{') {
                let close = rest[open..].find('}').expect("a closed placeholder") + open;
                assert!(snake(&rest[open + 1..close]), "{key}: {text}");
                assert!(!key.ends_with("_html"), "{key} takes no values");
                rest = &rest[close + 1..];
            }
            let ident = |c: char| c.is_alphanumeric() || c == '_';
            let used = sources.match_indices(&format!("t.{key}")).any(|(i, m)| {
                !sources[..i].ends_with(ident) && !sources[i + m.len()..].starts_with(ident)
            });
            assert!(used, "{key} is not used");
        }
    }
}
