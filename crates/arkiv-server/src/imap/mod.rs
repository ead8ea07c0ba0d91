//! The read-only IMAP service (D3, manual §3.5 and §6.2), built in steps.
//!
//! The protocol layer stays apart from the sockets (STYLE habit 5): [`frame`] turns the bytes
//! a client sends into whole commands under per-command limits (line, literal, command size,
//! nesting), sans-IO and tested by splitting its input at every byte; imap-codec decodes and
//! encodes; the session (commands in their own files) answers from the archive through the
//! access core, as every other door does.
//!
//! So far: the command framer.

pub mod frame;
