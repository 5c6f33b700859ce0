use super::*;

#[test]
fn env_files_round_trip_and_stay_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("localaws-{}", uuid::Uuid::new_v4().simple()));
    let path = dir.join("cognito.env");
    assert!(
        read_env(&path).unwrap().is_empty(),
        "a missing file is empty"
    );
    let pool = Pool {
        pool_id: "us-east-1_abc".into(),
        client_id: "c1".into(),
        machine_client_id: "m1".into(),
        passwords: [("user".to_owned(), strong_password())].into(),
    };
    write_env(&path, &pool.to_env(), "test").unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        Pool::from_env(&read_env(&path).unwrap()),
        Some(pool.clone())
    );
    assert_eq!(
        pool.issuer(),
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn passwords_meet_the_pool_policy() {
    let p = strong_password();
    assert!(p.len() >= 12);
    assert!(p.chars().any(|c| c.is_ascii_uppercase()));
    assert!(p.chars().any(|c| c.is_ascii_lowercase()));
    assert!(p.chars().any(|c| c.is_ascii_digit()));
    assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()));
    assert_ne!(p, strong_password());
}
