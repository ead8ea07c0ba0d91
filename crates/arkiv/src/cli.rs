//! The command line, as clap definitions. `--help` on every command says what it does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "arkiv",
    version,
    about = "Arkiv: a self-hosted email archive. Every message kept byte for byte, encrypted, stored once.",
    long_about = "Arkiv: a self-hosted email archive.\n\n\
        Start with `arkiv init` (creates the data directory, the encryption keys and the `admin` user),\n\
        add users with `arkiv user add`, archive files with `arkiv import`, and read them back with\n\
        `arkiv ls` and `arkiv cat`. `arkiv verify` checks every stored message against its hash.",
    after_help = "The data directory defaults to ./arkiv-data; set it with --data or ARKIV_DATA."
)]
pub struct Cli {
    /// The data directory (master database, keys, stores).
    #[arg(
        long,
        global = true,
        env = "ARKIV_DATA",
        default_value = "arkiv-data",
        value_name = "DIR"
    )]
    pub data: PathBuf,
    /// The key file that unlocks the archive [default: DIR/arkiv.key].
    #[arg(long, global = true, env = "ARKIV_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a data directory: keys, master database, first archive store, user `admin`.
    Init(InitArgs),
    /// Restore access with the recovery key printed by `init`: writes a new key file (when
    /// it is lost); makes keyring.json anew from a store's copy of the master key (when it is
    /// lost or damaged); makes master.redb anew from the stores (when it is lost or damaged:
    /// the stores are attached again, their messages back in their folders by name, every
    /// archive's user back without a password). Damaged files are kept aside as
    /// <name>.broken-<time>.
    Recover {
        /// The recovery key, e.g. ARKIV-ABCD-EFGH-... (case and dashes do not matter).
        #[arg(long, env = "ARKIV_RECOVERY_KEY")]
        recovery_key: String,
        /// The password of `admin` when the master database is made anew [default: a
        /// generated one, printed once].
        #[arg(long, env = "ARKIV_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Option<String>,
        /// A store directory outside the stores' base directory to attach when the master
        /// database is made anew (repeatable).
        #[arg(long = "store", value_name = "DIR")]
        stores: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Renew the master key (API RenewMasterKey): every archive store's key is wrapped by a
    /// new master key; the key file and the recovery key stay the same. Crash-safe: the old
    /// master key opens everything until the new one is committed.
    RenewMasterKey {
        /// The recovery key: it seals the new master key (Arkiv never keeps it).
        #[arg(long, env = "ARKIV_RECOVERY_KEY", hide_env_values = true)]
        recovery_key: String,
    },
    /// Manage users (each user owns one user archive).
    #[command(subcommand)]
    User(UserCommand),
    /// Archive messages from files (EML folders, MBOX files, Maildir folders, Thunderbird
    /// profiles) or from a mail server's mailbox (IMAP, POP3).
    #[command(
        subcommand,
        after_help = "Every source archives into one user archive (--user NAME), or with --multi-user\n\
        assigns each message by its addresses: the sender's archive gets it in the sent folder,\n\
        each recipient's archive in the received folder. Re-running is always safe: only what is\n\
        new is archived, and a message moved between folders of the source moves in the archive.\n\n\
        Exit codes: 0 all messages archived, 2 some messages failed, 1 fatal error.\n\n\
        Examples:\n  arkiv import mbox ~/old/Inbox.mbox --user alice\n  \
        arkiv import maildir /var/mail/bob/Maildir --user bob --folder Server\n  \
        arkiv import eml ./exported --multi-user --unknown-user catchall\n  \
        arkiv import imap --host mail.example.com --login alice@example.com --user alice\n\n\
        See `arkiv import <SOURCE> --help` for each source's options."
    )]
    Import(ImportCommand),
    /// List user archives, folders and messages with their ids. Damaged messages are marked;
    /// exit 3 when a store could not be opened (its messages are missing from the list, and
    /// why is printed on stderr).
    Ls(LsArgs),
    /// Write a message's exact original bytes to standard output.
    Cat {
        /// Message id as shown by `ls`: <store>:<number>, e.g. 1:42.
        id: String,
        /// Print the SMTP envelope the message was journaled with (MAIL FROM, every RCPT TO
        /// including Bcc, the client, the time) as JSON, instead of the message.
        #[arg(long)]
        envelope: bool,
    },
    /// Search with the manual's quick-search language: words (AND), "phrases", auto*, Me?er,
    /// subject: from: to: cc: bcc: bcontent: acontent: filename:, -exclusions, OR, (groups),
    /// has:attachment, size>1M, date>=2020-01-31. Exit 3 when a store could not be searched.
    Search(SearchArgs),
    /// Saved searches: list, run, rename, delete (save one with `arkiv search ... --save NAME`).
    #[command(subcommand)]
    Saved(SavedCommand),
    /// Rebuild the search index of one store or of all, from the stored messages (after
    /// changing which attachments are read, this applies the change to older messages).
    Reindex {
        /// Only this store.
        #[arg(long, conflicts_with = "needed")]
        store: Option<u32>,
        /// Only the indexes whose status is "please rebuild" (see `arkiv indexes`).
        #[arg(long)]
        needed: bool,
    },
    /// List the search indexes: store, size, and status ("please rebuild" once the
    /// `[attachments]` settings changed since the index was built), and which attachment
    /// types have their contents indexed.
    Indexes {
        #[arg(long)]
        json: bool,
    },
    /// (internal) The attachment-text sandbox process; started by Arkiv itself.
    #[command(hide = true, name = "extract-worker")]
    ExtractWorker {
        #[arg(long)]
        limits: String,
    },
    /// Show per-archive and per-store statistics, and stored versus original bytes. Exit 3
    /// when a store could not be opened (it is listed with the reason, and not counted).
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Check every message against its hash and the metadata against the content. Names
    /// every damaged message; exit 2 when anything is wrong (README: "When something is
    /// damaged" tells which command recovers what).
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Run the Arkiv service: HTTPS with the Administration API (manual §7.1) and an HTTP
    /// listener that only redirects to HTTPS. On a machine without a data directory it creates
    /// one first and prints the administrator's password and the recovery key once. Runs in the
    /// foreground, logs to stderr, stops cleanly on SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// The management shell: call a running server's Administration API, e.g.
    /// `arkiv admin --insecure GetUserInfo --userName=alice`. Prints the result as JSON, follows
    /// long-running functions (log and progress on stderr); exit 0 on success, 1 otherwise.
    /// The password comes from ARKIV_PASSWORD or --credentials.
    Admin(AdminArgs),
    /// Manage archive stores (manual §5.15).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Archiving profiles (manual §2.3): mailboxes on mail servers archived on request or
    /// automatically by `arkiv serve`, with their run history.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Benchmarks on a generated corpus, run side by side with a peer.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Args, Debug)]
