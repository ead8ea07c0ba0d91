//! Arkiv's analyzer: words, their joined wholes, ASCII folding, CJK characters.

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Name under which the analyzer is registered in the index.
pub const ANALYZER: &str = "arkiv";

/// Characters that join word parts into a whole (`firstname.lastname@example.com`).
pub fn is_joiner(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | '-' | '_' | '@' | '/' | '\\' | '\0' | '\'' | ':' | '+'
    )
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF | 0x20000..=0x2FA1F)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// The analyzer used for every text field.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer)
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

/// Splits text into tokens; see the crate documentation.
#[derive(Clone, Default)]
pub struct WordTokenizer;

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream {
        WordStream {
            tokens: split(text),
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

fn split(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    let push = |out: &mut Vec<Token>, from: usize, to: usize, position: usize| {
        if to > from && to - from <= MAX_TOKEN * 4 {
            out.push(Token {
                offset_from: from,
                offset_to: to,
                position,
                text: text[from..to].to_string(),
                position_length: 1,
            });
        }
    };
    while i < chars.len() {
        let (at, c) = chars[i];
        if is_cjk(c) {
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
    fn folding_and_cjk() {
        let words: Vec<String> = tokens("Grüße aus Köln 東京都 ok")
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(words, ["grusse", "aus", "koln", "東", "京", "都", "ok"]);
        assert_eq!(fold("Müller.*"), "muller.*");
    }
}
