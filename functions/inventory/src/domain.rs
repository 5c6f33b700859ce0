//! Validation at the edge: raw input becomes these types before any SQL runs, and every
//! refusal says which field and why.

use serde::Deserialize;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 2000;
pub const LIMIT_DEFAULT: i64 = 100;
pub const LIMIT_MAX: i64 = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

/// A movie id from the path: a positive 64-bit integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MovieId(pub i64);

impl TryFrom<&str> for MovieId {
    type Error = Invalid;
    fn try_from(raw: &str) -> Result<Self, Invalid> {
        let is_digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        match raw.parse::<i64>() {
            Ok(n) if is_digits && n > 0 => Ok(Self(n)),
            // An over-long value is not echoed back whole.
            _ if raw.len() > 64 => Err(invalid(
                "id",
                format!(
                    "is not a positive integer ({} characters)",
                    raw.chars().count()
                ),
            )),
            _ => Err(invalid("id", format!("{raw:?} is not a positive integer"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Title {
    type Error = Invalid;
    /// The rules `openapi.yaml` states (`maxLength` on the text as sent, then a pattern): at most
    /// 200 characters, no control character (Unicode `Cc`), at least one that is not white
    /// space. The stored title is trimmed.
    fn try_from(raw: String) -> Result<Self, Invalid> {
        if raw.chars().count() > TITLE_MAX {
            return Err(invalid(
                "title",
                format!("must be at most {TITLE_MAX} characters"),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(invalid("title", "must not contain control characters"));
        }
        let t = raw.trim();
        if t.is_empty() {
            return Err(invalid("title", "must not be blank"));
        }
        Ok(Self(t.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Description {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        if raw.chars().count() > DESCRIPTION_MAX {
            return Err(invalid(
                "description",
                format!("must be at most {DESCRIPTION_MAX} characters"),
            ));
        }
        // PostgreSQL text cannot hold NUL; other control characters (newlines) are fine.
        if raw.contains('\0') {
            return Err(invalid("description", "must not contain NUL characters"));
        }
        Ok(Self(raw))
    }
}

/// `POST /api/movies` body as sent: `title` required, `description` absent or a string (`null`
/// is refused, as the schema's `type: string` says).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMovie {
    pub title: Title,
    pub description: Description,
}

impl TryFrom<CreateBody> for NewMovie {
    type Error = Invalid;
    fn try_from(body: CreateBody) -> Result<Self, Invalid> {
        let title = match body.title {
            None => return Err(invalid("title", "is required")),
            Some(None) => return Err(invalid("title", "must not be null")),
            Some(Some(t)) => t,
        };
        let description = match body.description {
            None => String::new(),
            Some(None) => return Err(invalid("description", "must not be null")),
            Some(Some(d)) => d,
        };
        Ok(Self {
            title: title.try_into()?,
            description: description.try_into()?,
        })
    }
}

/// `PUT /api/movies/{id}` body as sent: each field absent (kept) or a string; `null` is refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoviePatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
}

impl TryFrom<UpdateBody> for MoviePatch {
    type Error = Invalid;
    fn try_from(body: UpdateBody) -> Result<Self, Invalid> {
        if body.title.is_none() && body.description.is_none() {
            return Err(invalid("body", "give at least one of title, description"));
        }
        let title = match body.title {
            None => None,
            Some(None) => return Err(invalid("title", "must not be null")),
            Some(Some(t)) => Some(t.try_into()?),
        };
        let description = match body.description {
            None => None,
            Some(None) => return Err(invalid("description", "must not be null")),
            Some(Some(d)) => Some(d.try_into()?),
        };
        Ok(Self { title, description })
    }
}

/// `GET /api/movies` query: an optional title filter, a page size and a keyset cursor. Pages run
/// newest first (highest id first: ids come from one sequence, in the order movies are
/// created), so the cursor is the last id of the page before and the next page holds smaller
/// ids. Rows added meanwhile land before the cursor and rows deleted simply vanish: no row is
/// skipped or repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The ILIKE pattern, wildcards in the user's text escaped so they match literally.
    pub title_pattern: Option<String>,
    pub title: Option<String>,
    pub limit: i64,
    /// Return movies with `id < before` (the first page: every id).
    pub before: i64,
}

impl TryFrom<Vec<(String, String)>> for ListQuery {
    type Error = Invalid;
    fn try_from(params: Vec<(String, String)>) -> Result<Self, Invalid> {
        let mut q = Self {
            title_pattern: None,
            title: None,
            limit: LIMIT_DEFAULT,
            before: FIRST_PAGE,
        };
        for (k, v) in params {
            match k.as_str() {
                "title" => {
                    if v.chars().count() > TITLE_MAX {
                        return Err(invalid(
                            "title",
                            format!("must be at most {TITLE_MAX} characters"),
                        ));
                    }
                    if v.contains('\0') {
                        return Err(invalid("title", "must not contain NUL characters"));
                    }
                    q.title_pattern = Some(format!("%{}%", escape_like(&v)));
                    q.title = Some(v);
                }
                "limit" => {
                    let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
                    q.limit = match v.parse::<i64>() {
                        Ok(n) if digits && (1..=LIMIT_MAX).contains(&n) => n,
                        _ => {
                            return Err(invalid(
                                "limit",
                                format!("must be an integer from 1 to {LIMIT_MAX}"),
                            ));
                        }
                    }
                }
                // `cursor=` (empty) is the first page, as if absent: a client that builds
                // `?cursor={next}` with no next yet gets the start, not a 400.
                "cursor" if v.is_empty() => q.before = FIRST_PAGE,
                "cursor" => {
                    q.before = cursor(&v)
                        .ok_or_else(|| invalid("cursor", "is not a cursor this API returned"))?
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

/// The cursor of the first page: above every id.
pub const FIRST_PAGE: i64 = i64::MAX;

/// A cursor is a movie id in decimal: digits, at most 18 significant (the pattern in
/// `openapi.yaml`), greater than 0.
fn cursor(v: &str) -> Option<i64> {
    let significant = v.trim_start_matches('0');
    if !v.bytes().all(|b| b.is_ascii_digit()) || significant.is_empty() || significant.len() > 18 {
        return None;
    }
    significant.parse().ok()
}

/// Escapes LIKE metacharacters so user text matches literally (with `ESCAPE '\'`).
pub fn escape_like(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_integers_only() {
        assert_eq!(MovieId::try_from("42"), Ok(MovieId(42)));
        for bad in [
            "0",
            "-1",
            "+1",
            "abc",
            "1.5",
            "",
            " 1",
            "99999999999999999999",
            "1e3",
        ] {
            assert!(MovieId::try_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn titles_are_trimmed_bounded_and_clean() {
        assert_eq!(
            Title::try_from("  Alien ".to_owned()).unwrap().as_str(),
            "Alien"
        );
        assert!(Title::try_from("   ".to_owned()).is_err());
        assert!(Title::try_from("a".repeat(TITLE_MAX + 1)).is_err());
        assert!(
            Title::try_from("é".repeat(TITLE_MAX)).is_ok(),
            "limit counts characters"
        );
        assert!(Title::try_from("a\0b".to_owned()).is_err());
        // The length counts the text as sent (openapi.yaml's maxLength), blanks included.
        assert!(Title::try_from(format!(" {} ", "a".repeat(TITLE_MAX - 1))).is_err());
        for bad in ["\t", "\u{85}", "a\nb", "\u{3000}\u{a0} "] {
            assert!(Title::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
        assert_eq!(
            Title::try_from("\u{a0}Ève\u{3000}".to_owned())
                .unwrap()
                .as_str(),
            "Ève"
        );
        assert!(Description::try_from("x".repeat(DESCRIPTION_MAX + 1)).is_err());
        assert!(Description::try_from("line\nline".to_owned()).is_ok());
        assert!(Description::try_from("nul\0".to_owned()).is_err());
    }

    #[test]
    fn create_requires_title_and_refuses_null() {
        let parse = |s: &str| NewMovie::try_from(serde_json::from_str::<CreateBody>(s).unwrap());
        assert_eq!(parse(r#"{"description":"d"}"#).unwrap_err().field, "title");
        assert_eq!(parse(r#"{"title":null}"#).unwrap_err().field, "title");
        assert_eq!(
            parse(r#"{"title":"t","description":null}"#)
                .unwrap_err()
                .field,
            "description"
        );
        assert_eq!(parse(r#"{"title":"t"}"#).unwrap().description.as_str(), "");
    }

    #[test]
    fn patch_needs_a_field_and_refuses_null() {
        let parse = |s: &str| MoviePatch::try_from(serde_json::from_str::<UpdateBody>(s).unwrap());
        assert!(parse("{}").is_err());
        assert!(parse(r#"{"title":null}"#).is_err());
        let p = parse(r#"{"description":"new"}"#).unwrap();
        assert_eq!(p.title, None);
        assert_eq!(p.description.unwrap().as_str(), "new");
        assert!(serde_json::from_str::<UpdateBody>(r#"{"rating":5}"#).is_err());
    }

    #[test]
    fn list_query_bounds_and_escapes() {
        let q = |pairs: &[(&str, &str)]| {
            ListQuery::try_from(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<Vec<_>>(),
            )
        };
        let ok = q(&[("title", "100%_a\\b"), ("limit", "5"), ("cursor", "7")]).unwrap();
        assert_eq!(ok.title_pattern.as_deref(), Some("%100\\%\\_a\\\\b%"));
        assert_eq!((ok.limit, ok.before), (5, 7));
        assert_eq!(q(&[]).unwrap().before, FIRST_PAGE);
        assert_eq!(q(&[]).unwrap().limit, LIMIT_DEFAULT);
        assert_eq!(
            q(&[("cursor", "")]).unwrap().before,
            FIRST_PAGE,
            "empty cursor: first page"
        );
        assert_eq!(q(&[("cursor", "007")]).unwrap().before, 7);
        assert_eq!(
            q(&[("cursor", "999999999999999999")]).unwrap().before,
            999_999_999_999_999_999
        );
        for bad in [
            ("limit", "0"),
            ("limit", "-1"),
            ("limit", "501"),
            ("limit", "x"),
            ("cursor", "-3"),
            ("cursor", "0"),
            ("cursor", "+3"),
            ("cursor", "1000000000000000000"),
            ("limit", "+5"),
            ("limit", ""),
        ] {
            assert!(q(&[bad]).is_err(), "{bad:?}");
        }
    }
}