pub struct AdminArgs {
    /// The server's Administration API: host, host:port or https://host:port [default port:
    /// 8463].
    #[arg(long, env = "ARKIV_HOST", default_value = "localhost:8463")]
    pub host: String,
    /// An administrator's user name.
    #[arg(long, env = "ARKIV_USER", default_value = "admin")]
    pub user: String,
    /// A file whose first line is the password (or `user:password`); else ARKIV_PASSWORD.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Trust the server certificate with this SHA-256 fingerprint (the server logs it at start).
    #[arg(
        long,
        env = "ARKIV_PIN",
        value_name = "FINGERPRINT",
        conflicts_with = "insecure"
    )]
    pub pin: Option<String>,
    /// Accept any server certificate (not for use over untrusted networks).
    #[arg(long)]
    pub insecure: bool,
    /// The API function, e.g. GetServerInfo, VerifyStore (`arkiv admin GetMetadata` lists them).
    pub function: String,
    /// Its arguments as --name=value (e.g. --id=1 --includeIndexes=false).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--NAME=VALUE"
    )]
    pub args: Vec<String>,
}

/// Listener and TLS settings of `arkiv serve`: each flag beats its `ARKIV_*` variable, which
/// beats the `[server]` section of `arkiv.toml`, which beats the default.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// HTTPS address of Web Access [default: 0.0.0.0:8462].
    #[arg(long, env = "ARKIV_LISTEN_HTTPS", value_name = "ADDR")]
    pub listen_https: Option<String>,
    /// HTTPS address of the Administration API ("off": none) [default: 0.0.0.0:8463].
    #[arg(long, env = "ARKIV_LISTEN_API", value_name = "ADDR|off")]
    pub listen_api: Option<String>,
    /// Plain HTTP address that only redirects to HTTPS ("off": none) [default: 0.0.0.0:8461].
    #[arg(long, env = "ARKIV_LISTEN_HTTP", value_name = "ADDR|off")]
    pub listen_http: Option<String>,
    /// Address of the read-only IMAP service with STARTTLS ("off": none) [default:
    /// 0.0.0.0:143; a port that cannot be bound leaves it off with a warning].
    #[arg(long, env = "ARKIV_LISTEN_IMAP", value_name = "ADDR|off")]
    pub listen_imap: Option<String>,
    /// Address of the IMAP service with implicit TLS ("off": none) [default: 0.0.0.0:993].
    #[arg(long, env = "ARKIV_LISTEN_IMAPS", value_name = "ADDR|off")]
    pub listen_imaps: Option<String>,
    /// Address of the SMTP journal receiver with STARTTLS, which mail servers send a copy of
    /// every message to (Postfix always_bcc); repeat for more; "off": none [default: smtp.listen
    /// in arkiv.toml, empty: off].
    #[arg(
        long,
        env = "ARKIV_LISTEN_SMTP",
        value_name = "ADDR|off",
        value_delimiter = ','
    )]
    pub listen_smtp: Vec<String>,
    /// Address of the SMTP journal receiver with implicit TLS (port 465); repeat for more.
    #[arg(
        long,
        env = "ARKIV_LISTEN_SMTPS",
        value_name = "ADDR|off",
        value_delimiter = ','
    )]
    pub listen_smtps: Vec<String>,
    /// A client network (CIDR, e.g. 10.0.0.0/8) whose mail servers may send journal mail
    /// without AUTH; repeat for more (added to smtp.trusted_networks).
    #[arg(long, value_name = "CIDR")]
    pub smtp_trusted_network: Vec<String>,
    /// A client network that may send journal mail without TLS; repeat for more (added to
    /// smtp.plain_networks). Without one, every sender must use TLS.
    #[arg(long, value_name = "CIDR")]
    pub smtp_plain_network: Vec<String>,
    /// The name clients reach this server by; HTTP redirects go there [default: this
    /// machine's host name].
    #[arg(long, env = "ARKIV_SERVER_NAME", value_name = "NAME")]
    pub server_name: Option<String>,
    /// PEM certificate chain (with --tls-private-key) instead of the self-signed certificate.
    #[arg(
        long,
        env = "ARKIV_TLS_CERTIFICATE",
        value_name = "FILE",
        requires = "tls_private_key"
    )]
    pub tls_certificate: Option<PathBuf>,
    /// PEM private key of --tls-certificate.
    #[arg(
        long,
        env = "ARKIV_TLS_PRIVATE_KEY",
        value_name = "FILE",
        requires = "tls_certificate"
    )]
    pub tls_private_key: Option<PathBuf>,
    /// PKCS#12 file (.p12/.pfx) with the private key and certificate chain, instead of PEM.
    #[arg(
        long,
        env = "ARKIV_TLS_PKCS12",
        value_name = "FILE",
        conflicts_with = "tls_certificate"
    )]
    pub tls_pkcs12: Option<PathBuf>,
    /// File holding the password of --tls-pkcs12 (else ARKIV_TLS_PKCS12_PASSWORD).
    #[arg(long, env = "ARKIV_TLS_PKCS12_PASSWORD_FILE", value_name = "FILE")]
    pub tls_pkcs12_password_file: Option<PathBuf>,
    /// Safe mode (manual §6.1): only administrators may log on, no job runs by its schedule.
    #[arg(long, env = "ARKIV_SAFE_MODE")]
    pub safe_mode: bool,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Password of the administrator `admin` (else ARKIV_ADMIN_PASSWORD, else a prompt).
    /// It must meet the password policy: 10+ characters, 3 of 5 character classes, ...
    #[arg(long, env = "ARKIV_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Create a new archive store after this many messages [default: 5000000].
    #[arg(long, value_name = "N")]
    pub rollover_messages: Option<u64>,
    /// Print the outcome as JSON (includes the recovery key).
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user and their archive.
    Add {
        name: String,
        /// An email address of the user (repeat for more); used by multi-user imports.
        #[arg(long = "email", value_name = "ADDR")]
        emails: Vec<String>,
        #[arg(long)]
        full_name: Option<String>,
        /// A login password (must meet the password policy); without it the user cannot log in yet.
        #[arg(long, env = "ARKIV_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a user. Their archive and its messages are kept.
    Delete { name: String },
    /// Set a user's password (it must meet the password policy): for a user made again by
    /// `arkiv recover`, or one who forgot it.
    SetPassword {
        name: String,
        #[arg(long, env = "ARKIV_USER_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// A folder tree of .eml files (or one file).
    Eml(ImportArgs),
    /// One mbox file or a folder tree of them (mboxo, mboxrd, mboxcl, mboxcl2).
    Mbox(ImportArgs),
    /// A Maildir with its Maildir++ (or fs-layout) subfolders.
    Maildir(ImportArgs),
    /// A Thunderbird or SeaMonkey profile, account folder, or one of its mbox files.
    Thunderbird(ImportArgs),
    /// The folders of an IMAP mailbox: only what is new since the last run is read; a
    /// message moved between folders moves in the archive.
    Imap(ServerImportArgs),
    /// A POP3 mailbox (its unique ids make re-runs read only new messages).
    Pop3(ServerImportArgs),
}

#[derive(Args, Debug)]
#[command(
    after_help = "The password is read from ARKIV_SOURCE_PASSWORD, or asked for on a terminal.\n\
    Exit codes: 0 all messages archived, 2 some messages failed or the run stopped early (a\n\
    later run goes on), 1 nothing could be done (no connection, logon refused, bad settings).\n\n\
    Examples:\n  arkiv import imap --host mail.example.com --login alice@example.com --user alice\n  \
    arkiv import imap --host 10.0.0.5 --security starttls --fingerprint AB:CD:... --login alice --user alice --test\n  \
    arkiv import imap --host mail.example.com --master-user archiver --login bob@example.com --user bob\n  \
    arkiv import pop3 --host mail.example.com --login catchall --multi-user --unknown-user admin --delete immediately"
)]
pub struct ServerImportArgs {
    /// The mail server's host name or address.
    #[arg(long)]
    pub host: String,
    /// The port [default: 993 IMAP over TLS, 143 IMAP, 995 POP3 over TLS, 110 POP3].
    #[arg(long)]
    pub port: Option<u16>,
    /// tls (from the first byte), starttls (upgrade before logging on) or plain (no
    /// encryption: only on networks you trust).
    #[arg(long, default_value = "tls", value_parser = ["tls", "starttls", "plain"])]
    pub security: String,
    /// Accept any server certificate ("ignore certificate warnings").
    #[arg(long, conflicts_with = "fingerprint")]
    pub ignore_certificate: bool,
    /// Accept exactly the certificate with this SHA-256 fingerprint (for self-signed ones;
    /// a refused certificate's fingerprint is shown in the error).
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Also trust the certificate authorities in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Seconds any single wait for the server may take.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// The mailbox's user name on the server (often the e-mail address).
    #[arg(long, required_unless_present_any = ["master_user", "csv"])]
    pub login: Option<String>,
    /// Log on as this user (a master user) with SASL PLAIN and an authorization identity
    /// (RFC 4616); the password is the master user's. With --login: that one mailbox. Without:
    /// the mailbox of every Arkiv user with an e-mail address (the first one), each into its
    /// own archive (see --only, --except, --concurrency).
    #[arg(long, value_name = "NAME")]
    pub master_user: Option<String>,
    /// Many IMAP mailboxes from a CSV file (manual §2.8): IMAP user name; IMAP password;
    /// e-mail address (optional); archive user (optional, created when missing).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["login", "master_user", "multi_user", "user"])]
    pub csv: Option<PathBuf>,
    /// With --master-user and no --login: only these users' mailboxes (several allowed).
    #[arg(long, value_name = "USER", conflicts_with = "except")]
    pub only: Vec<String>,
    /// With --master-user and no --login: all users' mailboxes except these.
    #[arg(long, value_name = "USER")]
    pub except: Vec<String>,
    /// Mailboxes archived at once (--csv, or --master-user without --login).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=25))]
    pub concurrency: u32,
    /// The user archive to archive into.
    #[arg(long, required_unless_present_any = ["multi_user", "test", "csv", "master_user"], conflicts_with = "multi_user")]
    pub user: Option<String>,
    /// Top folder in the archive [default: the mailbox name]; the mailbox's folders go below.
    #[arg(long)]
    pub folder: Option<String>,
    /// A catch-all (multidrop) mailbox: each message goes to the archives of its sender (in
    /// the sent folder) and recipients (in the received folder).
    #[arg(long)]
    pub multi_user: bool,
    #[arg(long, default_value = "Sent", requires = "multi_user")]
    pub sent_folder: String,
    #[arg(long, default_value = "Received", requires = "multi_user")]
    pub received_folder: String,
    /// Archive messages with no known address for this user (else they are skipped).
    #[arg(long, requires = "multi_user")]
    pub unknown_user: Option<String>,
    /// IMAP: archive only these folders (and their subfolders); `||regex` or `|i|regex`
    /// match paths like INBOX/Projects. Several allowed.
    #[arg(long, value_name = "FOLDER")]
    pub include: Vec<String>,
    /// IMAP: never these folders (and their subfolders). Several allowed.
    #[arg(long, value_name = "FOLDER")]
    pub exclude: Vec<String>,
    /// IMAP: also archive trash, drafts, junk and outbox folders.
    #[arg(long)]
    pub no_default_exclusions: bool,
    /// IMAP: folders holding sent mail, besides the ones the server marks \Sent.
    #[arg(long, value_name = "FOLDER")]
    pub sent_items: Vec<String>,
    /// IMAP: archive only messages that were read (unread ones wait for a later run).
    #[arg(long)]
    pub skip_unread: bool,
    /// IMAP: archive only messages older than a date (2024-01-31, UTC) or a period back from
    /// now (30d, 8w, 6m, 2y).
    #[arg(long, value_name = "DATE|PERIOD")]
    pub older_than: Option<String>,
    /// Delete on the server after archiving: never, immediately, after:PERIOD (that long
    /// after it was archived) or older:PERIOD (when its date is older). Flagged messages are
    /// never deleted; only messages read back intact from the archive are.
    #[arg(long, default_value = "never", value_name = "RULE")]
    pub delete: String,
    /// Only connect, log on and show the server's capabilities and folders (with what would
    /// be archived).
    #[arg(long, conflicts_with = "dry_run")]
    pub test: bool,
    /// Show the effective folders and what a run would archive and delete, changing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Worker threads [default: one per CPU core].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Return as soon as the messages are archived (searchable at the next start).
    #[arg(long)]
    pub no_wait: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 all messages archived, 2 some messages failed, 1 fatal error.\n\n\
    Examples:\n  arkiv import mbox ~/old/Inbox.mbox --user alice\n  arkiv import maildir /var/mail/bob/Maildir --user bob --folder Server\n  \
    arkiv import eml ./exported --multi-user --unknown-user catchall"
)]
pub struct ImportArgs {
    /// A file or folder.
    pub path: PathBuf,
    /// The user archive to archive into (single-user mode).
    #[arg(
        long,
        required_unless_present = "multi_user",
        conflicts_with = "multi_user"
    )]
    pub user: Option<String>,
    /// Top folder in the archive [default: the source's name]; the source's folders go below it.
    #[arg(long)]
    pub folder: Option<String>,
    /// Assign each message by its addresses: the sender's archive gets it in the sent folder,
    /// each recipient's archive in the received folder.
    #[arg(long)]
    pub multi_user: bool,
    #[arg(long, default_value = "Sent", requires = "multi_user")]
    pub sent_folder: String,
    #[arg(long, default_value = "Received", requires = "multi_user")]
    pub received_folder: String,
    /// Archive messages with no known address for this user (else they are skipped).
    #[arg(long, requires = "multi_user")]
    pub unknown_user: Option<String>,
    /// EML: file extensions to read, comma separated [default: eml].
    #[arg(long, value_delimiter = ',')]
    pub extensions: Vec<String>,
    /// EML and MBOX folders: do not descend into subfolders.
    #[arg(long)]
    pub no_recursive: bool,
    /// MBOX dialect: auto (mboxrd unquoting), mboxo, mboxrd, mboxcl, mboxcl2.
    #[arg(long, default_value = "auto")]
    pub mbox_format: String,
    /// Worker threads [default: one per CPU core].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Return as soon as the messages are archived; they become searchable at the next start
    /// (of `arkiv search`, `import` or `reindex`).
    #[arg(long)]
    pub no_wait: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SortKey {
    Date,
    Archived,
    Size,
    Subject,
    From,
    To,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  arkiv search invoice from:billing@example.com\n  arkiv search '\"quarterly report\"' -draft --user alice\n  \
    arkiv search 'auto* OR car' has:attachment date>=2020 --json --limit 200"
)]
pub struct SearchArgs {
    /// The query; several arguments are joined with spaces. Put `--` before a query that
    /// starts with `-` (e.g. `arkiv search -- -spam invoice`).
    #[arg(required_unless_present_any = ["from", "to", "date_from", "date_to", "archived_from", "archived_to", "store", "with_attachments", "without_attachments", "min_size", "max_size", "priority", "folder"])]
    pub query: Vec<String>,
    /// Advanced search: look for the query's words only in these parts (several allowed).
    #[arg(long = "in", value_enum, value_delimiter = ',', value_name = "PART")]
    pub search_in: Vec<SearchInArg>,
    /// Advanced search: words or addresses in the sender (quick-search syntax).
    #[arg(long)]
    pub from: Option<String>,
    /// Advanced search: words or addresses in To, Cc or Bcc.
    #[arg(long)]
    pub to: Option<String>,
    /// Sent on or after this day (2024-01-31, 2024-01 or 2024).
    #[arg(long, value_name = "DAY")]
    pub date_from: Option<String>,
    /// Sent on or before this day (inclusive).
    #[arg(long, value_name = "DAY")]
    pub date_to: Option<String>,
    /// Archived on or after this day.
    #[arg(long, value_name = "DAY")]
    pub archived_from: Option<String>,
    /// Archived on or before this day (inclusive).
    #[arg(long, value_name = "DAY")]
    pub archived_to: Option<String>,
    /// Only in this archive store.
    #[arg(long, value_name = "ID")]
    pub store: Option<u32>,
    /// Only messages with attachments.
    #[arg(long, conflicts_with = "without_attachments")]
    pub with_attachments: bool,
    /// Only messages without attachments.
    #[arg(long)]
    pub without_attachments: bool,
    /// At least this size (400K, 5M, or bytes).
    #[arg(long, value_name = "SIZE")]
    pub min_size: Option<String>,
    /// At most this size.
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,
    /// Only these priorities: low, normal, high (several allowed, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PRIORITY")]
    pub priority: Vec<String>,
    /// Search as this user: only what this user may read.
    #[arg(long)]
    pub user: Option<String>,
    /// Only in this folder (ARCHIVE/FOLDER/...) and its subfolders.
    #[arg(long)]
    pub folder: Option<String>,
    /// With --folder: not in its subfolders.
    #[arg(long, requires = "folder")]
    pub no_subfolders: bool,
    #[arg(long, value_enum, default_value = "date")]
    pub sort: SortKey,
    /// Oldest (smallest) first instead of newest (largest) first.
    #[arg(long)]
    pub ascending: bool,
    /// Results per page.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Skip this many results (paging).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Also save these criteria as a saved search of the user (or of `admin`) under NAME.
    #[arg(long, value_name = "NAME")]
    pub save: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// Where the advanced search's text is looked for.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SearchInArg {
    Subject,
    /// From, To, Cc and Bcc.
    Addresses,
    Body,
    /// Attachment file names.
    Filenames,
    /// Attachment contents.
    Attachments,
}

