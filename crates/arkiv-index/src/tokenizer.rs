//! Arkiv's analyzer: words, their joined wholes, ASCII folding, CJK characters.
//!
//! * A word is a run of letters and digits, with the combining marks that follow them; each
//!   token is put in Unicode NFC first, so `u` + U+0308 (as macOS writes it) is `ü`.
//! * Lower-cased and folded to ASCII: `Müller` is indexed as `muller`, found by `muller` and
//!   `müller` (queries are analysed the same way).
//! * **German transliteration**: a word with `ä`, `ö` or `ü` is indexed a second time, at the
//!   same position, as German writes it without them (`ae`, `oe`, `ue`): `unterstützt` is
//!   found by `unterstuetzt` as well as by `unterstützt` and `unterstutzt`, `Grüße` by
//!   `gruesse` (`ß` folds to `ss` anyway). Only the index gets the second form, never the
//!   query ([`query_analyzer`]), so a query word means exactly one term; a word without those
//!   letters gets no second form, so no new collisions arise beyond those of ASCII folding.
//! * Scripts written without spaces between words (Chinese, Japanese, Korean, Thai, Lao,
//!   Khmer, Myanmar) are indexed character by character, so any run of characters is found
//!   as a phrase.

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark, is_nfc};

/// Name under which the analyzer is registered in the index.
pub const ANALYZER: &str = "arkiv";

/// Version of the analysis: an index built by another one is marked "please rebuild".
/// 1: words, wholes, ASCII folding, CJK characters. 2: NFC, German transliteration, Thai,
/// Lao, Khmer, Myanmar and half-width katakana character by character.
pub const ANALYZER_VERSION: u32 = 2;

/// Characters that join word parts into a whole (`firstname.lastname@example.com`).
pub fn is_joiner(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | '-' | '_' | '@' | '/' | '\\' | '\0' | '\'' | ':' | '+'
    )
}

/// Characters of scripts written without spaces between words: each is a token.
fn is_single(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF // Thai, Lao
        | 0x1000..=0x109F // Myanmar
        | 0x1100..=0x11FF // Hangul Jamo
        | 0x1780..=0x17FF // Khmer
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3100..=0x31FF // Bopomofo, Hangul compatibility Jamo, Katakana extensions
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F // half-width Katakana
        | 0x20000..=0x2FA1F)
}

fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    (c.is_alphanumeric() || is_combining_mark(c)) && !is_single(c)
}

/// The analyzer of indexed text (with the German second forms).
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer { alternates: true })
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The analyzer of query words: as [`analyzer`], without second forms.
pub fn query_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer { alternates: false })
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Lower-cases and folds a literal (used for wildcard patterns, which are not tokenized).
pub fn fold(text: &str) -> String {
    let mut a = TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    let mut s = a.token_stream(text);
    let mut out = String::new();
    while let Some(t) = s.next() {
        out.push_str(&t.text);
    }
    out
}

/// Splits text into tokens; see the module documentation.
#[derive(Clone, Default)]
pub struct WordTokenizer {
    /// Also emit the German transliteration of words with umlauts (indexing only).
    pub alternates: bool,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream {
        WordStream {
            tokens: split(text, self.alternates),
            next: 0,
            token: Token::default(),
        }
    }
}

pub struct WordStream {
    tokens: Vec<Token>,
    next: usize,
    token: Token,
}

