//! Routes from `openapi.yaml`, matched the way API Gateway HTTP APIs match them.
//!
//! Each operation names its function with `x-function` and its authorization with `security`
//! (operation level, else the document's). A route is `METHOD /path/{param}`; `{name+}` is a
//! greedy parameter. When several routes match, the one with the most literal segments wins
//! (API Gateway: "the most specific match"). A request that matches no route, including a known
//! path with another method, gets API Gateway's `404 {"message":"Not Found"}`.
//!
//! One trailing slash is not significant: `/api/movies/` matches the `/api/movies` route and
//! `/api/movies/7/` matches `/api/movies/{id}`, while `/api/movies//` and `/api/movies/` (as an
//! empty `{id}`) match nothing. AWS's route guide does not spell this out; the rule is the one
//! API Gateway is observed to apply and that AWS's own tools copy: aws-sam-cli made its local API
//! "match AWS APIG slashes behavior" (`/foo/` answered by the `/foo` route, aws/aws-sam-cli#1495),
//! Powertools' resolvers ignore a trailing slash because "AWS API Gateway routes `/my/path` and
//! `/my/path/` in the same way" (aws-powertools/powertools-lambda-python#1552, #1609), and a
//! path variable is never matched by an empty segment (aws/chalice#588). The payload-2.0 event
//! keeps the slash in `rawPath` and drops it from `requestContext.http.path`
//! (adamchainz/apig-wsgi#376, floci-io/floci#2136), so the functions normalise the path they
//! get (`http_edge::trailing_slash`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_norway::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `security: []`: no authorizer.
    None,
    /// The JWT authorizer, with the scopes the route requires (any one of them).
    Jwt { scopes: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
    pub auth: Auth,
    segments: Vec<Segment>,
}

impl Route {
    /// `GET /api/movies/{id}`: the route key API Gateway puts in the event.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    fn matches(&self, path_segments: &[&str]) -> Option<BTreeMap<String, String>> {
        let mut params = BTreeMap::new();
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Greedy(name) => {
                    let rest = path_segments.get(i..)?;
                    if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                        return None;
                    }
                    params.insert(name.clone(), crate::apigw::percent_decoded(&rest.join("/")));
                    return Some(params);
                }
                Segment::Literal(lit) => {
                    if path_segments.get(i)? != lit {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let value = path_segments.get(i)?;
                    if value.is_empty() {
                        return None;
                    }
                    params.insert(name.clone(), crate::apigw::percent_decoded(value));
                }
            }
        }
        (path_segments.len() == self.segments.len()).then_some(params)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: Vec<Route>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("parsing OpenAPI: {0}")]
    Parse(#[from] serde_norway::Error),
    #[error("{0}")]
    Invalid(String),
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

impl Routes {
    pub fn load(path: &Path) -> Result<Self, OpenApiError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| OpenApiError::Read(path.display().to_string(), e))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, OpenApiError> {
        let doc: Value = serde_norway::from_str(text)?;
        let global_security = doc.get("security");
        let paths = doc
            .get("paths")
            .and_then(Value::as_mapping)
            .ok_or_else(|| OpenApiError::Invalid("no `paths` in the document".into()))?;
        let mut routes = Vec::new();
        for (path, item) in paths {
            let path = path
                .as_str()
                .ok_or_else(|| OpenApiError::Invalid("a path is not a string".into()))?;
            let path_function = item.get("x-function").and_then(Value::as_str);
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let function = op
                    .get("x-function")
                    .and_then(Value::as_str)
                    .or(path_function)
                    .ok_or_else(|| {
                        OpenApiError::Invalid(format!(
                            "{} {path} has no x-function naming its Lambda",
                            method.to_uppercase()
                        ))
                    })?;
                let auth = auth_of(op.get("security").or(global_security));
                routes.push(Route {
                    method: method.to_uppercase(),
                    path: path.to_owned(),
                    function: function.to_owned(),
                    auth,
                    segments: segments(path),
                });
            }
        }
        if routes.is_empty() {
            return Err(OpenApiError::Invalid("no operations in `paths`".into()));
        }
        Ok(Self { routes })
    }

    pub fn all(&self) -> &[Route] {
        &self.routes
    }

    /// The route for `method` and `path` (the raw, still percent-encoded path) and its path
    /// parameters (decoded).
    pub fn find(&self, method: &str, path: &str) -> Option<(&Route, BTreeMap<String, String>)> {
        let parts: Vec<&str> = route_path(path)
            .trim_start_matches('/')
            .split('/')
            .collect();
        self.routes
            .iter()
            .filter(|r| r.method == method)
            .filter_map(|r| r.matches(&parts).map(|p| (r, p)))
            .max_by_key(|(r, _)| {
                let greedy = r.segments.iter().any(|s| matches!(s, Segment::Greedy(_)));
                (!greedy, r.literal_count())
            })
    }
}

/// The path routes are matched against: `path` without ONE trailing slash (not the root's).
/// It is also the event's `requestContext.http.path`; `rawPath` keeps the slash.
pub fn route_path(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(p) if !p.is_empty() && !p.ends_with('/') => p,
        _ => path,
    }
}