#[derive(Subcommand, Debug)]
pub enum SavedCommand {
    /// List a user's saved searches with their criteria.
    List {
        #[arg(long, default_value = "admin")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Run a saved search.
    Run {
        name: String,
        #[arg(long, default_value = "admin")]
        user: String,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    Rename {
        name: String,
        new_name: String,
        #[arg(long, default_value = "admin")]
        user: String,
    },
    Delete {
        name: String,
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// ARCHIVE[/FOLDER/...]; nothing lists the user archives.
    pub folder: Option<String>,
    /// Also list everything below the folder.
    #[arg(long, short)]
    pub recursive: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// List archive stores with their status and location.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create an archive store.
    Create {
        /// Name [default: YYYY-MM].
        #[arg(long)]
        name: Option<String>,
        /// Directory for the whole store (must be empty or new) [default: under stores/].
        #[arg(long)]
        path: Option<PathBuf>,
        /// Separate directory for the metadata database.
        #[arg(long, requires = "content_path")]
        meta_path: Option<PathBuf>,
        /// Separate directory for the content (pack files).
        #[arg(long, requires = "meta_path")]
        content_path: Option<PathBuf>,
        /// Archive new messages here (status current).
        #[arg(long)]
        current: bool,
    },
    /// Set a store's status: current, normal, writeProtected, disabled.
    SetStatus { id: u32, status: String },
    /// Rebuild a store's database (store.redb) from the recovery records in its packs, when
    /// it is lost or broken (API RecoverStore). The store must be disabled or unavailable;
    /// the old database is kept beside as store.redb.broken-<time>, the search index is
    /// rebuilt, and the store opens again unless it is disabled.
    Recover {
        id: u32,
        /// Also bring back deleted messages whose records and content are still in the
        /// packs (not after a compaction).
        #[arg(long)]
        recover_deleted: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write a store's recovery records anew: a snapshot of its whole state (API
    /// RecreateRecoveryRecords; `arkiv verify` says when it is needed).
    RecreateRecoveryRecords { id: u32 },
}

#[derive(Subcommand, Debug)]
#[command(
    after_help = "A profile's properties are JSON (every field is described in the OpenAPI\n\
    description of `arkiv serve`, schema ProfileProperties), e.g.:\n\n  \
    {\"name\": \"Alice\", \"type\": \"imap\", \"host\": \"mail.example.com\", \"userName\": \"alice@example.com\",\n   \
    \"targetUser\": \"alice\", \"deletion\": {\"rule\": \"afterArchived\", \"amount\": 90, \"unit\": \"days\"},\n   \
    \"automatic\": {\"waitSeconds\": 600, \"notBetween\": {\"from\": \"01:00\", \"to\": \"03:00\"}}}\n\n\
    Types: imap, pop3, imapMultidrop, pop3Multidrop, imapMasterPassword, imapCsv. Without a\n\
    \"password\" in the JSON it is read from ARKIV_SOURCE_PASSWORD (or asked for); it is kept\n\
    sealed and never shown again."
)]
pub enum ProfileCommand {
    /// Create a profile from its properties (a JSON file, or - for standard input).
    Create {
        #[arg(long, value_name = "FILE")]
        properties: PathBuf,
        /// The owner [default: admin].
        #[arg(long)]
        owner: Option<String>,
    },
    /// List the profiles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a profile's properties (never the password) and its last result.
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Run a profile now. Exit codes: 0 everything archived, 2 some messages or mailboxes
    /// failed, 1 nothing could be done.
    Run {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Delete a profile (the mail it archived stays).
    Delete { id: u64 },
    /// The run history: newest first.
    Results {
        /// Only this profile.
        id: Option<u64>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// With each run's debug log.
        #[arg(long)]
        log: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Generate the deterministic benchmark corpus (one mbox per user folder).
    Corpus {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// attachment-heavy (~45 KB/message) or text-only (~4 KB/message).
        #[arg(long, default_value = "attachment-heavy")]
        profile: String,
    },
    /// Import a corpus into a fresh data directory; print messages/s, MB/s, stored ÷ original,
    /// peak memory, and `zstd -3` of the same files side by side.
    Import {
        /// A corpus made by `arkiv bench corpus`.
        #[arg(long)]
        corpus: PathBuf,
        /// Where to put the benchmark's data directory [default: a temporary directory].
        #[arg(long)]
        work: Option<PathBuf>,
        /// Skip running zstd.
        #[arg(long)]
        no_peer: bool,
        /// Archive only; do not build the search index (the storage-only figure).
        #[arg(long)]
        no_index: bool,
        /// Index attachment contents too (every file-type group), read in the sandbox process.
        #[arg(long, conflicts_with = "no_index")]
        attachment_contents: bool,
        #[arg(long)]
        json: bool,
    },
    /// What logons cost the running server: Administration API calls per second with HTTP
    /// Basic on every call, without and with the credential cache; a burst of concurrent wrong
    /// logons from one and from many addresses, with the server's peak memory.
    Api {
        /// Calls per measurement.
        #[arg(long, default_value_t = 300)]
        calls: usize,
        /// Concurrent wrong logons in the burst.
        #[arg(long, default_value_t = 150)]
        logons: usize,
        #[arg(long)]
        json: bool,
    },
    /// Archive one mailbox (the generated corpus in its folders) from a private Dovecot over
    /// IMAPS, side by side with `mbsync` pulling the same mailbox into a Maildir: messages/s,
    /// MB/s, the time ratio, peak memory, and the time of a re-run with nothing new. Needs
    /// root (Dovecot), dovecot-imapd and isync.
    Imap {
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
        /// text-only (~4 KB/message) or attachment-heavy (~45 KB/message).
        #[arg(long, default_value = "text-only")]
        profile: String,
        /// Where the corpus Maildir is kept (reused by later runs) and the work happens
        /// [default: a temporary directory].
        #[arg(long)]
        work: Option<PathBuf>,
        /// Skip mbsync.
        #[arg(long)]
        no_peer: bool,
        #[arg(long)]
        json: bool,
    },
    /// Arkiv's IMAP server side by side with Dovecot serving the same mailbox from a Maildir,
    /// both over IMAPS: a full mbsync pull (messages/s, MB/s, the speed ratio; goal >= 0.7x
    /// Dovecot's), `UID SEARCH TEXT` and `SEARCH FROM` latency p50/p95 (goal: p95 >= 20x
    /// faster than Dovecot's), and the server's peak memory while many clients read a whole
    /// folder at once (goal < 300 MB with 50). Needs root (Dovecot), dovecot-imapd and isync.
    ImapServer {
        /// A corpus made by `arkiv bench corpus`: the user with the most mail is measured
        /// [default: a corpus of --messages generated under --work, all of it one mailbox].
        #[arg(long)]
        corpus: Option<PathBuf>,
        #[arg(long, default_value_t = 10_000, conflicts_with = "corpus")]
        messages: usize,
        /// text-only (~4 KB/message) or attachment-heavy (~45 KB/message).
        #[arg(long, default_value = "text-only", conflicts_with = "corpus")]
        profile: String,
        /// Where the archive, the Maildir (and a generated corpus) are built once and reused by
        /// later runs [default: a temporary directory].
        #[arg(long)]
        work: Option<PathBuf>,
        /// Concurrent clients reading a whole folder in the memory measurement.
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Queries of each kind (words for TEXT, addresses for FROM).
        #[arg(long, default_value_t = 20)]
        queries: usize,
        /// Timed runs of each full pull and of each query per server, after a warm-up.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// The SMTP journal receiver under load: Postfix's smtp-source sends distinct messages
    /// into `arkiv serve --listen-smtp` (a fresh data directory per run) and into Postfix's
    /// smtp-sink (accepts and discards: the protocol ceiling), at each concurrency and size;
    /// messages/s, the ratio, and the server's peak memory; afterwards the archive must hold
    /// exactly the messages answered 250, all indexed. Goals: >= 1,500 small messages/s at
    /// 32 sessions, >= 0.5x smtp-sink, peak memory < 300 MB. Needs postfix (smtp-source,
    /// smtp-sink).
    Smtp {
        /// Messages per run [default: 5000 small, 1000 medium].
        #[arg(long)]
        messages: Option<usize>,
        /// Message sizes: small (4 KiB body), medium (100 KiB body), or a body size in bytes.
        #[arg(long, value_delimiter = ',', default_value = "small,medium")]
        sizes: Vec<String>,
        /// Concurrent SMTP sessions, one run each.
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        concurrency: Vec<usize>,
        /// Also a private Postfix that queues each message and delivers it into a Maildir (a
        /// third column; needs root).
        #[arg(long)]
        postfix: bool,
        /// Runs of each server at each size and concurrency; the median is reported.
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Where the data directories are made (and kept) [default: a temporary directory,
        /// removed].
        #[arg(long)]
        work: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Search latency (p50/p95 over a fixed set of realistic queries, whole CLI process per
    /// query), with `mu` and `notmuch` on the same corpus side by side, and warm in-process
    /// latency.
    Search {
        /// A corpus made by `arkiv bench corpus`.
        #[arg(long)]
        corpus: PathBuf,
        /// Working directory: the Arkiv data directory, the Maildir copy and the peers' databases
        /// are built there once and reused by later runs.
        #[arg(long)]
        work: PathBuf,
        /// Skip mu and notmuch.
        #[arg(long)]
        no_peers: bool,
        /// Runs of each query per tool.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long)]
        json: bool,
    },
    /// How long RecoverStore takes: the current store's database rebuilt from the recovery
    /// records in its packs (with the search index), next to reading the packs once (the
    /// peer). The data directory is built from the corpus once in WORK and reused.
    Recover {
        /// A corpus made by `arkiv bench corpus`.
        #[arg(long)]
        corpus: PathBuf,
        #[arg(long)]
        work: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Web Access latency: the search page, the message view (page and sanitized body) and,
    /// as the baseline, the JSON API's search, over HTTPS keep-alive with gzip at 1 and 8
    /// concurrent signed-in clients (p50/p95, bytes transferred), and the size of the first
    /// page load. Goals: search page p95 <= 30 ms, message view p95 <= 40 ms at 100,000
    /// messages, first load <= 150 KB.
    Web {
        /// A corpus made by `arkiv bench corpus` (e.g. --messages 100000 --profile text-only).
        #[arg(long)]
        corpus: PathBuf,
        /// Working directory: the archive is built there once (the same one `bench search`
        /// builds) and reused by later runs.
        #[arg(long)]
        work: PathBuf,
        /// Rounds per concurrency (each: a search page, a message view, a JSON search).
        #[arg(long, default_value_t = 400)]
        requests: usize,
        #[arg(long)]
        json: bool,
    },
}