impl TokenStream for WordStream {
    fn advance(&mut self) -> bool {
        match self.tokens.get_mut(self.next) {
            Some(t) => {
                self.token = std::mem::take(t);
                self.next += 1;
                true
            }
            None => false,
        }
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Longest token kept; longer runs (base64 debris, hashes) are cut.
const MAX_TOKEN: usize = 80;

/// The German way to write a word without umlauts, if it has any.
fn transliterated(word: &str) -> Option<String> {
    if !word.contains(['ä', 'ö', 'ü', 'Ä', 'Ö', 'Ü']) {
        return None;
    }
    let mut out = String::with_capacity(word.len() + 4);
    for c in word.chars() {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'Ä' => out.push_str("Ae"),
            'Ö' => out.push_str("Oe"),
            'Ü' => out.push_str("Ue"),
            c => out.push(c),
        }
    }
    Some(out)
}

fn split(text: &str, alternates: bool) -> Vec<Token> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    let push = |out: &mut Vec<Token>, from: usize, to: usize, position: usize| {
        if to > from && to - from <= MAX_TOKEN * 4 {
            let span = &text[from..to];
            let ascii = span.is_ascii();
            let word = if ascii || is_nfc(span) {
                span.to_string()
            } else {
                span.nfc().collect()
            };
            let second = (alternates && !ascii)
                .then(|| transliterated(&word))
                .flatten();
            out.push(Token {
                offset_from: from,
                offset_to: to,
                position,
                text: word,
                position_length: 1,
            });
            if let Some(text) = second {
                out.push(Token {
                    offset_from: from,
                    offset_to: to,
                    position,
                    text,
                    position_length: 1,
                });
            }
        }
    };
    while i < chars.len() {
        let (at, c) = chars[i];
        if !c.is_ascii() && is_single(c) {
            push(&mut out, at, at + c.len_utf8(), pos);
            pos += 1;
            i += 1;
            continue;
        }
        if !is_word_char(c) {
            i += 1;
            continue;
        }
        // A compound: word parts joined by single joiner characters.
        let start_pos = pos;
        let start = at;
        let mut parts = 0;
        let mut end;
        loop {
            let part_start = chars[i].0;
            while i < chars.len() && is_word_char(chars[i].1) {
                i += 1;
            }
            let part_end = if i < chars.len() {
                chars[i].0
            } else {
                text.len()
            };
            push(&mut out, part_start, part_end, pos);
            pos += 1;
            parts += 1;
            end = part_end;
            if i + 1 < chars.len() && is_joiner(chars[i].1) && is_word_char(chars[i + 1].1) {
                i += 1;
                continue;
            }
            break;
        }
        if parts > 1 {
            push(&mut out, start, end, start_pos);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<(String, usize)> {
        let mut a = analyzer();
        let mut s = a.token_stream(text);
        let mut v = Vec::new();
        while let Some(t) = s.next() {
            v.push((t.text.clone(), t.position));
        }
        v
    }

    #[test]
    fn parts_and_wholes() {
        let t = tokens("Mail firstname.lastname@Example.com, now");
        let words: Vec<&str> = t.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            words,
            [
                "mail",
                "firstname",
                "lastname",
                "example",
                "com",
                "firstname.lastname@example.com",
                "now"
            ]
        );
        assert_eq!(t[5].1, 1, "the whole sits at its first part's position");
        assert_eq!(t[6].1, 5);
        assert_eq!(
            tokens("end. Next")[0].0,
            "end",
            "a sentence end is no joiner"
        );
    }

    #[test]
    fn german_second_forms_in_the_index_only() {
        let words: Vec<(String, usize)> = tokens("Grüße, unterstützt. Straße Übel");
        assert_eq!(
            words,
            [
                ("grusse".into(), 0),
                ("gruesse".into(), 0),
                ("unterstutzt".into(), 1),
                ("unterstuetzt".into(), 1),
                ("strasse".into(), 2),
                ("ubel".into(), 3),
                ("uebel".into(), 3),
            ]
        );
        let mut q = query_analyzer();
        let mut s = q.token_stream("unterstützt Mueller");
        let mut v = Vec::new();
        while let Some(t) = s.next() {
            v.push(t.text.clone());
        }
        assert_eq!(v, ["unterstutzt", "mueller"]);
    }

    #[test]
    fn decomposed_marks_and_unspaced_scripts() {
        // `u` + COMBINING DIAERESIS, as macOS writes file names.
        let words: Vec<String> = tokens("Mu\u{308}ller").into_iter().map(|x| x.0).collect();
        assert_eq!(words, ["muller", "mueller"]);
        let words: Vec<String> = tokens("งบประมาณ ｱｲ").into_iter().map(|x| x.0).collect();
        assert_eq!(words.len(), 10, "{words:?}");
    }

    #[test]
    fn folding_and_cjk() {
        let words: Vec<String> = tokens("Grüße aus Köln 東京都 ok")
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(
            words,
            [
                "grusse", "gruesse", "aus", "koln", "koeln", "東", "京", "都", "ok"
            ]
        );
        assert_eq!(fold("Müller.*"), "muller.*");
    }
}