fn segments(path: &str) -> Vec<Segment> {
    path.trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(g) => Segment::Greedy(g.to_owned()),
                    None => Segment::Param(name.to_owned()),
                },
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// An empty requirement list, or one holding an empty requirement (`[{}]`), means no auth.
fn auth_of(security: Option<&Value>) -> Auth {
    let Some(list) = security.and_then(Value::as_sequence) else {
        return Auth::None;
    };
    for requirement in list {
        let Some(map) = requirement.as_mapping() else {
            continue;
        };
        if let Some((_, scopes)) = map.iter().next() {
            let scopes = scopes
                .as_sequence()
                .map(|s| {
                    s.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            return Auth::Jwt { scopes };
        }
    }
    Auth::None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
openapi: 3.0.3
security: [{cognito: []}]
paths:
  /health:
    get: {x-function: inventory, security: []}
  /api/movies:
    get: {x-function: inventory}
    delete: {x-function: inventory}
  /api/movies/{id}:
    get: {x-function: inventory}
  /api/movies/search:
    get: {x-function: inventory, security: [{cognito: [movies/read]}]}
  /files/{path+}:
    get: {x-function: inventory}
"#;

    #[test]
    fn most_specific_route_wins_and_params_decode() {
        let routes = Routes::parse(DOC).unwrap();
        let (r, p) = routes.find("GET", "/api/movies/42").unwrap();
        assert_eq!(r.key(), "GET /api/movies/{id}");
        assert_eq!(p["id"], "42");
        let (r, _) = routes.find("GET", "/api/movies/search").unwrap();
        assert_eq!(r.key(), "GET /api/movies/search");
        assert_eq!(
            r.auth,
            Auth::Jwt {
                scopes: vec!["movies/read".into()]
            }
        );
        let (_, p) = routes.find("GET", "/api/movies/a%20b").unwrap();
        assert_eq!(p["id"], "a b");
        let (_, p) = routes.find("GET", "/files/a/b/c").unwrap();
        assert_eq!(p["path"], "a/b/c");
    }

    #[test]
    fn one_trailing_slash_is_ignored_as_api_gateway_does() {
        let routes = Routes::parse(DOC).unwrap();
        let key = |m: &str, p: &str| routes.find(m, p).map(|(r, _)| r.key());
        assert_eq!(
            key("GET", "/api/movies/").as_deref(),
            Some("GET /api/movies")
        );
        assert_eq!(
            key("DELETE", "/api/movies/").as_deref(),
            Some("DELETE /api/movies")
        );
        assert_eq!(key("GET", "/health/").as_deref(), Some("GET /health"));
        let (r, p) = routes.find("GET", "/api/movies/42/").unwrap();
        assert_eq!(
            (r.key().as_str(), p["id"].as_str()),
            ("GET /api/movies/{id}", "42")
        );
        assert_eq!(
            key("GET", "/api/movies/search/").as_deref(),
            Some("GET /api/movies/search")
        );
        // One slash only, and never an empty path variable.
        for path in ["/api/movies//", "/api//movies", "/api/movies/42//"] {
            assert_eq!(key("GET", path), None, "{path}");
        }
        assert_eq!(route_path("/api/movies/"), "/api/movies");
        assert_eq!(route_path("/"), "/");
        assert_eq!(route_path("/api/movies//"), "/api/movies//");
    }

    #[test]
    fn unknown_paths_and_methods_do_not_match() {
        let routes = Routes::parse(DOC).unwrap();
        assert!(routes.find("PATCH", "/api/movies/1").is_none());
        assert!(routes.find("GET", "/nope").is_none());
        assert!(routes.find("GET", "/files/").is_none());
        assert_eq!(routes.find("GET", "/health").unwrap().0.auth, Auth::None);
        assert_eq!(
            routes.find("DELETE", "/api/movies").unwrap().0.auth,
            Auth::Jwt { scopes: vec![] }
        );
    }

    /// The contract: every operation of the shipped openapi.yaml lists who may call it. User
    /// access tokens carry `aws.cognito.signin.user.admin`; the machine client gets one
    /// resource-server scope per kind of access. An ID token (no scope) passes none of them.
    #[test]
    fn every_shipped_operation_lists_its_scopes() {
        let routes = Routes::parse(include_str!("../../../openapi.yaml")).unwrap();
        let user = "aws.cognito.signin.user.admin";
        let expected = [
            ("GET /health", None),
            ("GET /api/movies", Some("crud-master/movies.read")),
            ("GET /api/movies/{id}", Some("crud-master/movies.read")),
            ("POST /api/movies", Some("crud-master/movies.write")),
            ("PUT /api/movies/{id}", Some("crud-master/movies.write")),
            ("DELETE /api/movies/{id}", Some("crud-master/movies.write")),
            ("DELETE /api/movies", Some("crud-master/movies.admin")),
            ("POST /api/billing", Some("crud-master/billing.write")),
            (
                "GET /api/billing/orders/{message_id}",
                Some("crud-master/billing.read crud-master/billing.audit"),
            ),
        ];
        assert_eq!(routes.all().len(), expected.len());
        for (key, machine_scopes) in expected {
            let route = routes.all().iter().find(|r| r.key() == key).unwrap();
            let want = match machine_scopes {
                None => Auth::None,
                Some(scopes) => Auth::Jwt {
                    scopes: std::iter::once(user)
                        .chain(scopes.split(' '))
                        .map(str::to_owned)
                        .collect(),
                },
            };
            assert_eq!(route.auth, want, "{key}");
        }
    }
}
