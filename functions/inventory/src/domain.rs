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
    fn try_from(raw: String) -> Result<Self, Invalid> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(invalid("title", "must not be blank"));
        }
        if t.chars().count() > TITLE_MAX {
            return Err(invalid(
                "title",
                format!("must be at most {TITLE_MAX} characters"),
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(invalid("title", "must not contain control characters"));
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

/// `POST /api/movies` body as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    pub title: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMovie {
    pub title: Title,
    pub description: Description,
}

impl TryFrom<CreateBody> for NewMovie {
    type Error = Invalid;
    fn try_from(body: CreateBody) -> Result<Self, Invalid> {
        let title = body.title.ok_or_else(|| invalid("title", "is required"))?;
        Ok(Self {
            title: title.try_into()?,
            description: body.description.unwrap_or_default().try_into()?,
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

/// `GET /api/movies` query: an optional title filter, a page size and a keyset cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The ILIKE pattern, wildcards in the user's text escaped so they match literally.
    pub title_pattern: Option<String>,
    pub title: Option<String>,
    pub limit: i64,
    /// Return movies with `id > after`.
    pub after: i64,
}

impl TryFrom<Vec<(String, String)>> for ListQuery {
    type Error = Invalid;
    fn try_from(params: Vec<(String, String)>) -> Result<Self, Invalid> {
        let mut q = Self {
            title_pattern: None,
            title: None,
            limit: LIMIT_DEFAULT,
            after: 0,
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
                    q.limit = match v.parse::<i64>() {
                        Ok(n) if (1..=LIMIT_MAX).contains(&n) => n,
                        _ => {
                            return Err(invalid(
                                "limit",
                                format!("must be an integer from 1 to {LIMIT_MAX}"),
                            ));
                        }
                    }
                }
                "cursor" => {
                    q.after = MovieId::try_from(v.as_str())
                        .map_err(|_| invalid("cursor", "is not a cursor this API returned"))?
                        .0
                }
                _ => {}
            }
        }
        Ok(q)
    }
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
        assert!(Description::try_from("x".repeat(DESCRIPTION_MAX + 1)).is_err());
        assert!(Description::try_from("line\nline".to_owned()).is_ok());
        assert!(Description::try_from("nul\0".to_owned()).is_err());
    }

    #[test]
    fn create_requires_title() {
        let err = NewMovie::try_from(CreateBody {
            title: None,
            description: Some("d".into()),
        })
        .unwrap_err();
        assert_eq!(err.field, "title");
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
        assert_eq!((ok.limit, ok.after), (5, 7));
        assert_eq!(q(&[]).unwrap().limit, LIMIT_DEFAULT);
        for bad in [
            ("limit", "0"),
            ("limit", "-1"),
            ("limit", "501"),
            ("limit", "x"),
            ("cursor", "-3"),
        ] {
            assert!(q(&[bad]).is_err(), "{bad:?}");
        }
    }
}
