//! End-to-end tests of the `arkiv` binary on real messages written by others.
//! All in one test binary (links once); every test gets its own data directory.

mod attachments;
mod charsets;
mod cli;
mod formats;
mod hardening;
mod hostile;
mod imap_server;
mod mailboxes;
mod mailclient;
mod multi_user;
mod postfix;
mod profiles;
mod real_data;
mod rerun;
mod search;
mod server;
mod smtp_server;
mod stores;
mod support;
mod web_access;
mod webdriver;
