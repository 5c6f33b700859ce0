//! Every route through the gateway with Cognito's tokens, and who may delete every movie.

use super::*;

#[tokio::test]
async fn every_route_answers_through_the_gateway_with_a_user_token() {
    let s = Stack::start().await;
    let user = s.token("user");

    let (status, health) = s.call("GET", "/health", None, None).await;
    assert_eq!(status, 200, "{health}");

    let created = add_movie(&s, &user, json!({"title": "Alien", "description": "1979"})).await;
    let id = created["id"].as_i64().expect("the created movie has an id");
    assert_eq!(created["title"], "Alien");

    let (status, list) = s.call("GET", "/api/movies", Some(&user), None).await;
    assert_eq!(status, 200, "{list}");
    assert!(list.as_array().unwrap().iter().any(|m| m["id"] == id));
    let (status, found) = s
        .call("GET", "/api/movies?title=ali", Some(&user), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");

    let (status, movie) = s
        .call("GET", &format!("/api/movies/{id}"), Some(&user), None)
        .await;
    assert_eq!((status, &movie["title"]), (200, &json!("Alien")));
    let (status, updated) = s
        .call(
            "PUT",
            &format!("/api/movies/{id}"),
            Some(&user),
            Some(json!({"description": "Ridley Scott"})),
        )
        .await;
    assert_eq!(
        (status, &updated["description"]),
        (200, &json!("Ridley Scott")),
        "{updated}"
    );
    let (status, deleted) = s
        .call("DELETE", &format!("/api/movies/{id}"), Some(&user), None)
        .await;
    assert_eq!((status, &deleted["id"]), (200, &json!(id)));
    let (status, _) = s
        .call("GET", &format!("/api/movies/{id}"), Some(&user), None)
        .await;
    assert_eq!(status, 404);

    let order = json!({"user_id": "3", "number_of_items": "5", "total_amount": "180"});
    let message_id = s.order(&user, order).await;
    let path = format!("/api/billing/orders/{message_id}");
    let stored = s
        .eventually_ok(&path, &user, "the order to be stored")
        .await;
    assert_eq!(stored["message_id"], message_id);

    // API Gateway's own answer for a route openapi.yaml does not have.
    let (status, body) = s.call("GET", "/api/nope", Some(&user), None).await;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
}

#[tokio::test]
async fn deleting_every_movie_needs_the_admin_group() {
    let s = Stack::start().await;
    let (user, admin) = (s.token("user"), s.token("admin"));
    for title in ["A", "B"] {
        add_movie(&s, &user, json!({"title": title})).await;
    }
    let (status, body) = s.call("DELETE", "/api/movies", Some(&user), None).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = s.call("DELETE", "/api/movies", Some(&admin), None).await;
    assert_eq!((status, body), (200, json!({"deleted": 2})));
}

/// Real Cognito tokens through the gateway: `viewer` reads and is refused every write (a 403
/// problem from the function, the gateway having let the token through); the machine client's
/// `movies.write` scope edits.
#[tokio::test]
async fn only_editors_change_the_catalogue() {
    let s = Stack::start().await;
    let (user, viewer) = (s.token("user"), s.token("viewer"));
    let created = add_movie(&s, &user, json!({"title": "Heat"})).await;
    let one = format!("/api/movies/{}", created["id"]);
    let (status, _) = s.call("GET", &one, Some(&viewer), None).await;
    assert_eq!(status, 200);
    for (method, path, body) in [
        ("POST", "/api/movies", Some(json!({"title": "X"}))),
        ("PUT", one.as_str(), Some(json!({"title": "X"}))),
        ("DELETE", one.as_str(), None),
    ] {
        let (status, problem) = s.call(method, path, Some(&viewer), body).await;
        assert_eq!(status, 403, "{method} {path}: {problem}");
        assert_eq!(
            problem["status"], 403,
            "a problem from the function: {problem}"
        );
    }
    let writer = s.machine_token(&["movies.write"]);
    let (status, body) = s
        .call(
            "PUT",
            &one,
            Some(&writer),
            Some(json!({"title": "Heat (1995)"})),
        )
        .await;
    assert_eq!(
        (status, &body["title"]),
        (200, &json!("Heat (1995)")),
        "{body}"
    );
    let (status, _) = s.call("DELETE", &one, Some(&writer), None).await;
    assert_eq!(status, 200);
}

/// The route's scopes are the gateway's business (403 `{"message":"Forbidden"}`, as API
/// Gateway answers); the admin rule is the function's (403 problem+json).
#[tokio::test]
async fn admin_is_the_admin_group_or_the_machine_clients_exact_admin_scope() {
    let s = Stack::start().await;
    let user = s.token("user");

    // A machine token with only the read scope reads, and cannot write.
    let reader = s.machine_token(&["movies.read"]);
    let (status, _) = s.call("GET", "/api/movies", Some(&reader), None).await;
    assert_eq!(status, 200);
    let (status, body) = s
        .call(
            "POST",
            "/api/movies",
            Some(&reader),
            Some(json!({"title": "X"})),
        )
        .await;
    assert_eq!((status, body), (403, json!({"message": "Forbidden"})));
    let (status, _) = s.call("DELETE", "/api/movies", Some(&reader), None).await;
    assert_eq!(status, 403);

    // An id token has no scope: refused as API Gateway refuses a token without the route's scopes.
    let id = localaws(&s.state, &s.pool, &["token", "admin", "--id"]);
    for (method, path) in [("GET", "/api/movies"), ("DELETE", "/api/movies")] {
        let resp = s
            .http
            .request(method.parse().unwrap(), format!("{}{path}", s.url))
            .header("authorization", format!("Bearer {id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"message": "Forbidden"})
        );
    }

    // Tokens Cognito would never issue, validly signed with the pool's key: each passes the
    // gateway (it carries one of the route's scopes) and the function refuses it.
    let key = s.moto_key();
    let (header, user_claims) = claims_of(&user);
    let kid = header["kid"].as_str().unwrap();
    let machine_id = s.cognito["COGNITO_MACHINE_CLIENT_ID"].clone();
    let (_, machine_claims) = claims_of(&s.machine_token(&["movies.admin"]));
    let forged = |base: &Value, scope: &str| {
        let mut c = base.clone();
        c["scope"] = json!(scope);
        integration_tests::bad_tokens::sign(kid, &key, &c).unwrap()
    };
    add_movie(&s, &user, json!({"title": "X"})).await;
    for (why, token) in [
        (
            "the user client with the admin scope",
            forged(
                &user_claims,
                "aws.cognito.signin.user.admin crud-master/movies.admin",
            ),
        ),
        (
            "a bare admin scope",
            forged(&machine_claims, "aws.cognito.signin.user.admin admin"),
        ),
        (
            "a suffix of the admin scope",
            forged(
                &machine_claims,
                "aws.cognito.signin.user.admin movies.admin",
            ),
        ),
        (
            "another resource server's admin scope",
            forged(
                &machine_claims,
                "aws.cognito.signin.user.admin other/movies.admin",
            ),
        ),
    ] {
        let (status, body) = s.call("DELETE", "/api/movies", Some(&token), None).await;
        assert_eq!(status, 403, "{why}: {body}");
        assert_eq!(
            body["type"], "/problems/forbidden",
            "{why}: the function refused it"
        );
    }
    let (status, list) = s.call("GET", "/api/movies", Some(&user), None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing was deleted");

    // The machine client with the exact admin scope, and a member of the admin group.
    let machine_admin = s.machine_token(&["movies.admin"]);
    assert_eq!(claims_of(&machine_admin).1["client_id"], machine_id);
    let (status, body) = s
        .call("DELETE", "/api/movies", Some(&machine_admin), None)
        .await;
    assert_eq!((status, body), (200, json!({"deleted": 1})));
    add_movie(&s, &user, json!({"title": "X"})).await;
    let (status, body) = s
        .call("DELETE", "/api/movies", Some(&s.token("admin")), None)
        .await;
    assert_eq!((status, body), (200, json!({"deleted": 1})));
}
